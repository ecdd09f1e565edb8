// One writer at a time per cache: a build (or `podboot cache prune`) holds CACHE/lock for as long
// as it may write or delete entries. A second one waits, saying who holds the lock, instead of
// racing apt's state directories or deleting an entry in use. The lock file names its holder
// (pid, command, start time); a holder that died without releasing it (SIGKILL, power cut) is
// noticed from its pid and its lock taken over.
import { hostname } from "node:os";
import { link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { onInterrupt } from "../cleanup.ts";
import { rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export interface CacheLock {
  release(): Promise<void>;
}

const POLL_MS = 300;

export function lockFile(cacheRoot: string): string {
  return path.join(cacheRoot, "lock");
}

/**
 * Takes the cache's lock, waiting while another live process holds it. `onWait` is told once
 * who holds it; `timeoutMs` (default: no limit) turns a long wait into an error.
 */
export async function lockCache(
  cacheRoot: string,
  command: string,
  options: { onWait?: (holder: LockHolder) => void; timeoutMs?: number } = {},
): Promise<CacheLock> {
  await mkdir(cacheRoot, { recursive: true });
  const file = lockFile(cacheRoot);
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    command,
    since: new Date().toISOString(),
  };
  const mine = `${file}.${process.pid}`;
  await writeFile(mine, JSON.stringify(me) + "\n");
  const deadline = Date.now() + (options.timeoutMs ?? Infinity);
  let told = false;
  try {
    for (;;) {
      // link() fails when the lock exists: taking it is one atomic step.
      const taken = await link(mine, file).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code === "EEXIST") return false;
          throw error;
        },
      );
      if (taken) break;
      const holder = await readHolder(file);
      if (holder && !alive(holder)) {
        await takeOverStale(file, holder);
        continue;
      }
      if (holder && !told) {
        options.onWait?.(holder);
        told = true;
      }
      if (Date.now() > deadline) throw new LockTimeout(holder);
      await sleep(POLL_MS);
    }
  } finally {
    await rm(mine, { force: true });
  }
  const forget = onInterrupt(() => rmSync(file, { force: true }), { last: true });
  return {
    release: async () => {
      forget();
      const holder = await readHolder(file);
      if (holder?.pid === process.pid) await rm(file, { force: true });
    },
  };
}

export class LockTimeout extends Error {
  constructor(readonly holder: LockHolder | undefined) {
    super(`the cache is locked by ${describeHolder(holder)}`);
  }
}

export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return "another process";
  return `pid ${holder.pid} (${holder.command}, since ${holder.since})`;
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as LockHolder;
  } catch {
    // Half-written by a holder killed between create and write: treat as dead.
    return { pid: -1, host: hostname(), command: "unknown", since: "" };
  }
}

function alive(holder: LockHolder): boolean {
  // A lock from another machine (a cache on a shared filesystem) cannot be checked: respect it.
  if (holder.host !== hostname()) return true;
  if (holder.pid <= 0) return false;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes a dead holder's lock. It is renamed aside first and checked: if another waiter took
 * over in between, the file renamed is that waiter's live lock, and it is put back.
 */
async function takeOverStale(file: string, dead: LockHolder): Promise<void> {
  const aside = `${file}.stale.${process.pid}`;
  const moved = await rename(file, aside).then(
    () => true,
    () => false,
  );
  if (!moved) return;
  const was = await readHolder(aside);
  if (was && was.pid !== dead.pid) await link(aside, file).catch(() => undefined);
  await rm(aside, { force: true });
}
