// The step skeleton. A step is declared once: its kind, a version, and a function of its declared
// inputs that writes its outputs into a directory. Everything around it is the skeleton's: the
// cache key (derived from the declared inputs, builder/step/inputs.ts), the cache lookup, the log
// file, timing, the task state in the live list and the "(cached)" line. A step never sees the
// build's context, only its inputs and the small `StepIO` below.
import path from "node:path";
import type { StepCache } from "../cache/store.ts";
import { report, type Logger, type StepLog } from "../report/events.ts";
import { guardInputs, stepKey, type Inputs } from "./inputs.ts";

/** What the skeleton gives a running step besides its inputs. */
export interface StepIO {
  /** The step's log file (out/logs/KIND[-INSTANCE].log) for its tools' output. */
  log: StepLog;
  /** A progress line ("compiling: 1200 objects, 2:30 elapsed"). */
  progress(message: string): void;
  warn(message: string): void;
}

export interface StepDefinition<I extends Inputs, O> {
  /** What the step makes: its cache area (steps/KIND/) and the name in its log lines. */
  kind: string;
  /** Bumped when the step's logic changes, so old cache entries are not reused. */
  version: number;
  /** Which one of its kind this is (a component's name …): log file name and task list. */
  instance?: (inputs: I) => string;
  /** Shown in the live task list while it runs (the long compiles). */
  task?: boolean;
  /** Writes the outputs into `dir` (a temp directory that becomes the cache entry). */
  produce(inputs: I, dir: string, io: StepIO): Promise<void>;
  /** Reads the result back from a cache entry (just made, or found). */
  read(dir: string, inputs: I): Promise<O>;
  /** The line reported when it is done; " (cached)" or the time is appended. */
  summary(result: O, inputs: I): string;
}

export interface StepRun<O> {
  result: O;
  key: string;
  dir: string;
  cacheHit: boolean;
  seconds: number;
}

export interface StepRunner {
  cache: StepCache;
  log: Logger;
}

export async function runStep<I extends Inputs, O>(
  runner: StepRunner,
  step: StepDefinition<I, O>,
  inputs: I,
): Promise<StepRun<O>> {
  const key = stepKey(step.version, inputs);
  const guarded = guardInputs(step.kind, inputs);
  const instance = step.instance?.(guarded);
  const name = instance ? `${step.kind}-${instance}` : step.kind;
  const taskName = instance ?? step.kind;
  const log = runner.log.stepLog(name);
  const io: StepIO = {
    log,
    progress: (message) => report.step(runner.log, step.kind, message),
    warn: (message) => report.warn(runner.log, message),
  };
  const started = Date.now();
  try {
    const { dir, hit } = await runner.cache.getOrCreate(step.kind, key, async (tmp) => {
      if (step.task) report.task(runner.log, taskName, "running");
      await step.produce(guarded, tmp, io);
    });
    const result = await step.read(dir, guarded);
    const seconds = (Date.now() - started) / 1000;
    if (step.task) report.task(runner.log, taskName, hit ? "cached" : "done");
    const done = hit ? " (cached)" : ` in ${seconds.toFixed(1)} s`;
    report.step(runner.log, step.kind, `${step.summary(result, guarded)}${done}`);
    return { result, key, dir, cacheHit: hit, seconds };
  } catch (error) {
    if (step.task) report.task(runner.log, taskName, "failed");
    throw error;
  } finally {
    await log.close();
  }
}

/** A path inside a step's cache entry. */
export function entryPath(run: { dir: string }, ...parts: string[]): string {
  return path.join(run.dir, ...parts);
}
