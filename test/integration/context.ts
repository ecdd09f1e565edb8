// A BuildEnv for integration tests: the default recipe, the user's cache (so build roots and
// packages are shared with real builds), a logger that keeps warnings, step logs in `work`.
import path from "node:path";
import { openEngine } from "../../builder/tools/engine.ts";
import { defaultCacheDir, StepCache } from "../../builder/cache/store.ts";
import { hostDebianMirror } from "../../builder/host/apt-sources.ts";
import type { BuildEnv } from "../../builder/pipeline/env.ts";
import { requestBuild, type BuildRequest } from "../../builder/plan/request.ts";
import { loadRecipeSet } from "../../builder/recipe/set.ts";
import { ConsoleLogger } from "../../builder/report/console.ts";
import type { BuildEvent, Logger } from "../../builder/report/events.ts";
import { AptRoots } from "../../builder/steps/apt-roots.ts";

export const projectDir = path.resolve(import.meta.dirname, "../..");

export async function testEnv(
  work: string,
  options: { cacheDir?: string } = {},
): Promise<{ env: BuildEnv; request: BuildRequest; warnings: string[] }> {
  const set = await loadRecipeSet(path.join(projectDir, "recipes/podboot.yaml"), projectDir);
  const request = requestBuild(set, {});
  const warnings: string[] = [];
  const base = new ConsoleLogger(path.join(work, "logs"), true);
  const log: Logger = {
    emit: (event: BuildEvent) => {
      if (event.type === "warn") warnings.push(event.message);
    },
    stepLog: (step) => base.stepLog(step),
    close: () => undefined,
  };
  const cache = new StepCache(options.cacheDir ?? defaultCacheDir());
  const aptRoots = new AptRoots(cache.root, await hostDebianMirror(), ["main"], log, false);
  const env: BuildEnv = {
    projectDir,
    outDir: path.join(work, "out"),
    cache,
    apt: await aptRoots.get(set.recipe.debian.suite, "deb"),
    aptRoots,
    log,
    engine: await openEngine("runc", cache.root),
    epoch: 0,
    refresh: false,
  };
  return { env, request, warnings };
}
