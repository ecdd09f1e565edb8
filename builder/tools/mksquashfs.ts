// mksquashfs with the options that make an image reproducible: root-owned files, fixed times,
// no append. For xz, each block is also tried with the x86 BCJ filter (extensions are mostly
// x86-64 code) unless the extension's recipe says xzFilter: none. lz4 is always packed in its
// high-compression mode: smaller, and it reads back as fast.
import type { StepLog } from "../report/events.ts";
import { run } from "./run.ts";

export interface SquashfsOptions {
  compression: "xz" | "zstd" | "gzip" | "lzo" | "lz4";
  /** xz only: none packs each block once, without trying the x86 BCJ filter as well. */
  xzFilter?: "x86" | "none";
  /** zstd only: the level (default ZSTD_LEVEL). */
  zstdLevel?: number;
  blockSize: number;
  /**
   * false packs each file's tail in a block of its own instead of sharing fragment blocks. The
   * kernel keeps a cache of up to 3 fragment blocks for every mounted image with fragments (3 ×
   * the block size of unreclaimable RAM); without them an image grows by a few KB per file tail.
   */
  fragments?: boolean;
  epoch: number;
  /** A file listing paths (relative to the source) to leave out, one per line. */
  excludeFile?: string;
  /**
   * A pseudo file setting the mode and owner of every entry (`PATH m MODE UID GID` lines), for
   * an image whose files are not all root's; without it, everything is owned by root.
   */
  ownersFile?: string;
}

/**
 * zstd's default level, measured on the podman extension's tree at 256K blocks (2 cores): level
 * 19 17.12 MB in 5.8 s, 17 17.15 MB in 3.8 s, 15 17.24 MB in 2.8 s. A cold --prebuilt build is
 * 15-20 % quicker at 15, for 0.23 MB more ISO (0.5 %); reading it back costs the same at any level.
 */
export const ZSTD_LEVEL = 15;

export function mksquashfsArgs(source: string, image: string, options: SquashfsOptions): string[] {
  const args = [
    source,
    image,
    "-noappend",
    "-quiet",
    "-no-progress",
    "-comp",
    options.compression,
    "-b",
    String(options.blockSize),
    ...(options.ownersFile ? ["-pf", options.ownersFile] : ["-all-root"]),
    "-mkfs-time",
    String(options.epoch),
    "-all-time",
    String(options.epoch),
    "-processors",
    "2",
  ];
  if (options.fragments === false) args.push("-no-fragments");
  if (options.excludeFile) args.push("-ef", options.excludeFile);
  if (options.compression === "xz" && options.xzFilter !== "none") args.push("-Xbcj", "x86");
  if (options.compression === "lz4") args.push("-Xhc");
  if (options.compression === "zstd")
    args.push("-Xcompression-level", String(options.zstdLevel ?? ZSTD_LEVEL));
  return args;
}

export async function mksquashfs(
  source: string,
  image: string,
  options: SquashfsOptions,
  log: StepLog,
): Promise<void> {
  // mksquashfs refuses -mkfs-time while SOURCE_DATE_EPOCH is set (a reproducible-builds user
  // exports it); the dates come from the options alone.
  await run("mksquashfs", mksquashfsArgs(source, image, options), {
    log,
    unsetEnv: ["SOURCE_DATE_EPOCH"],
  });
}
