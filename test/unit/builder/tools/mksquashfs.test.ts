import { mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mksquashfs, type SquashfsOptions } from "../../../../builder/tools/mksquashfs.ts";

const log = { path: "/dev/null", write: () => undefined, close: async () => undefined };

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
    const image = path.join(dir, `${options.compression}-${options.xzFilter ?? "default"}.sqfs`);
    const base = { compression: "xz", blockSize: 131072, epoch: 946684800 } as const;
    await mksquashfs(path.join(dir, "tree"), image, { ...base, ...options }, log);
    const { stdout } = await execa("unsquashfs", ["-s", image]);
    return /Filters selected: (.*)/.exec(stdout)?.[1]?.trim() ?? "";
  }

  it("tries the x86 filter on every xz block unless the extension says none", async () => {
    expect(await filtersOf({})).toBe("x86");
    expect(await filtersOf({ xzFilter: "x86" })).toBe("x86");
    expect(await filtersOf({ xzFilter: "none" })).toBe("");
  });
});
