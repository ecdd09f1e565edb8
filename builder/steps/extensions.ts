// Turns each planned extension into a squashfs image plus sidecars, like Tiny Core's .tcz:
//   NAME.sqfs   the image          NAME.list   every file it holds
//   NAME.dep    extensions below   NAME.info   what it is, its packages, sizes
//   NAME.sha256 checksum of the image
// The staged tree is the extension's .debs unpacked (a compiled component's files in place of
// its package's), minus what the drop rules remove; the overlay extension is rootfs-overlay/
// plus the files the build generates.
import { lstat, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { cacheKey } from "../cache/store.ts";
import { sha256File } from "../fs/hash.ts";
import { listTree } from "../fs/tree.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import type { ExtensionPlan } from "../plan/extensions.ts";
import type { ExtensionSpec, Recipe } from "../recipe/schema.ts";

type SquashfsCodec = Recipe["compression"]["squashfs"];
import { ref, type Ref } from "../step/inputs.ts";
import { runStep, type StepDefinition } from "../step/step.ts";
import { extractDeb } from "../tools/dpkg-deb.ts";
import { mksquashfs } from "../tools/mksquashfs.ts";
import type { BuiltFile, CompiledComponent } from "./compile.ts";
import { applyDropRules, installRootLinks, replaceWithCompiled } from "./extension-tree.ts";
import { stageOverlay, type OverlayInputs } from "./overlay.ts";
import type { ResolvedPackages } from "./packages.ts";

export interface BuiltExtension {
  name: string;
  dependsOn: string[];
  image: string;
  sidecars: string[];
  sha256: string;
  size: number;
  unpackedSize: number;
  /** The squashfs codec: the extension's own, else the recipe's. */
  compression: string;
  fileCount: number;
  packages: string[];
  cacheHit: boolean;
}

/** 2000-01-01: the file date inside extensions made only of packages and compiled components. */
const PACKAGE_EPOCH = 946684800;

interface PackageInput {
  name: string;
  version: string;
  sha256: string;
  deb: string;
  compiled?: { component: string; tree: string; files: BuiltFile[] };
}

type ExtensionInputs = {
  name: string;
  description: string | undefined;
  /** Keyed by name, version, sha256 and the compiled replacement's key. */
  packages: Ref<PackageInput>[];
  excluded: string[];
  dependsOn: string[];
  drop: string[];
  keep: string[];
  compression: SquashfsCodec;
  blockSize: number;
  epoch: number;
  overlay: Ref<OverlayInputs> | undefined;
};

interface ExtensionInfo {
  size: number;
  unpackedSize: number;
  fileCount: number;
  sha256: string;
}

export const extensionStep: StepDefinition<ExtensionInputs, ExtensionInfo> = {
  kind: "extension",
  version: 5,
  instance: (inputs) => inputs.name,
  async produce(inputs, dir, io) {
    const stage = path.join(dir, "stage");
    await mkdir(stage);
    const packages = inputs.packages.map((p) => p.value);
    for (const pkg of packages) {
      await extractDeb(pkg.deb, stage, io.log);
      if (pkg.compiled) await replaceWithCompiled(stage, pkg.compiled);
    }
    if (inputs.overlay) await stageOverlay(inputs.overlay.value, stage);
    await applyDropRules(stage, inputs.drop, inputs.keep);
    if (packages.some((p) => p.name === "busybox-static")) await installRootLinks(stage, io.log);
    const files = await listTree(stage);
    const image = path.join(dir, `${inputs.name}.sqfs`);
    const options = {
      compression: inputs.compression,
      blockSize: inputs.blockSize,
      epoch: inputs.epoch,
    };
    await mksquashfs(stage, image, options, io.log);
    await rm(stage, { recursive: true });
    const sha256 = await sha256File(image);
    const info = {
      name: inputs.name,
      description: inputs.description ?? "",
      dependsOn: inputs.dependsOn,
      packages: packages.map((p) => ({
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
    };
    const sidecar = (ext: string, text: string) =>
      writeFile(path.join(dir, `${inputs.name}.${ext}`), text);
    await sidecar("list", files.map((f) => f.path).join("\n") + "\n");
    await sidecar("dep", inputs.dependsOn.map((d) => `${d}.sqfs\n`).join(""));
    await sidecar("sha256", `${sha256}  ${inputs.name}.sqfs\n`);
    await sidecar("info", JSON.stringify(info, null, 2) + "\n");
  },
  async read(dir, inputs) {
    return JSON.parse(
      await readFile(path.join(dir, `${inputs.name}.info`), "utf8"),
    ) as ExtensionInfo;
  },
  summary: (info, inputs) =>
    `${inputs.name}: ${(info.size / 1e6).toFixed(1)} MB squashfs (${inputs.compression}) from ${(info.unpackedSize / 1e6).toFixed(1)} MB, ${inputs.packages.length} packages`,
};

export async function buildExtension(
  env: BuildEnv,
  recipe: Recipe,
  spec: ExtensionSpec,
  plan: ExtensionPlan,
  packages: ResolvedPackages,
  inputs: { overlay?: OverlayInputs; replacements: Map<string, CompiledComponent> },
): Promise<BuiltExtension> {
  const compression = spec.compression ?? recipe.compression.squashfs;
  const owned = plan.owns.map((name) => packages.records.get(name)!);
  const run = await runStep(env, extensionStep, {
    name: spec.name,
    description: spec.description,
    packages: owned.map((record) => {
      const compiled = inputs.replacements.get(record.name);
      const value: PackageInput = {
        name: record.name,
        version: record.version,
        sha256: record.sha256,
        deb: packages.debs.get(record.name)!,
        ...(compiled && {
          compiled: { component: compiled.name, tree: compiled.tree, files: compiled.files },
        }),
      };
      return ref(value, [record.name, record.version, record.sha256, compiled?.key ?? null]);
    }),
    excluded: plan.excluded,
    dependsOn: plan.dependsOn,
    drop: [...recipe.drop, ...spec.drop],
    keep: spec.keep,
    compression,
    blockSize: recipe.compression.squashfsBlockSize,
    // Only the overlay carries the build's SOURCE_DATE_EPOCH: the package extensions get a fixed
    // date, so a new commit does not rebuild them (their contents did not change).
    epoch: inputs.overlay ? env.epoch : PACKAGE_EPOCH,
    overlay: inputs.overlay && ref(inputs.overlay, overlayKey(inputs.overlay)),
  });
  return {
    name: spec.name,
    dependsOn: plan.dependsOn,
    image: path.join(run.dir, `${spec.name}.sqfs`),
    sidecars: ["list", "dep", "sha256", "info"].map((s) => path.join(run.dir, `${spec.name}.${s}`)),
    sha256: run.result.sha256,
    size: run.result.size,
    unpackedSize: run.result.unpackedSize,
    compression,
    fileCount: run.result.fileCount,
    packages: owned.map((r) => r.name),
    cacheHit: run.cacheHit,
  };
}

function overlayKey(overlay: OverlayInputs): unknown {
  return {
    files: [...overlay.files.keys()].sort(),
    hashes: [...overlay.files.values()],
    generated: [...overlay.generated.entries()].map(([p, data]) => [
      p,
      cacheKey(data.toString("base64")),
    ]),
  };
}
