import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
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
});
