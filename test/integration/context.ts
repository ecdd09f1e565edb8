// A BuildContext for integration tests: the default recipe, the user's cache (so build roots and
// packages are shared with real builds), a quiet logger that keeps warnings, step logs in `work`.
import path from "node:path";
import { openEngine } from "../../builder/tools/engine.ts";
import { defaultCacheDir, StepCache } from "../../builder/cache/store.ts";
import { hostDebianMirror } from "../../builder/host/apt-sources.ts";
import { ConsoleLogger, type Logger } from "../../builder/log.ts";
import { loadRecipe } from "../../builder/recipe/load.ts";
import { AptRoots } from "../../builder/steps/apt-roots.ts";
import type { BuildContext } from "../../builder/steps/context.ts";

export const projectDir = path.resolve(import.meta.dirname, "../..");

export async function testContext(
  work: string,
  options: { projectDir?: string } = {},
): Promise<{ ctx: BuildContext; warnings: string[] }> {
  const { recipe } = await loadRecipe(path.join(projectDir, "recipes/podboot.yaml"));
  const warnings: string[] = [];
  const base = new ConsoleLogger(path.join(work, "logs"), true);
  const log: Logger = {
    step: () => undefined,
    info: () => undefined,
    warn: (message) => void warnings.push(message),
    task: () => undefined,
    stepLog: (step) => base.stepLog(step),
    close: () => undefined,
  };
  const cache = new StepCache(defaultCacheDir());
  const aptRoots = new AptRoots(cache.root, await hostDebianMirror(), ["main"], log, false);
  const ctx: BuildContext = {
    recipe,
    recipeSha256: "test",
    projectDir: options.projectDir ?? projectDir,
    outDir: path.join(work, "out"),
    cache,
    apt: await aptRoots.get(recipe.debian.suite, "deb"),
    aptRoots,
    log,
    engine: await openEngine("runc", cache.root),
    epoch: 0,
  };
  return { ctx, warnings };
}
