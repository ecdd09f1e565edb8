// An extension's staged tree: its .debs unpacked (a compiled component's files in place of its
// package's), the overlay's files for the overlay extension, the CA bundle where ca-certificates
// is unpacked, minus what the drop rules remove,
// plus the root's links for the extension with busybox. Cached with a list of every entry and
// the ELF facts of each ELF file, which the image-wide library closure reads
// (plan/library-closure.ts) before the extension is packed (extensions.ts), and with each
// package's inventory for the SBOM (its licenses and /etc files), read as it is unpacked.
import { mkdir, readFile, readlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { readElf } from "../elf/read.ts";
import { sha256 } from "../fs/hash.ts";
import { walkTree } from "../fs/tree.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import type { StagedFile } from "../plan/library-closure.ts";
import { ref, type Ref } from "../step/inputs.ts";
import { runStep, type StepDefinition } from "../step/step.ts";
import { extractDebListing } from "../tools/dpkg-deb.ts";
import type { BuiltFile } from "./compile.ts";
import {
  applyDropRules,
  installRootLinks,
  replaceWithCompiled,
  writeCaBundle,
} from "./extension-tree.ts";
import { unpackedInventory, type PackageInventory } from "./inventory.ts";
import { stageOverlay, type OverlayInputs } from "./overlay.ts";

export interface PackageInput {
  name: string;
  version: string;
  sha256: string;
  deb: string;
  compiled?: { component: string; tree: string; files: BuiltFile[] };
}

type StageInputs = {
  name: string;
  /** Keyed by name, version, sha256 and the compiled replacement's key. */
  packages: Ref<PackageInput>[];
  drop: string[];
  keep: string[];
  overlay: Ref<OverlayInputs> | undefined;
  /** podboot's own tools compiled for this extension (by their compile's key). */
  tools: Ref<{ tree: string; files: BuiltFile[] }>[];
};

export interface Staged {
  name: string;
  /** The tree (not to be changed: it is a cache entry). */
  tree: string;
  files: StagedFile[];
  /** Each package's licenses and /etc files, by package name. */
  inventory: Record<string, PackageInventory>;
  key: string;
}

export const stageStep: StepDefinition<StageInputs, Omit<Staged, "key" | "name">> = {
  kind: "stage",
  version: 2,
  instance: (inputs) => inputs.name,
  async produce(inputs, dir, io) {
    const tree = path.join(dir, "tree");
    await mkdir(tree);
    const packages = inputs.packages.map((p) => p.value);
    const inventory: Record<string, PackageInventory> = {};
    for (const pkg of packages) {
      const files = await extractDebListing(pkg.deb, tree, io.log);
      inventory[pkg.name] = await unpackedInventory(pkg.name, files, tree);
      if (pkg.compiled) await replaceWithCompiled(tree, pkg.compiled);
    }
    for (const tool of inputs.tools) await replaceWithCompiled(tree, tool.value);
    if (inputs.overlay) await stageOverlay(inputs.overlay.value, tree);
    if (packages.some((p) => p.name === "ca-certificates")) await writeCaBundle(tree);
    await applyDropRules(tree, inputs.drop, inputs.keep);
    if (packages.some((p) => p.name === "busybox-static")) await installRootLinks(tree, io.log);
    const files: StagedFile[] = [];
    for (const entry of await walkTree(tree)) {
      const full = path.join(tree, entry.path);
      if (entry.type === "symlink") {
        files.push({ path: entry.path, size: entry.size, link: await readlink(full) });
      } else {
        const elf = entry.type === "file" ? await readElf(full) : undefined;
        files.push({ path: entry.path, size: entry.size, ...(elf && { elf }) });
      }
    }
    await writeFile(path.join(dir, "files.json"), JSON.stringify(files));
    await writeFile(path.join(dir, "inventory.json"), JSON.stringify(inventory));
  },
  async read(dir) {
    const files = JSON.parse(await readFile(path.join(dir, "files.json"), "utf8")) as StagedFile[];
    const inventory = JSON.parse(
      await readFile(path.join(dir, "inventory.json"), "utf8"),
    ) as Record<string, PackageInventory>;
    return { tree: path.join(dir, "tree"), files, inventory };
  },
  summary: (staged, inputs) =>
    `${inputs.name}: ${staged.files.length} files from ${inputs.packages.length} packages`,
};

export async function stageExtension(
  env: BuildEnv,
  inputs: {
    name: string;
    packages: PackageInput[];
    drop: string[];
    keep: string[];
    overlay?: OverlayInputs;
    /** Each package's part of the key: name, version, sha256, compiled replacement's key. */
    keyOf: (pkg: PackageInput) => unknown;
    tools?: { name: string; tree: string; files: BuiltFile[]; key: string }[];
  },
): Promise<Staged> {
  const run = await runStep(env, stageStep, {
    name: inputs.name,
    packages: inputs.packages.map((p) => ref(p, inputs.keyOf(p))),
    drop: inputs.drop,
    keep: inputs.keep,
    overlay: inputs.overlay && ref(inputs.overlay, overlayKey(inputs.overlay)),
    tools: (inputs.tools ?? []).map((t) => ref({ tree: t.tree, files: t.files }, [t.name, t.key])),
  });
  return { name: inputs.name, ...run.result, key: run.key };
}

function overlayKey(overlay: OverlayInputs): unknown {
  return {
    files: [...overlay.files.keys()].sort(),
    hashes: [...overlay.files.values()],
    generated: [...overlay.generated.entries()].map(([p, data]) => [p, sha256(data)]),
    trees: overlay.trees.map((t) => [t.at, t.key]),
  };
}
