// Stream compressors used for the initramfs and for kernel modules, as external programs.
import { execa } from "execa";
import type { StepLog } from "../report/events.ts";
import { run } from "./run.ts";

export type Codec = "none" | "zstd" | "xz" | "gzip";

const SUFFIX: Record<Codec, string> = { none: "", zstd: ".zst", xz: ".xz", gzip: ".gz" };

/** The path compressFile will write, so a caller can register it before it exists. */
export function compressedPath(file: string, codec: Codec): string {
  return `${file}${SUFFIX[codec]}`;
}

/** Compresses file in place to file+suffix and returns the new path ("none" returns file). */
export async function compressFile(file: string, codec: Codec, log: StepLog): Promise<string> {
  switch (codec) {
    case "none":
      return file;
    case "zstd":
      // Level 9, not 19: the archive is mostly squashfs images that are compressed already, so
      // 19 saves 0.3 MB of 50 MB and costs 18 s more (measured on the default image).
      await run("zstd", ["-q", "-9", "-T2", "--rm", "-f", file, "-o", `${file}.zst`], { log });
      return `${file}.zst`;
    case "xz":
      // The kernel's xz decoder wants CRC32 checks, not xz's default CRC64.
      await run("xz", ["-q", "-f", "--check=crc32", "-T2", "-9", file], { log });
      return `${file}.xz`;
    case "gzip":
      await run("gzip", ["-q", "-f", "-n", "-9", file], { log });
      return `${file}.gz`;
  }
}

/** Decompresses a .xz or .zst file in place (file.ko.xz → file.ko) and returns the new path. */
export async function decompressInPlace(file: string, log: StepLog): Promise<string> {
  if (file.endsWith(".xz")) {
    await run("xz", ["-d", "-q", "-f", file], { log });
    return file.slice(0, -3);
  }
  if (file.endsWith(".zst")) {
    await run("zstd", ["-d", "-q", "--rm", "-f", file], { log });
    return file.slice(0, -4);
  }
  return file;
}

/** The decompressed content of a zstd, xz or gzip file (an initramfs: tens of MB). */
export async function decompressToBuffer(
  file: string,
  codec: Exclude<Codec, "none">,
): Promise<Buffer> {
  const { stdout } = await execa(codec, ["-dc", file], { encoding: "buffer", maxBuffer: 2 ** 31 });
  return Buffer.from(stdout);
}
