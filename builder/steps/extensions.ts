// Turns each planned extension into a squashfs image plus sidecars, like Tiny Core's .tcz:
//   NAME.sqfs   the image          NAME.list   every file it holds
//   NAME.dep    extensions below   NAME.info   what it is, its packages, sizes
//   NAME.sha256 checksum of the image
// The staged tree is the extension's .debs unpacked, minus what the drop rules remove.
import {
  chmod,
  cp,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  symlink,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import picomatch from "picomatch";
import { cacheKey } from "../cache/store.ts";
import { extractDeb } from "../tools/dpkg-deb.ts";
import { mksquashfs } from "../tools/mksquashfs.ts";
import { run } from "../tools/run.ts";
import type { StepLog } from "../log.ts";
import type { ExtensionPlan } from "../plan/extensions.ts";
import type { ExtensionSpec } from "../recipe/schema.ts";
import type { CompiledComponent } from "./compile.ts";
import type { BuildContext } from "./context.ts";
import { sha256File, type ResolvedPackages } from "./packages.ts";

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

/** Files that a generated step adds to the overlay extension: path in image → content. */
export type GeneratedFiles = Map<string, Buffer>;

const FORMAT = 4; // bump when the staging logic changes so old cache entries are not reused

/** 2000-01-01: the file date inside extensions made only of packages and compiled components. */
const PACKAGE_EPOCH = 946684800;

export interface ExtensionInputs {
  /** rootfs-overlay/ and generated files, for the overlay extension only. */
  overlay?: { files: Map<string, string>; generated: GeneratedFiles };
  /** Components compiled from source, by the Debian package whose files they replace. */
  replacements: Map<string, CompiledComponent>;
}

export async function buildExtension(
  ctx: BuildContext,
  spec: ExtensionSpec,
  plan: ExtensionPlan,
  packages: ResolvedPackages,
  inputs: ExtensionInputs,
): Promise<BuiltExtension> {
  const overlayTree = inputs.overlay;
  const dropRules = [...ctx.recipe.drop, ...spec.drop];
  const owned = plan.owns.map((name) => packages.records.get(name)!);
  const replaced = (name: string) => inputs.replacements.get(name);
  // Only the overlay carries the build's SOURCE_DATE_EPOCH: the package extensions get a fixed
  // date, so a new commit does not rebuild them (their contents did not change).
  const epoch = overlayTree ? ctx.epoch : PACKAGE_EPOCH;
  const compression = spec.compression ?? ctx.recipe.compression.squashfs;
  const key = cacheKey({
    format: FORMAT,
    packages: owned.map((r) => [r.name, r.version, r.sha256, replaced(r.name)?.key ?? null]),
    drop: dropRules,
    keep: spec.keep,
    compression,
    blockSize: ctx.recipe.compression.squashfsBlockSize,
    epoch,
    dependsOn: plan.dependsOn,
    description: spec.description,
    overlay: overlayTree && {
      files: [...overlayTree.files.keys()].sort(),
      hashes: [...overlayTree.files.values()],
      generated: [...overlayTree.generated.entries()].map(([p, data]) => [
        p,
        cacheKey(data.toString("base64")),
      ]),
    },
  });
  const log = ctx.log.stepLog(`extension-${spec.name}`);
  try {
    const { dir, hit } = await ctx.cache.getOrCreate("extension", key, async (tmp) => {
      const stage = path.join(tmp, "stage");
      await mkdir(stage);
      for (const record of owned) {
        await extractDeb(packages.debs.get(record.name)!, stage, log);
        const compiled = replaced(record.name);
        if (compiled) await replaceWithCompiled(stage, compiled);
      }
      if (overlayTree) await stageOverlay(ctx.projectDir, overlayTree, stage);
      await applyDropRules(stage, dropRules, spec.keep);
      if (owned.some((r) => r.name === "busybox-static")) await installRootLinks(stage, log);
      const files = await listTree(stage);
      await mksquashfs(
        stage,
        path.join(tmp, `${spec.name}.sqfs`),
        {
          compression,
          blockSize: ctx.recipe.compression.squashfsBlockSize,
          epoch,
        },
        log,
      );
      await rm(stage, { recursive: true });
      const image = path.join(tmp, `${spec.name}.sqfs`);
      const sha256 = await sha256File(image);
      const size = (await lstat(image)).size;
      const info = {
        name: spec.name,
        description: spec.description ?? "",
        dependsOn: plan.dependsOn,
        packages: owned.map((r) => ({
          name: r.name,
          version: r.version,
          sha256: r.sha256,
          ...(replaced(r.name) && {
            filesBuiltFromSource: {
              component: replaced(r.name)!.name,
              files: replaced(r.name)!.files,
            },
          }),
        })),
        excluded: plan.excluded,
        size,
        unpackedSize: files.reduce((sum, f) => sum + f.size, 0),
        fileCount: files.length,
        sha256,
      };
      await writeFile(
        path.join(tmp, `${spec.name}.list`),
        files.map((f) => f.path).join("\n") + "\n",
      );
      await writeFile(
        path.join(tmp, `${spec.name}.dep`),
        plan.dependsOn.map((d) => `${d}.sqfs\n`).join(""),
      );
      await writeFile(path.join(tmp, `${spec.name}.sha256`), `${sha256}  ${spec.name}.sqfs\n`);
      await writeFile(path.join(tmp, `${spec.name}.info`), JSON.stringify(info, null, 2) + "\n");
    });
    const info = JSON.parse(await readFile(path.join(dir, `${spec.name}.info`), "utf8"));
    ctx.log.step(
      "extension",
      `${spec.name}: ${(info.size / 1e6).toFixed(1)} MB squashfs (${compression}) from ${(info.unpackedSize / 1e6).toFixed(1)} MB, ${owned.length} packages${hit ? " (cached)" : ""}`,
    );
    return {
      name: spec.name,
      dependsOn: plan.dependsOn,
      image: path.join(dir, `${spec.name}.sqfs`),
      sidecars: ["list", "dep", "sha256", "info"].map((s) => path.join(dir, `${spec.name}.${s}`)),
      sha256: info.sha256,
      size: info.size,
      unpackedSize: info.unpackedSize,
      compression,
      fileCount: info.fileCount,
      packages: owned.map((r) => r.name),
      cacheHit: hit,
    };
  } finally {
    await log.close();
  }
}

/** Puts a compiled component's files in place of the same paths from its Debian package. */
async function replaceWithCompiled(stage: string, compiled: CompiledComponent): Promise<void> {
  for (const file of compiled.files) {
    const target = path.join(stage, file.path);
    await rm(target, { force: true });
    await mkdir(path.dirname(target), { recursive: true });
    await cp(path.join(compiled.tree, file.path), target, { preserveTimestamps: false });
  }
}

/**
 * Deletes every file matching a drop rule unless a keep rule matches it, then the directories the
 * deletions left empty (directories that were empty to begin with stay: they are mount points).
 */
export async function applyDropRules(
  root: string,
  drop: string[],
  keep: string[],
): Promise<number> {
  const dropped = picomatch(drop, { dot: true });
  const kept = picomatch(keep.length > 0 ? keep : ["\0never"], { dot: true });
  const touched = new Set<string>();
  let count = 0;
  for (const entry of await listTree(root)) {
    if (dropped(entry.path) && !kept(entry.path)) {
      await rm(path.join(root, entry.path));
      touched.add(path.dirname(entry.path));
      count++;
    }
  }
  // Deepest first, so a parent is looked at after its children are gone.
  const dirs = [...touched].flatMap(ancestors).sort((a, b) => b.length - a.length);
  for (const dir of new Set(dirs)) {
    const full = path.join(root, dir);
    if ((await readdir(full).catch(() => ["?"])).length === 0) await rmdir(full);
  }
  return count;
}

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; d !== "." && d !== ""; d = path.dirname(d)) out.push(d);
  return out;
}

