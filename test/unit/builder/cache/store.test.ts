import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cacheKey, canonicalJson, StepCache } from "../../../../builder/cache/store.ts";

describe("cache keys", () => {
  it("do not depend on object key order", () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 1, c: 2 }] })).toBe('{"a":[2,{"c":2,"d":1}],"b":1}');
    expect(cacheKey({ x: 1, y: 2 })).toBe(cacheKey({ y: 2, x: 1 }));
    expect(cacheKey({ x: 1 })).not.toBe(cacheKey({ x: 2 }));
  });
});

describe("StepCache", () => {
  it("runs a step once and then hits", async () => {
    const cache = new StepCache(await mkdtemp(path.join(os.tmpdir(), "cache-")));
    let runs = 0;
    const produce = async (dir: string) => {
      runs++;
      await writeFile(path.join(dir, "out.txt"), "done");
    };
    const first = await cache.getOrCreate("kind", "k1", produce);
    const second = await cache.getOrCreate("kind", "k1", produce);
    expect([first.hit, second.hit, runs]).toEqual([false, true, 1]);
    expect(await readFile(path.join(second.dir, "out.txt"), "utf8")).toBe("done");
  });

  it("keeps nothing from a step that fails", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "cache-"));
    const cache = new StepCache(root);
    await expect(
      cache.getOrCreate("kind", "k2", async (dir) => {
        await writeFile(path.join(dir, "half.txt"), "half");
        throw new Error("compiler error");
      }),
    ).rejects.toThrow("compiler error");
    expect(await cache.has("kind", "k2")).toBe(false);
    expect(await readdir(path.join(root, "tmp"))).toEqual([]);
  });

  it("sets aside an entry a file went missing from, and says so in one line", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "cache-"));
    const cache = new StepCache(root);
    const { dir } = await cache.getOrCreate("rootfs", "a".repeat(64), async (tmp) => {
      await mkdir(path.join(tmp, "tree"));
      await writeFile(path.join(tmp, "tree", "init"), "#!/bin/sh\n");
    });
    await rm(path.join(dir, "tree"), { recursive: true });
    const missing = await readFile(path.join(dir, "tree", "init")).catch((error: unknown) => error);
    const damaged = await cache.setAsideDamaged(missing);
    expect(damaged?.oneLine()).toBe(
      "podboot: the cache entry steps/rootfs/aaaaaaaaaaaa… is damaged: tree/init is missing (changed outside podboot) — it has been set aside; run the build again to make it anew",
    );
    expect(damaged?.exitCode).toBe(1);
    expect(await cache.has("rootfs", "a".repeat(64))).toBe(false);
    expect((await readdir(path.join(root, "trash"))).length).toBe(1);
  });

  it("leaves alone what is not a file missing inside an entry", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "cache-"));
    const cache = new StepCache(root);
    const elsewhere = await readFile(path.join(root, "no-such-file")).catch((e: unknown) => e);
    const wholeEntry = Object.assign(new Error("gone"), {
      code: "ENOENT",
      path: cache.entryDir("rootfs", "b".repeat(64)),
    });
    expect(await cache.setAsideDamaged(elsewhere)).toBeUndefined();
    expect(await cache.setAsideDamaged(wholeEntry)).toBeUndefined();
    expect(await cache.setAsideDamaged(new Error("compiler error"))).toBeUndefined();
  });
});
