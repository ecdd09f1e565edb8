// Packs each planned extension into a squashfs image plus sidecars, like Tiny Core's .tcz:
//   NAME.sqfs   the image          NAME.list   every file it holds
//   NAME.dep    extensions below   NAME.info   what it is, its packages, sizes, what was left out
//   NAME.sha256 checksum of the image
// from the extension's staged tree (stage.ts), leaving out the libraries the image-wide closure
// found unused (plan/library-closure.ts).
import { lstat, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { sha256File } from "../fs/hash.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import type { StagedFile } from "../plan/library-closure.ts";
import type { ExtensionPlan } from "../plan/extensions.ts";
import type { ExtensionSpec, Recipe } from "../recipe/schema.ts";
import { ref, type Ref } from "../step/inputs.ts";
import { runStep, type StepDefinition } from "../step/step.ts";
import { walkTree } from "../fs/tree.ts";
import { mksquashfs, ZSTD_LEVEL } from "../tools/mksquashfs.ts";
import type { BuiltFile } from "./compile.ts";
import type { PackageInput, Staged } from "./stage.ts";

export interface BuiltExtension {
  name: string;
  dependsOn: string[];
  image: string;
  sidecars: string[];
  sha256: string;
  size: number;
  unpackedSize: number;
  /** Kept out of the ISO, for podboot-load (recipe: loadable). */
  loadable: boolean;
  /** The squashfs codec: the extension's own, else the recipe's. */
  compression: string;
  fileCount: number;
  packages: string[];
  cacheHit: boolean;
}

type SquashfsCodec = Recipe["compression"]["squashfs"];

/** 2000-01-01: the file date inside extensions made only of packages and compiled components. */
const PACKAGE_EPOCH = 946684800;

type PackInputs = {
  name: string;
  description: string | undefined;
  staged: Ref<Staged>;
  /** Paths of the staged tree left out: libraries nothing in the image loads. */
  unused: string[];
  /** For the .info: which program needs each library kept. */
  neededBy: Record<string, string>;
  packages: {
    name: string;
    version: string;
    sha256: string;
    compiled?: { component: string; files: BuiltFile[] };
  }[];
  excluded: string[];
  dependsOn: string[];
  compression: SquashfsCodec;
  /** xz only (else null): also try the x86 BCJ filter on every block (x86), or not (none). */
  xzFilter: "x86" | "none" | null;
  /** zstd only (else null): the compression level. */
  zstdLevel: number | null;
  blockSize: number;
  epoch: number;
  /** Subtrees owned by someone other than root (the rootless image store: podboot's uid). */
  owners: Owner[];
};

export interface Owner {
  /** Every entry below this path (relative to the image root). */
  under: string;
  uid: number;
  gid: number;
}

interface ExtensionInfo {
  size: number;
  unpackedSize: number;
  fileCount: number;
  sha256: string;
}

export const extensionStep: StepDefinition<PackInputs, ExtensionInfo> = {
  kind: "extension",
  version: 8,
  instance: (inputs) => inputs.name,
  async produce(inputs, dir, io) {
    const { tree, files: staged } = inputs.staged.value;
    const unused = new Set(inputs.unused);
    const files = staged.filter((f) => !unused.has(f.path));
    const image = path.join(dir, `${inputs.name}.sqfs`);
    const excludeFile = path.join(dir, "unused");
    await writeFile(excludeFile, inputs.unused.map((p) => `${p}\n`).join(""));
    const ownersFile = path.join(dir, "owners");
    if (inputs.owners.length > 0)
      await writeFile(ownersFile, await ownerLines(tree, inputs.owners));
    await mksquashfs(
      tree,
      image,
      {
        compression: inputs.compression,
        ...(inputs.xzFilter && { xzFilter: inputs.xzFilter }),
        ...(inputs.zstdLevel && { zstdLevel: inputs.zstdLevel }),
        blockSize: inputs.blockSize,
        // Extensions stay mounted for the life of the system: no fragment cache per mount (0.25–
        // 0.75 MiB of kernel RAM each at 256K blocks, 3 MiB at 1M) for ~130 KB of ISO in all.
        fragments: false,
        epoch: inputs.epoch,
        excludeFile,
        ...(inputs.owners.length > 0 && { ownersFile }),
      },
      io.log,
    );
    const sha256 = await sha256File(image);
    const info = {
      name: inputs.name,
      description: inputs.description ?? "",
      dependsOn: inputs.dependsOn,
      packages: inputs.packages.map((p) => ({
        name: p.name,
        version: p.version,
        sha256: p.sha256,
        ...(p.compiled && {
          filesBuiltFromSource: { component: p.compiled.component, files: p.compiled.files },
        }),
      })),
      excluded: inputs.excluded,
      size: (await lstat(image)).size,
      unpackedSize: files.reduce((sum, f) => sum + f.size, 0),
      fileCount: files.length,
      sha256,
      librariesNeededBy: inputs.neededBy,
      unusedLibraries: staged
        .filter((f) => unused.has(f.path) && f.link === undefined)
        .map((f) => ({ path: f.path, size: f.size })),
    };
    const sidecar = (ext: string, text: string) =>
      writeFile(path.join(dir, `${inputs.name}.${ext}`), text);
    await sidecar("list", files.map((f) => f.path).join("\n") + "\n");
    await sidecar("dep", inputs.dependsOn.map((d) => `${d}.sqfs\n`).join(""));
    await sidecar("sha256", `${sha256}  ${inputs.name}.sqfs\n`);
    await sidecar("info", JSON.stringify(info, null, 2) + "\n");
  },
  async read(dir, inputs) {
    const info = JSON.parse(await readFile(path.join(dir, `${inputs.name}.info`), "utf8"));
    return info as ExtensionInfo;
  },
  summary: (info, inputs) => {
    const left =
      inputs.unused.length > 0 ? `, ${inputs.unused.length} unused libraries left out` : "";
    return `${inputs.name}: ${(info.size / 1e6).toFixed(1)} MB squashfs (${inputs.compression}) from ${(info.unpackedSize / 1e6).toFixed(1)} MB, ${inputs.packages.length} packages${left}`;
  },
};

/** mksquashfs pseudo lines giving every entry its owner: root, or the owner of its subtree. */
async function ownerLines(tree: string, owners: Owner[]): Promise<string> {
  const lines: string[] = [];
  for (const entry of await walkTree(tree, { dirs: true })) {
    const owner = owners.find(
      (o) => entry.path === o.under || entry.path.startsWith(`${o.under}/`),
    );
    const mode = (entry.mode & 0o7777).toString(8);
    lines.push(`"${entry.path}" m ${mode} ${owner?.uid ?? 0} ${owner?.gid ?? 0}`);
  }
  return lines.join("\n") + "\n";
}

export async function buildExtension(
  env: BuildEnv,
  recipe: Recipe,
  spec: ExtensionSpec,
  plan: ExtensionPlan,
  staged: Staged,
  closure: { unused: StagedFile[]; neededBy: Record<string, string> },
  packages: PackageInput[],
  owners: Owner[] = [],
): Promise<BuiltExtension> {
  const compression = spec.compression ?? recipe.compression.squashfs;
  const run = await runStep(env, extensionStep, {
    name: spec.name,
    description: spec.description,
    staged: ref(staged, staged.key),
    unused: closure.unused.map((f) => f.path).sort(),
    neededBy: closure.neededBy,
    packages: packages.map(({ name, version, sha256, compiled }) => ({
      name,
      version,
      sha256,
      ...(compiled && { compiled: { component: compiled.component, files: compiled.files } }),
    })),
    excluded: plan.excluded,
    dependsOn: plan.dependsOn,
    compression,
    xzFilter: compression === "xz" ? (spec.xzFilter ?? "x86") : null,
    zstdLevel: compression === "zstd" ? (spec.zstdLevel ?? ZSTD_LEVEL) : null,
    blockSize: spec.blockSize ?? recipe.compression.squashfsBlockSize,
    // Only the overlay carries the build's SOURCE_DATE_EPOCH: the package extensions get a fixed
    // date, so a new commit does not rebuild them (their contents did not change).
    epoch: spec.overlay ? env.epoch : PACKAGE_EPOCH,
    owners,
  });
  return {
    name: spec.name,
    dependsOn: plan.dependsOn,
    image: path.join(run.dir, `${spec.name}.sqfs`),
    sidecars: ["list", "dep", "sha256", "info"].map((s) => path.join(run.dir, `${spec.name}.${s}`)),
    sha256: run.result.sha256,
    size: run.result.size,
    unpackedSize: run.result.unpackedSize,
    loadable: spec.loadable,
    compression,
    fileCount: run.result.fileCount,
    packages: packages.map((p) => p.name),
    cacheHit: run.cacheHit,
  };
}
