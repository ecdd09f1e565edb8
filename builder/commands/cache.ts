// `podboot cache ls|prune`: what the cache holds and removing what is no longer used. Step
// entries are dated by their last use (a cache hit touches them), so `prune --older-than DAYS`
// keeps whatever recent builds needed.
import { lstat, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { describeHolder, lockCache } from "../cache/lock.ts";

export interface CacheArea {
  name: string;
  entries: number;
  bytes: number;
}

async function treeSize(dir: string): Promise<number> {
  const info = await lstat(dir).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(dir)) total += await treeSize(path.join(dir, entry));
  return total;
}

/** The cache's areas: apt state, the .deb and source pools, and each kind of step output. */
export async function cacheAreas(root: string): Promise<CacheArea[]> {
  const areas: CacheArea[] = [];
  for (const name of (await readdir(root).catch(() => [] as string[])).sort()) {
    if (name === "steps") {
      for (const kind of (await readdir(path.join(root, "steps"))).sort()) {
        const dir = path.join(root, "steps", kind);
        areas.push({
          name: `steps/${kind}`,
          entries: (await readdir(dir)).length,
          bytes: await treeSize(dir),
        });
      }
    } else {
      const dir = path.join(root, name);
      const entries = (await stat(dir)).isDirectory() ? (await readdir(dir)).length : 1;
      areas.push({ name, entries, bytes: await treeSize(dir) });
    }
  }
  return areas;
}

export function formatAreas(root: string, areas: CacheArea[]): string {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  const total = areas.reduce((sum, a) => sum + a.bytes, 0);
  return [
    `cache ${root} (${mb(total)})`,
    ...areas.map(
      (a) =>
        `  ${a.name.padEnd(22)} ${String(a.entries).padStart(5)} entries  ${mb(a.bytes).padStart(10)}`,
    ),
    "",
  ].join("\n");
}

/**
 * Removes step entries unused for `olderThanDays` (every one with `all`) and stale temp dirs,
 * holding the cache's lock: a build using the cache finishes first (`onWait` is told who it is).
 */
export async function pruneCache(
  root: string,
  options: { olderThanDays: number; all: boolean; onWait?: (holder: string) => void },
): Promise<{ removed: number; bytes: number }> {
  const lock = await lockCache(root, "podboot cache prune", {
    onWait: (holder) => options.onWait?.(describeHolder(holder)),
  });
  try {
    return await prune(root, options);
  } finally {
    await lock.release();
  }
}

async function prune(
  root: string,
  options: { olderThanDays: number; all: boolean },
): Promise<{ removed: number; bytes: number }> {
  if (options.all) {
    // Everything but the lock this command holds.
    let bytes = 0;
    for (const name of await readdir(root)) {
      if (name === "lock") continue;
      bytes += await treeSize(path.join(root, name));
      await rm(path.join(root, name), { recursive: true, force: true });
    }
    return { removed: 1, bytes };
  }
  const cutoff = Date.now() - options.olderThanDays * 24 * 3600 * 1000;
  let removed = 0;
  let bytes = 0;
  const stepsDir = path.join(root, "steps");
  for (const kind of await readdir(stepsDir).catch(() => [] as string[])) {
    for (const key of await readdir(path.join(stepsDir, kind))) {
      const entry = path.join(stepsDir, kind, key);
      if ((await stat(entry)).mtimeMs >= cutoff) continue;
      bytes += await treeSize(entry);
      await rm(entry, { recursive: true, force: true });
      removed++;
    }
  }
  // Left-over temp directories of interrupted runs (with the lock held, no build is running).
  for (const dir of ["tmp", "trash"]) {
    for (const name of await readdir(path.join(root, dir)).catch(() => [] as string[])) {
      const entry = path.join(root, dir, name);
      bytes += await treeSize(entry);
      await rm(entry, { recursive: true, force: true });
      removed++;
    }
  }
  return { removed, bytes };
}
