// Runs an external program with an argument array (never a shell string). Output goes to the step
// log; on failure the error names the program, the exit status, the last lines and the log path.
import { execa, type Options } from "execa";
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { trackProcessGroup } from "../cleanup.ts";
import { PodbootError } from "../errors.ts";
import type { StepLog } from "../report/events.ts";

export interface RunOptions {
  log?: StepLog;
  cwd?: string;
  env?: Record<string, string>;
  input?: string | Buffer;
  /** What to tell the user when the program fails. */
  fix?: string;
  timeoutMs?: number;
  /** Variables of podboot's own environment the program must not see. */
  unsetEnv?: string[];
  /** Called with each output line as it arrives (for progress); output also streams to the log. */
  onLine?: (line: string) => void;
}

const TAIL_LINES = 30;

export function lastLines(text: string, count = TAIL_LINES): string {
  const lines = text.trimEnd().split("\n");
  return lines.slice(-count).join("\n");
}

export async function run(
  program: string,
  args: string[],
  options: RunOptions = {},
): Promise<string> {
  options.log?.write(`$ ${program} ${args.join(" ")}\n`);
  const env = options.unsetEnv
    ? Object.fromEntries(
        Object.entries({ ...process.env, ...options.env }).filter(
          ([name]) => !options.unsetEnv!.includes(name),
        ),
      )
    : options.env;
  const execaOptions: Options = {
    cwd: options.cwd,
    env,
    extendEnv: !options.unsetEnv,
    input: options.input,
    reject: false,
    all: true,
    timeout: options.timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
    // Its own process group, so that an interrupted build kills the tool and everything it
    // started (apt's methods, mmdebstrap's dpkg, make's compilers) in one go.
    detached: true,
  };
  const child = execa(program, args, execaOptions);
  const untrack = trackProcessGroup(child.pid);
  // Stream into the log as the program writes, so a long build's log can be followed live.
  let partial = "";
  child.all?.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    options.log?.write(text);
    if (!options.onLine) return;
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) options.onLine(line);
  });
  const result = await child.finally(untrack);
  const all = typeof result.all === "string" ? result.all : "";
  if (all !== "" && !all.endsWith("\n")) options.log?.write("\n");
  if ((result as { code?: string }).code === "ENOENT") {
    throw new PodbootError(
      `${program} is not installed`,
      "run `podboot check-host` to install the host tools",
    );
  }
  if (result.isCanceled || result.isTerminated || result.exitCode !== 0) {
    const tail = lastLines(all);
    const where = options.log ? ` (full log: ${options.log.path})` : "";
    const status = result.timedOut
      ? "timed out"
      : result.signal
        ? `was killed by ${result.signal}`
        : `exited with ${result.exitCode}`;
    if (/No space left on device/i.test(tail)) {
      throw new PodbootError(
        `no space left on device while running ${program}${where}`,
        "free some space, or pass --out / --cache on a larger filesystem",
        { exitCode: 1, detail: tail },
      );
    }
    throw new PodbootError(
      `${program} ${status}${where}: ${tail.split("\n").at(-1) ?? ""}`,
      options.fix ?? "read the log above for the cause",
      { exitCode: 1, detail: tail },
    );
  }
  return typeof result.stdout === "string" ? result.stdout : "";
}

/** Runs a program and returns its exit code and output, whatever the code (for probes). */
export async function runStatus(
  program: string,
  args: string[],
  timeoutMs: number,
  input?: string | Buffer,
): Promise<{ exitCode: number; output: string }> {
  const result = await execa(program, args, {
    reject: false,
    all: true,
    timeout: timeoutMs,
    ...(input !== undefined && { input }),
  });
  if ((result as { code?: string }).code === "ENOENT") {
    throw new PodbootError(
      `${program} is not installed`,
      "run `podboot check-host` to install the host tools",
    );
  }
  return {
    exitCode: result.exitCode ?? -1,
    output: typeof result.all === "string" ? result.all : "",
  };
}

/**
 * Runs a long-lived program, handing each line of its standard output to `onLine` as it comes;
 * resolves with its exit code when it ends (whatever the code).
 */
export async function runLines(
  program: string,
  args: string[],
  onLine: (line: string) => void,
): Promise<number> {
  const child = execa(program, args, { reject: false, buffer: false, stdin: "ignore" });
  let partial = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  const result = await child;
  if (partial) onLine(partial);
  return result.exitCode ?? -1;
}

/** Runs a program on this terminal (stdin, stdout and stderr inherited); resolves with its code. */
export async function runInteractive(program: string, args: string[]): Promise<number> {
  const result = await execa(program, args, { stdio: "inherit", reject: false });
  return result.exitCode ?? 1;
}

/**
 * A program in the background, detached from podboot (it outlives the command that starts it),
 * its output appended to `logFile`. Returns its pid.
 */
export function startDetached(program: string, args: string[], logFile: string): number {
  // node's own spawn with the log file's descriptor: nothing of the child stays open in podboot
  // (execa would pipe its output through this process and keep it from exiting).
  const log = openSync(logFile, "a");
  try {
    const child = spawn(program, args, { detached: true, stdio: ["ignore", log, log] });
    child.on("error", () => undefined);
    child.unref();
    if (child.pid === undefined) {
      throw new PodbootError(`${program} did not start`, "run `podboot check-host` to install it");
    }
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** Whether a process is alive (not gone, not a zombie waiting for its parent). */
export async function processAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat !== "" && !/\) Z /.test(stat);
}
