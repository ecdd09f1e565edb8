// The sha256 of each file of a download pool (the cache's debs/ and sources/) as last hashed, with
// the size, time and inode it had then, kept in the pool's .verified.json: a file unchanged since
// is not hashed again (hashing ~250 MB of packages and ~40 MB of sources was most of a no-op
// build). Any change to a file — a new download, corruption, an edit — changes its size or time,
// and it is hashed again before use.
import { lstat, readFile } from "node:fs/promises";
import path from "node:path";
import { writeAtomically } from "./atomic.ts";
import { sha256File } from "./hash.ts";

interface Known {
  size: number;
  mtimeMs: number;
  ino: number;
  sha256: string;
}

/** One instance per pool directory in a process, so concurrent users share it and its saves. */
const open = new Map<string, Promise<VerifiedPool>>();

export class VerifiedPool {
  private changed = false;
  private saving: Promise<void> = Promise.resolve();
  private constructor(
    private readonly pool: string,
    private readonly known: Record<string, Known>,
  ) {}

  static open(pool: string): Promise<VerifiedPool> {
    let opened = open.get(pool);
    if (!opened) {
      opened = readFile(path.join(pool, ".verified.json"), "utf8")
        .then((text) => JSON.parse(text) as Record<string, Known>)
        .catch(() => ({}))
        .then((known) => new VerifiedPool(pool, known));
      open.set(pool, opened);
    }
    return opened;
  }

  /** The sha256 of `name` (a path inside the pool), hashed only if it changed since last time. */
  async sha256(name: string): Promise<string> {
    const stat = await lstat(path.join(this.pool, name));
    const known = this.known[name];
    if (
      known &&
      known.size === stat.size &&
      known.mtimeMs === stat.mtimeMs &&
      known.ino === stat.ino
    ) {
      return known.sha256;
    }
    const sha256 = await sha256File(path.join(this.pool, name));
    this.known[name] = { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, sha256 };
    this.changed = true;
    return sha256;
  }

  forget(name: string): void {
    this.changed = this.changed || name in this.known;
    delete this.known[name];
  }

  /** Writes what changed; saves from concurrent users run one after the other. */
  save(): Promise<void> {
    if (this.changed) {
      this.changed = false;
      const text = JSON.stringify(this.known);
      this.saving = this.saving.then(() =>
        writeAtomically(path.join(this.pool, ".verified.json"), text),
      );
    }
    return this.saving;
  }
}
