// The services a build's phases share: where outputs and the cache are, the logger, the build
// container engine, apt's indexes, the build date. The resolve/produce/publish functions take it
// to prepare each step's declared inputs; steps themselves never see it (builder/step/step.ts).
import type { StepCache } from "../cache/store.ts";
import type { Logger } from "../report/events.ts";
import type { StepRunner } from "../step/step.ts";
import type { AptRoot } from "../tools/apt-root.ts";
import type { Engine } from "../tools/engine.ts";
import type { AptRoots } from "../steps/apt-roots.ts";

export interface BuildEnv extends StepRunner {
  /** The project checkout: rootfs-overlay/, iso/, kernel-config/. */
  projectDir: string;
  outDir: string;
  cache: StepCache;
  log: Logger;
  /** The image suite's binary indexes. */
  apt: AptRoot;
  /** Any suite's binary or source indexes, opened on first use. */
  aptRoots: AptRoots;
  /** Runs the build containers (runc unless --engine says otherwise). */
  engine: Engine;
  /** Seconds since the epoch stamped on every file of the image (SOURCE_DATE_EPOCH). */
  epoch: number;
  /** --refresh: ask the network again (package lists, upstreams remembered as unreachable). */
  refresh: boolean;
}