export interface TreeFile {
  path: string;
  size: number;
}

/** Every non-directory entry below root, as sorted relative paths with their sizes. */
export async function listTree(root: string): Promise<TreeFile[]> {
  const out: TreeFile[] = [];
  const walk = async (rel: string) => {
    for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(child);
      else out.push({ path: child, size: (await lstat(path.join(root, child))).size });
    }
  };
  await walk("");
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * The root's merged-/usr links (bin → usr/bin …) and busybox's applet links for every command no
 * package in this extension provides. Other extensions sit above this one and win where they
 * ship a real program of the same name.
 */
async function installRootLinks(stage: string, log: StepLog): Promise<void> {
  for (const [link, target] of [
    ["bin", "usr/bin"],
    ["sbin", "usr/sbin"],
    ["lib", "usr/lib"],
    ["lib64", "usr/lib64"],
  ] as const) {
    const linkPath = path.join(stage, link);
    const existing = await lstat(linkPath).catch(() => undefined);
    if (existing?.isDirectory()) {
      await mkdir(path.join(stage, target), { recursive: true });
      await cp(linkPath, path.join(stage, target), { recursive: true, verbatimSymlinks: true });
      await rm(linkPath, { recursive: true });
    } else if (existing) {
      continue;
    }
    await mkdir(path.join(stage, target), { recursive: true });
    await symlink(target, linkPath);
  }
  const applets = await run(path.join(stage, "usr/bin/busybox"), ["--list-full"], { log });
  for (const applet of applets.split("\n").filter(Boolean)) {
    const rel = applet.replace(/^(s?bin)\//, "usr/$1/");
    const target = path.join(stage, rel);
    if (await lstat(target).catch(() => undefined)) continue;
    await mkdir(path.dirname(target), { recursive: true });
    // Relative, so the link also resolves while the tree is mounted somewhere else (stage 1).
    await symlink(path.relative(path.dirname(target), path.join(stage, "usr/bin/busybox")), target);
  }
}

const PRIVATE_FILES: Record<string, number> = { "etc/shadow": 0o600 };

/** Copies rootfs-overlay/ (without the stage-1 init) and the generated files into the stage. */
async function stageOverlay(
  projectDir: string,
  tree: { files: Map<string, string>; generated: GeneratedFiles },
  stage: string,
): Promise<void> {
  const source = path.join(projectDir, "rootfs-overlay");
  for (const rel of tree.files.keys()) {
    const target = path.join(stage, rel);
    await mkdir(path.dirname(target), { recursive: true });
    if (path.basename(rel) === ".keep") continue;
    await cp(path.join(source, rel), target, { verbatimSymlinks: true, preserveTimestamps: false });
    // git keeps only the executable bit, so private files get their mode here.
    const mode = PRIVATE_FILES[rel];
    if (mode !== undefined) await chmod(target, mode);
  }
  for (const [rel, data] of tree.generated) {
    const target = path.join(stage, rel);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(`${target}.tmp`, data);
    await rename(`${target}.tmp`, target);
  }
}
