// The host phase, after every input has been checked: the logger, the host's tools (installed by
// the preflight), the cache and its lock, the build container engine and the Debian indexes.
// Nothing before this phase writes anything; everything after it may.
import { mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { lockCache, describeHolder } from "../cache/lock.ts";
import { defaultCacheDir, StepCache } from "../cache/store.ts";
import { fromSystemError, PodbootError } from "../errors.ts";
import { hostDebianMirror } from "../host/apt-sources.ts";
import { preflight } from "../host/preflight.ts";
import type { Recipe } from "../recipe/schema.ts";
import { ConsoleLogger, TtyLogger } from "../report/console.ts";
import { report, type Logger } from "../report/events.ts";
import { AptRoots } from "../steps/apt-roots.ts";
import { openEngine, type EngineName } from "../tools/engine.ts";
import { gitCommitTime } from "../tools/git.ts";
import type { BuildEnv } from "./env.ts";

export interface HostOptions {
  outDir: string;
  projectDir: string;
  cacheDir?: string;
  mirror?: string;
  refresh?: boolean;
  quiet?: boolean;
  logger?: Logger;
  engine?: EngineName;
}

export interface OpenBuildEnv extends BuildEnv {
  close(): Promise<void>;
}

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new PodbootError(
      `${what} needs root (it installs host packages and writes device-owned files)`,
      "run it as root, e.g. with sudo",
    );
  }
}

export async function openBuildEnv(options: HostOptions, recipe: Recipe): Promise<OpenBuildEnv> {
  // The checkout's last commit date (a git process) is asked for while the rest is set up.
  const epoch = sourceDateEpoch(options.projectDir);
  const logDir = path.join(options.outDir, "logs");
  await mkdir(options.outDir, { recursive: true }).catch((error: unknown) => {
    throw fromSystemError(error, options.outDir) ?? error;
  });
  await rm(logDir, { recursive: true, force: true });
  // A live task list on a terminal; plain lines for CI, pipes and --quiet.
  const live = process.stderr.isTTY && !options.quiet && !process.env.CI;
  const log =
    options.logger ?? (live ? new TtyLogger(logDir) : new ConsoleLogger(logDir, options.quiet));
  await preflight(["build"], { install: true, say: (line) => report.info(log, line) });
  const cache = new StepCache(options.cacheDir ?? defaultCacheDir());
  const lock = await lockCache(cache.root, "podboot build", {
    onWait: (holder) =>
      report.info(
        log,
        `waiting for the cache ${cache.root}: it is in use by ${describeHolder(holder)}`,
      ),
  });
  try {
    // Holding the lock, no other build is running: temp directories left by a killed one go, and
    // what an interrupted one moved to trash/ (its background delete may have been cut short).
    for (const dir of ["tmp", "trash"]) {
      for (const stale of await readdir(path.join(cache.root, dir)).catch(() => [] as string[])) {
        await rm(path.join(cache.root, dir, stale), { recursive: true, force: true });
      }
    }
    const engine = await openEngine(options.engine ?? "runc", cache.root);
    const mirror = options.mirror ?? recipe.debian.mirror ?? (await hostDebianMirror());
    const aptRoots = new AptRoots(
      cache.root,
      mirror,
      recipe.debian.components,
      log,
      options.refresh ?? false,
    );
    return {
      projectDir: options.projectDir,
      outDir: options.outDir,
      cache,
      log,
      engine,
      aptRoots,
      apt: await aptRoots.get(recipe.debian.suite, "deb"),
      epoch: await epoch,
      refresh: options.refresh ?? false,
      close: async () => {
        log.close();
        await lock.release();
      },
    };
  } catch (error) {
    log.close();
    await lock.release();
    throw error;
  }
}

/** SOURCE_DATE_EPOCH: the environment's, else the checkout's last commit, else 0. */
export async function sourceDateEpoch(projectDir: string): Promise<number> {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv && /^[0-9]+$/.test(fromEnv)) return Number(fromEnv);
  return (await gitCommitTime(projectDir)) ?? 0;
}
