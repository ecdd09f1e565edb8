// What every build step gets: the recipe, where things go, the cache and the logger.
import type { Recipe } from "../recipe/schema.ts";
import type { StepCache } from "../cache/store.ts";
import type { Logger } from "../log.ts";
import type { AptRoot } from "../tools/apt.ts";
import type { AptRoots } from "./apt-roots.ts";
import type { Engine } from "../tools/engine.ts";

export interface BuildContext {
  recipe: Recipe;
  recipeSha256: string;
  /** Directory holding rootfs-overlay/ and recipes/ (the project checkout). */
  projectDir: string;
  outDir: string;
  cache: StepCache;
  /** The image suite's binary indexes. */
  apt: AptRoot;
  /** Any suite's binary or source indexes, opened on first use. */
  aptRoots: AptRoots;
  log: Logger;
  /** Runs the build containers (runc unless --engine says otherwise). */
  engine: Engine;
  /** Seconds since the epoch stamped on every file (SOURCE_DATE_EPOCH). */
  epoch: number;
}
