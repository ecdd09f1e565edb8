// The two renderings of build events: plain timestamped lines on stderr (CI, pipes, --quiet),
// and on a terminal the same lines with a live task list of the compiles below them (state,
// elapsed time, cache hit, source kind), redrawn in place. Each step also gets a log file under
// out/logs/ for its tools' full output.
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import path from "node:path";
import type { BuildEvent, Logger, StepLog, TaskState } from "./events.ts";

/** Plain lines on stderr: what CI and pipes get. */
export class ConsoleLogger implements Logger {
  private readonly started = Date.now();

  constructor(
    private readonly logDir: string,
    private readonly quiet = false,
  ) {}

  private stamp(): string {
    return `[${((Date.now() - this.started) / 1000).toFixed(1).padStart(6)}s]`;
  }

  protected print(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  emit(event: BuildEvent): void {
    switch (event.type) {
      case "step":
        if (!this.quiet) this.print(`${this.stamp()} ${event.step.padEnd(10)} ${event.message}`);
        break;
      case "info":
        if (!this.quiet) this.print(`${this.stamp()} ${event.message}`);
        break;
      case "warn":
        this.print(`${this.stamp()} warning: ${event.message}`);
        break;
      case "task":
        // The step lines already say when a compile starts and ends.
        this.onTask(event.task, event.state, event.detail);
        break;
    }
  }

  protected onTask(_task: string, _state: TaskState, _detail?: string): void {}

  stepLog(step: string): StepLog {
    return openStepLog(this.logDir, step);
  }

  close(): void {}
}

interface Task {
  name: string;
  state: TaskState;
  detail: string;
  started?: number;
  seconds?: number;
}

const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";
const MARK: Record<TaskState, string> = {
  queued: "·",
  running: "",
  cached: "✓",
  done: "✓",
  failed: "✗",
  prebuilt: "–",
};

/** The task list as lines; pure (the clock is passed in), so it is unit-tested. */
export function renderTasks(tasks: Task[], now: number, width = 100): string[] {
  const nameWidth = Math.max(...tasks.map((t) => t.name.length), 4);
  return tasks.map((task) => {
    const seconds =
      task.seconds ?? (task.started !== undefined ? (now - task.started) / 1000 : undefined);
    const mark = MARK[task.state] || SPINNER[Math.floor(now / 100) % SPINNER.length];
    const time = seconds === undefined ? "" : `${seconds.toFixed(1)}s`;
    const line = `  ${mark} ${task.name.padEnd(nameWidth)}  ${task.state.padEnd(8)} ${time.padStart(7)}  ${task.detail}`;
    // A wrapped line would break the redraw, which counts lines.
    return line.length > width ? line.slice(0, width - 1) + "…" : line.trimEnd();
  });
}

/**
 * On a terminal: the plain lines scroll above a live list of the compiles, redrawn in place
 * (cursor up, clear to the end of the screen) as states change and every 100 ms while one runs.
 */
export class TtyLogger extends ConsoleLogger {
  private readonly tasks = new Map<string, Task>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    logDir: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly clock: () => number = Date.now,
  ) {
    super(logDir, false);
  }

  protected override print(line: string): void {
    this.out.write(`${this.erase()}${line}\n${this.board()}`);
  }

  protected override onTask(name: string, state: TaskState, detail?: string): void {
    const task = this.tasks.get(name) ?? { name, state, detail: "" };
    if (detail !== undefined) task.detail = detail;
    if (state === "running") task.started = this.clock();
    else if (task.started !== undefined && task.state === "running") {
      task.seconds = (this.clock() - task.started) / 1000;
    }
    task.state = state;
    this.tasks.set(name, task);
    this.redraw();
    const running = [...this.tasks.values()].some((t) => t.state === "running");
    if (running && !this.timer) {
      this.timer = setInterval(() => this.redraw(), 100);
      this.timer.unref();
    } else if (!running && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  override close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.redraw();
    this.drawn = 0; // the last list stays; later output goes below it
  }

  private redraw(): void {
    this.out.write(`${this.erase()}${this.board()}`);
  }

  /** Moves the cursor to the first line of the drawn list and clears from there down. */
  private erase(): string {
    return this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : "";
  }

  private board(): string {
    const lines = renderTasks([...this.tasks.values()], this.clock(), this.out.columns || 100);
    this.drawn = lines.length;
    return lines.map((l) => `${l}\n`).join("");
  }
}

function openStepLog(logDir: string, step: string): StepLog {
  mkdirSync(logDir, { recursive: true });
  const file = path.join(logDir, `${step.replace(/[^A-Za-z0-9_.-]/g, "_")}.log`);
  const stream: WriteStream = createWriteStream(file, { flags: "a" });
  return {
    path: file,
    write: (text) => void stream.write(text),
    close: () => new Promise((resolve) => stream.end(resolve)),
  };
}

/** A logger that drops everything (for commands and tests that need none). */
export class SilentLogger implements Logger {
  emit(): void {}
  stepLog(): StepLog {
    return { path: "/dev/null", write: () => undefined, close: async () => undefined };
  }
  close(): void {}
}
