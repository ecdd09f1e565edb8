// Progress as events. Steps report what they do to a Logger; the CLI decides how it looks (plain
// lines for CI and pipes). Each step also gets a log file under out/logs/ for the full tool output.
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import path from "node:path";

export interface Logger {
  step(name: string, message: string): void;
  info(message: string): void;
  warn(message: string): void;
  /** A writable log file for one step's tool output. */
  stepLog(step: string): StepLog;
}

export interface StepLog {
  readonly path: string;
  write(text: string): void;
  close(): Promise<void>;
}

export class ConsoleLogger implements Logger {
  private readonly started = Date.now();

  constructor(
    private readonly logDir: string,
    private readonly quiet = false,
  ) {}

  private stamp(): string {
    return `[${((Date.now() - this.started) / 1000).toFixed(1).padStart(6)}s]`;
  }

  step(name: string, message: string): void {
    if (!this.quiet) process.stderr.write(`${this.stamp()} ${name.padEnd(10)} ${message}\n`);
  }

  info(message: string): void {
    if (!this.quiet) process.stderr.write(`${this.stamp()} ${message}\n`);
  }

  warn(message: string): void {
    process.stderr.write(`${this.stamp()} warning: ${message}\n`);
  }

  stepLog(step: string): StepLog {
    return openStepLog(this.logDir, step);
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
