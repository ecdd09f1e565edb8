// A content-addressed store of step outputs. Each entry is a directory named by the step kind and a
// key (sha256 of everything that went into it). Entries are built in a temp directory and renamed
// into place only when complete, so a failed or interrupted step never enters the cache.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat, utimes } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { trackTemp } from "../cleanup.ts";
import { fromSystemError, PodbootError } from "../errors.ts";

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PODBOOT_CACHE) return env.PODBOOT_CACHE;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "podboot");
}

/** sha256 over a canonical JSON rendering of the inputs (object keys sorted). */
export function cacheKey(inputs: unknown): string {
  return createHash("sha256").update(canonicalJson(inputs)).digest("hex");
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export class StepCache {
  constructor(readonly root: string) {}

  entryDir(kind: string, key: string): string {
    return path.join(this.root, "steps", kind, key);
  }

  async has(kind: string, key: string): Promise<boolean> {
    return stat(this.entryDir(kind, key)).then(
      (s) => s.isDirectory(),
      () => false,
    );
  }

  /**
   * Returns the entry directory for (kind, key), running `produce` into a temp directory first
   * when it is missing. `produce` throwing leaves nothing behind.
   */
  async getOrCreate(
    kind: string,
    key: string,
    produce: (dir: string) => Promise<void>,
  ): Promise<{ dir: string; hit: boolean }> {
    const dir = this.entryDir(kind, key);
    if (await this.has(kind, key)) {
      // Dated by last use, so `podboot cache prune --older-than` keeps what builds still need.
      const now = new Date();
      await utimes(dir, now, now).catch(() => undefined);
      return { dir, hit: true };
    }
    const tmp = path.join(
      this.root,
      "tmp",
      `${kind}-${key.slice(0, 12)}-${randomBytes(4).toString("hex")}`,
    );
    const untrack = trackTemp(tmp, path.join(this.root, "trash"));
    await mkdir(tmp, { recursive: true }).catch((error: unknown) => {
      untrack();
      throw fromSystemError(error, tmp) ?? error;
    });
    try {
      await produce(tmp);
      await mkdir(path.dirname(dir), { recursive: true });
      const raced = await rename(tmp, dir).then(
        () => false,
        (error: NodeJS.ErrnoException) => {
          // Another process made the same entry meanwhile (a cache shared without the lock):
          // entries are content-addressed, so theirs is as good as ours.
          if (error.code === "ENOTEMPTY" || error.code === "EEXIST") return true;
          throw error;
        },
      );
      if (raced) {
        await rm(tmp, { recursive: true, force: true });
        return { dir, hit: true };
      }
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      throw fromSystemError(error, tmp) ?? error;
    } finally {
      untrack();
    }
    return { dir, hit: false };
  }

  /**
   * A file missing inside an entry (ENOENT with a path under steps/KIND/KEY/) means the entry was
   * changed outside podboot: it is moved to trash/, so the next build makes it again, and the
   * error says so. Anything else gives undefined.
   */
  async setAsideDamaged(error: unknown): Promise<PodbootError | undefined> {
    const { code, path: missing } = (error ?? {}) as { code?: string; path?: string };
    if ((code !== "ENOENT" && code !== "ENOTDIR") || typeof missing !== "string") return undefined;
    const [kind, key, ...inside] = path
      .relative(path.join(this.root, "steps"), missing)
      .split(path.sep);
    if (!kind || kind === ".." || path.isAbsolute(kind) || !key || inside.length === 0) {
      return undefined;
    }
    const trash = path.join(this.root, "trash");
    await mkdir(trash, { recursive: true });
    const aside = path.join(trash, `${kind}-${key.slice(0, 12)}-${randomBytes(4).toString("hex")}`);
    const moved = await rename(this.entryDir(kind, key), aside).then(
      () => true,
      () => false,
    );
    return new PodbootError(
      `the cache entry steps/${kind}/${key.slice(0, 12)}… is damaged: ${inside.join("/")} is missing (changed outside podboot)`,
      moved
        ? "it has been set aside; run the build again to make it anew"
        : `remove ${this.entryDir(kind, key)} and run the build again`,
      { exitCode: 1 },
    );
  }
}
