import { mkdir, mkdtemp, readdir, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { StepCache } from "../../../../builder/cache/store.ts";
import { cacheAreas, formatAreas, pruneCache } from "../../../../builder/commands/cache.ts";

async function cacheWithEntries() {
  const root = await mkdtemp(path.join(os.tmpdir(), "podboot-cache-cmd-"));
  const cache = new StepCache(root);
  for (const key of ["old", "fresh"]) {
    await cache.getOrCreate("extension", key, (dir) => writeFile(path.join(dir, "x"), "12345"));
  }
  const longAgo = new Date(Date.now() - 40 * 24 * 3600 * 1000);
  await utimes(cache.entryDir("extension", "old"), longAgo, longAgo);
  await mkdir(path.join(root, "tmp", "compile-abandoned"), { recursive: true });
  await utimes(path.join(root, "tmp", "compile-abandoned"), longAgo, longAgo);
  return { root, cache };
}

describe("podboot cache", () => {
  it("ls lists each area with its entries and size", async () => {
    const { root } = await cacheWithEntries();
    const areas = await cacheAreas(root);
    expect(areas.find((a) => a.name === "steps/extension")).toMatchObject({
      entries: 2,
      bytes: 10,
    });
    expect(formatAreas(root, areas)).toMatch(/steps\/extension\s+2 entries/);
  });

  it("prune removes entries unused for longer than the limit and abandoned temp dirs", async () => {
    const { root, cache } = await cacheWithEntries();
    const { removed } = await pruneCache(root, { olderThanDays: 30, all: false });
    expect(removed).toBe(2);
    expect(await readdir(path.join(root, "steps", "extension"))).toEqual(["fresh"]);
    expect(await readdir(path.join(root, "tmp"))).toEqual([]);
    // A cache hit marks an entry as used, so it survives the next prune.
    const hit = await cache.getOrCreate("extension", "fresh", async () => undefined);
    expect(hit.hit).toBe(true);
  });

  it("prune --all removes the whole cache (and releases its lock)", async () => {
    const { root } = await cacheWithEntries();
    await pruneCache(root, { olderThanDays: 30, all: true });
    expect(await readdir(root)).toEqual([]);
  });

  it("prune waits for a build holding the cache, naming it", async () => {
    const { root } = await cacheWithEntries();
    const { lockCache } = await import("../../../../builder/cache/lock.ts");
    const build = await lockCache(root, "podboot build");
    const waited: string[] = [];
    const prune = pruneCache(root, { olderThanDays: 30, all: true, onWait: (h) => waited.push(h) });
    await sleep(600);
    expect(await readdir(path.join(root, "steps", "extension"))).toHaveLength(2);
    expect(waited[0]).toMatch(new RegExp(`^pid ${process.pid} \\(podboot build`));
    await build.release();
    await prune;
    expect(await readdir(root)).toEqual([]);
  });
});
