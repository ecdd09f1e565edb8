// Upstream hosts that could not be reached, remembered for a while in the cache, so that a build
// on a machine without (that) network does not spend a second on each git fetch that cannot
// succeed: the source falls through at once, saying since when the host is unreachable.
// `podboot build --refresh` asks again.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { writeAtomically } from "../fs/atomic.ts";

/** How long an unreachable host is not asked again. */
export const REMEMBER_MS = 60 * 60 * 1000;

type Remembered = Record<string, { since: string; why: string }>;

const file = (cacheRoot: string) => path.join(cacheRoot, "unreachable.json");

async function load(cacheRoot: string): Promise<Remembered> {
  return JSON.parse(await readFile(file(cacheRoot), "utf8").catch(() => "{}")) as Remembered;
}

/** Why the host was unreachable, when that was less than REMEMBER_MS ago. */
export async function rememberedUnreachable(
  cacheRoot: string,
  host: string,
  now = Date.now(),
): Promise<{ since: string; why: string } | undefined> {
  const entry = (await load(cacheRoot))[host];
  return entry && now - Date.parse(entry.since) < REMEMBER_MS ? entry : undefined;
}

/**
 * Remembers `host` as unreachable. `why` is git's last line; the repository it names is dropped,
 * because the next build that reads the entry may be fetching another repository of that host.
 */
export async function rememberUnreachable(
  cacheRoot: string,
  host: string,
  why: string,
): Promise<void> {
  const all = await load(cacheRoot);
  all[host] = { since: new Date().toISOString(), why: hostCause(why) };
  await writeAtomically(file(cacheRoot), JSON.stringify(all, null, 2) + "\n");
}

/** A failure that says the host cannot be reached at all (not that the repository lacks a commit). */
export function isUnreachable(message: string): boolean {
  return /Could not resolve host|Failed to connect|Connection refused|Connection timed out|Network is unreachable|No route to host|Temporary failure in name resolution/i.test(
    message,
  );
}

/** git's "unable to access" line without its repository: "Could not resolve host: github.com". */
export function hostCause(line: string): string {
  return line.replace(/^fatal: unable to access '[^']*': /, "");
}

/** The host of a URL, or the URL itself for a path. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}
