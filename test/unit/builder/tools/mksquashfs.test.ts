import { mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  mksquashfs,
  mksquashfsArgs,
  type SquashfsOptions,
  ZSTD_LEVEL,
} from "../../../../builder/tools/mksquashfs.ts";
import { SilentLogger } from "../../../../builder/report/console.ts";

const log = new SilentLogger().stepLog();

/** Packs `dir`/tree into `dir`/`name`.sqfs and returns what its superblock records (unsquashfs -s). */
async function superblockOf(
  dir: string,
  name: string,
  options: Partial<SquashfsOptions> & Pick<SquashfsOptions, "compression">,
): Promise<string> {
  const image = path.join(dir, `${name}.sqfs`);
  const base = { blockSize: 131072, epoch: 946684800 } as const;
  await mksquashfs(path.join(dir, "tree"), image, { ...base, ...options }, log);
  return (await execa("unsquashfs", ["-s", image])).stdout;
}

describe("mksquashfs: xz's x86 filter", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "podboot-mksquashfs-"));
    await mkdir(path.join(dir, "tree"));
    // 256 KB of x86-64 code: node's own binary, cut short so packing takes a moment
    const node = await open(process.execPath);
    const { buffer, bytesRead } = await node.read(Buffer.alloc(262144), 0, 262144, 0);
    await node.close();
    await writeFile(path.join(dir, "tree", "code"), buffer.subarray(0, bytesRead));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** The filters the image's superblock records (unsquashfs -s), "" for none. */
  async function filtersOf(options: Partial<SquashfsOptions>): Promise<string> {
    const name = `xz-${options.xzFilter ?? "default"}`;
    const stdout = await superblockOf(dir, name, { compression: "xz", ...options });
    return /Filters selected: (.*)/.exec(stdout)?.[1]?.trim() ?? "";
  }

  it("tries the x86 filter on every xz block unless the extension says none", async () => {
    expect(await filtersOf({})).toBe("x86");
    expect(await filtersOf({ xzFilter: "x86" })).toBe("x86");
    expect(await filtersOf({ xzFilter: "none" })).toBe("");
  });

  it("packs lz4 in its high-compression mode", async () => {
    const stdout = await superblockOf(dir, "lz4", { compression: "lz4" });
    expect(stdout).toMatch(/Compression lz4/);
    expect(stdout).toMatch(/High Compression option specified \(-Xhc\)/);
  });
});

describe("mksquashfs: zstd's level and the block size", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "podboot-mksquashfs-"));
    await mkdir(path.join(dir, "tree"));
    await writeFile(path.join(dir, "tree", "text"), "podboot ".repeat(65536));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** The level and block size the image's superblock records (unsquashfs -s). */
  async function settingsOf(options: Partial<SquashfsOptions>): Promise<[string, string]> {
    const name = `${options.zstdLevel ?? "default"}-${options.blockSize}`;
    const stdout = await superblockOf(dir, name, { compression: "zstd", ...options });
    return [
      /compression-level (\d+)/.exec(stdout)?.[1] ?? "",
      /Block size (\d+)/.exec(stdout)?.[1] ?? "",
    ];
  }

  it("packs at level 15 unless the extension names another, in the block size it is given", async () => {
    // 15 is mksquashfs' own default too, so the superblock records no level for it
    const args = mksquashfsArgs("tree", "x.sqfs", {
      compression: "zstd",
      blockSize: 4096,
      epoch: 0,
    });
    expect(args.slice(args.indexOf("-Xcompression-level"))).toEqual(["-Xcompression-level", "15"]);
    expect(ZSTD_LEVEL).toBe(15);
    expect(await settingsOf({})).toEqual(["", "131072"]);
    expect(await settingsOf({ zstdLevel: 18, blockSize: 1048576 })).toEqual(["18", "1048576"]);
  });

  it("leaves fragment blocks out when asked (extensions: no fragment cache per mount)", async () => {
    const fragmentsOf = async (options: Partial<SquashfsOptions>, name: string) => {
      const stdout = await superblockOf(dir, name, { compression: "zstd", ...options });
      return Number(/Number of fragments (\d+)/.exec(stdout)?.[1]);
    };
    // the 512 KiB text file's tail (4 blocks of 128K, none left over) and a small file's
    await writeFile(path.join(dir, "tree", "small"), "podboot\n");
    expect(await fragmentsOf({}, "with")).toBe(1);
    expect(await fragmentsOf({ fragments: false }, "without")).toBe(0);
  });
});
