// What fills an image, from what a build recorded: pure, so `podboot size` and its tests share it
// without a build. The command (size.ts) reads the files and prints or draws the report.
import type { Manifest } from "../publish/manifest.ts";

export interface SizeReport {
  iso: { file: string; size: number };
  initramfs: { size: number; compression: string };
  /** The kernel image's bytes (absent from reports of manifests without it). */
  kernel?: number;
  /** Stage 1's files (busybox, init …), unpacked, largest first. */
  stage1: ImageFile[];
  extensions: {
    name: string;
    size: number;
    compression: string;
    unpackedSize: number;
    files: number;
    /** Libraries left out because nothing in the image loads them (the build's closure). */
    unused: { files: number; bytes: number };
    /** Beside the ISO (out/extensions/), not in it. */
    loadable: boolean;
  }[];
  /** Bytes of regular files each package puts in the image (after drop rules). */
  packages: { name: string; extension: string; bytes: number; files: number }[];
  largest: { path: string; extension: string; owner: string; size: number; neededBy?: string }[];
}

/** What each extension's .info says of its libraries: who needs each one, what was left out. */
export interface LibraryFacts {
  neededBy: Map<string, string>;
  unused: Map<string, { files: number; bytes: number }>;
}

/** A regular file in an extension: path relative to the image root, size in bytes. */
export interface ImageFile {
  path: string;
  size: number;
}

/** Regular files of `unsquashfs -lln -d R IMAGE` output (links, directories and devices skipped). */
export function parseSquashfsListing(listing: string): ImageFile[] {
  const files: ImageFile[] = [];
  for (const line of listing.split("\n")) {
    const match = /^-\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+R\/(.+)$/.exec(line);
    if (match) files.push({ path: match[2]!, size: Number(match[1]) });
  }
  return files;
}

/** The figures of a report from its parts: pure, so it is unit-tested without a build. */
export function summarize(
  manifest: Pick<Manifest, "iso" | "initramfs" | "extensions"> & {
    kernel?: Pick<Manifest["kernel"], "size">;
  },
  files: Map<string, ImageFile[]>,
  owners: Map<string, { name: string; extension: string }>,
  top: number,
  libraries: LibraryFacts = { neededBy: new Map(), unused: new Map() },
  stage1: ImageFile[] = [],
): SizeReport {
  const packages = new Map<string, SizeReport["packages"][number]>();
  const all: SizeReport["largest"] = [];
  for (const [extension, list] of files) {
    for (const file of list) {
      const owner = owners.get(file.path);
      const name =
        owner && owner.extension === extension ? owner.name : `(${extension}: not from a package)`;
      const entry = packages.get(name) ?? { name, extension, bytes: 0, files: 0 };
      entry.bytes += file.size;
      entry.files += 1;
      packages.set(name, entry);
      const neededBy = libraries.neededBy.get(file.path);
      all.push({
        path: file.path,
        extension,
        owner: name,
        size: file.size,
        ...(neededBy && { neededBy }),
      });
    }
  }
  const bySize = <T extends { size?: number; bytes?: number }>(a: T, b: T) =>
    (b.size ?? b.bytes ?? 0) - (a.size ?? a.bytes ?? 0);
  return {
    iso: { file: manifest.iso.file, size: manifest.iso.size },
    initramfs: { size: manifest.initramfs.size, compression: manifest.initramfs.compression },
    ...(manifest.kernel && { kernel: manifest.kernel.size }),
    stage1: [...stage1].sort(bySize),
    extensions: manifest.extensions
      .map((e) => ({
        name: e.name,
        size: e.size,
        // Builds before per-extension codecs did not record one.
        compression: e.compression ?? "?",
        unpackedSize: e.unpackedSize,
        files: e.files,
        unused: libraries.unused.get(e.name) ?? { files: 0, bytes: 0 },
        loadable: e.loadable === true,
      }))
      .sort(bySize),
    packages: [...packages.values()].sort(bySize),
    largest: all.sort(bySize).slice(0, top),
  };
}
