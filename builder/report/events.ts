// What a build reports, as typed events. Steps and phases emit them; a logger decides how they
// look (builder/report/console.ts: plain lines for CI and pipes, a live task list on a terminal),
// so the presentation changes without touching the steps.

export type TaskState = "queued" | "running" | "cached" | "done" | "failed" | "prebuilt";

export type BuildEvent =
  /** A line about a step's progress or result ("kernel", "Linux 6.12 … (cached)"). */
  | { type: "step"; step: string; message: string }
  /** A task of the live list changed state (compiles and the kernel). */
  | { type: "task"; task: string; state: TaskState; detail?: string }
  | { type: "info"; message: string }
  | { type: "warn"; message: string };

/** A writable log file for one step's tool output (out/logs/STEP.log). */
export interface StepLog {
  readonly path: string;
  write(text: string): void;
  close(): Promise<void>;
}

/**
 * A log for one of several calls running at once: its lines are kept together and written to
 * `log` in one piece when the call ends.
 */
export function togetherIn(log: StepLog): StepLog {
  let text = "";
  return {
    path: log.path,
    write: (more) => void (text += more),
    close: async () => log.write(text),
  };
}

export interface Logger {
  emit(event: BuildEvent): void;
  stepLog(step: string): StepLog;
  /** Ends live output (the final task list stays on screen). */
  close(): void;
}

/** Shorthands for emitting the common events. */
export const report = {
  step: (log: Logger, step: string, message: string) => log.emit({ type: "step", step, message }),
  info: (log: Logger, message: string) => log.emit({ type: "info", message }),
  warn: (log: Logger, message: string) => log.emit({ type: "warn", message }),
  task: (log: Logger, task: string, state: TaskState, detail?: string) =>
    log.emit({ type: "task", task, state, ...(detail !== undefined && { detail }) }),
};
