// The overlay extension's inputs: rootfs-overlay/ (every file by content hash, without stage 1's
// init, which goes into the initramfs), the files the build generates (/etc/podboot-release) and
// the trees it makes (the baked images' store).
import { chmod, cp, mkdir, readFile, readlink, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { sha256 } from "../fs/hash.ts";
import { walkTree } from "../fs/tree.ts";

/** Path in the image → content, written by the build itself. */
export type GeneratedFiles = Map<string, Buffer>;

export interface OverlayInputs {
  /** rootfs-overlay/ */
  dir: string;
  /** Relative path → sha256 of mode bits and content (or link target), sorted by path. */
  files: Map<string, string>;
  generated: GeneratedFiles;
  /** Directories copied in whole (modes and links kept): path in the image → a cache entry. */
  trees: { at: string; dir: string; key: string }[];
}

/** Written into the overlay by the build: what it is, for the banner and `podboot-status`. */
export const RELEASE_FILE = "etc/podboot-release";

/** rootfs-overlay/ as relative path → sha256 of content (or link target), without the init. */
export async function overlayFiles(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await walkTree(dir)) {
    if (entry.path === "init") continue;
    const full = path.join(dir, entry.path);
    const content =
      entry.type === "symlink" ? `link:${await readlink(full)}` : await readFile(full);
    files.set(
      entry.path,
      sha256(Buffer.concat([Buffer.from(String(entry.mode & 0o111)), Buffer.from(content)])),
    );
  }
  return files;
}

const PRIVATE_FILES: Record<string, number> = { "etc/shadow": 0o600 };

/** Copies rootfs-overlay/ (without the stage-1 init) and the generated files into the stage. */
export async function stageOverlay(overlay: OverlayInputs, stage: string): Promise<void> {
  for (const rel of overlay.files.keys()) {
    const target = path.join(stage, rel);
    await mkdir(path.dirname(target), { recursive: true });
    if (path.basename(rel) === ".keep") continue;
    await cp(path.join(overlay.dir, rel), target, {
      verbatimSymlinks: true,
      preserveTimestamps: false,
    });
    // git keeps only the executable bit, so private files get their mode here.
    const mode = PRIVATE_FILES[rel];
    if (mode !== undefined) await chmod(target, mode);
  }
  for (const tree of overlay.trees) {
    const target = path.join(stage, tree.at);
    await mkdir(path.dirname(target), { recursive: true });
    await cp(tree.dir, target, {
      recursive: true,
      verbatimSymlinks: true,
      preserveTimestamps: false,
    });
  }
  for (const [rel, data] of overlay.generated) {
    const target = path.join(stage, rel);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(`${target}.tmp`, data);
    await rename(`${target}.tmp`, target);
  }
}

/** /etc/podboot-release: the image, its kernel and the versions of what ships. */
export function releaseFile(fields: Record<string, string>): Buffer {
  return Buffer.from(
    Object.entries(fields)
      .map(([k, v]) => `${k}=${v}`)
      .concat("")
      .join("\n"),
  );
}
