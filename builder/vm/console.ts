// Drives a booted VM through its serial console: starts QEMU, waits for text, runs shell
// commands and reads their output and exit status. Used by the e2e tests and the benchmarks.
// Every time limit is the one measured on the reference machine, scaled by the pace (pace.ts):
// the machine's before the boot, the VM's own (from its uptime at ready) after it.
import { StringDecoder } from "node:string_decoder";
import { startQemu, type QemuProcess } from "../tools/qemu.ts";
import { bootPace, machinePace } from "./pace.ts";
import { qemuArgs, type VmSpec } from "./qemu.ts";

// Terminal escape sequences the console may print (cursor queries, colours).
const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g");

export interface CommandResult {
  output: string;
  status: number;
}

export class SerialVm {
  private buffer = "";
  private readonly started = Date.now();
  private waiters: (() => void)[] = [];
  private exited = false;
  private marker = 0;
  /** How much longer than on the reference machine things take here (≥ 1). */
  pace = machinePace();

  private constructor(private readonly child: QemuProcess) {
    // One decoder per stream: a character split across two chunks is joined, not mangled.
    const reader = () => {
      const decoder = new StringDecoder("utf8");
      return (chunk: Buffer) => {
        this.buffer += decoder.write(chunk);
        this.waiters.forEach((wake) => wake());
      };
    };
    child.stdout?.on("data", reader());
    child.stderr?.on("data", reader());
    child
      .finally(() => {
        this.exited = true;
        this.waiters.forEach((wake) => wake());
      })
      .catch(() => undefined);
  }

  static start(spec: VmSpec): SerialVm {
    return new SerialVm(startQemu(qemuArgs(spec)));
  }

  /** Everything the console printed so far. */
  get transcript(): string {
    return this.buffer;
  }

  get seconds(): number {
    return (Date.now() - this.started) / 1000;
  }

  /**
   * Waits until `pattern` appears after offset `from`; returns the match. `timeoutMs` is the
   * reference machine's limit: the wait allows that times the pace.
   */
  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const limit = Math.round(timeoutMs * this.pace);
    const deadline = Date.now() + limit;
    for (;;) {
      const match = pattern.exec(this.buffer.slice(from));
      if (match) return match;
      if (this.exited)
        throw new Error(
          `VM exited while waiting for ${pattern}; last output:\n${this.buffer.slice(-2000)}`,
        );
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out after ${limit} ms (${timeoutMs} ms at the reference pace, ×${this.pace.toFixed(2)} here) waiting for ${pattern}; last output:\n${this.buffer.slice(-2000)}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
  }

  /**
   * Waits for init's "podboot: ready" line, then the root shell's prompt; returns the uptime at
   * ready. A kernel panic or the OOM killer ends the wait at once.
   */
  async waitForShell(timeoutMs = 240_000): Promise<number> {
    const ready = await Promise.race([
      this.waitFor(/podboot: ready \(uptime ([0-9.]+) s\)/, timeoutMs),
      this.waitFor(/Kernel panic|Out of memory|not syncing/, timeoutMs).then(
        (match) => Promise.reject(new Error(`boot failed: ${match[0]}`)),
        // Not seeing a failure is no news: the wait for "ready" reports its own timeout.
        () => new Promise<never>(() => undefined),
      ),
    ]);
    await this.waitFor(/root@podboot/, 60_000);
    const uptime = Number(ready[1]);
    this.pace = bootPace(uptime);
    return uptime;
  }

  send(text: string): void {
    this.child.stdin?.write(text);
  }

  /** Runs a shell command at the root prompt and returns its output and exit status. */
  async run(command: string, timeoutMs = 60_000): Promise<CommandResult> {
    const id = `${++this.marker}${Math.floor(Math.random() * 1e6)}`;
    const from = this.buffer.length;
    // The markers are split in the typed line so only the command's own echo prints them whole.
    this.send(`echo "@@BEGIN""${id}@@"; ${command}; echo "@@END""${id}:$?@@"\n`);
    const end = await this.waitFor(new RegExp(`@@END${id}:(\\d+)@@`), timeoutMs, from);
    const text = this.buffer.slice(from);
    const begin = text.indexOf(`@@BEGIN${id}@@`);
    const output = text
      .slice(begin + `@@BEGIN${id}@@`.length, text.indexOf(`@@END${id}:`))
      .replace(/\r/g, "")
      .replace(ANSI_ESCAPE, "")
      .trim();
    return { output, status: Number(end[1]) };
  }

  /** Powers off from inside and waits for QEMU to exit; kills it after the timeout. */
  async poweroff(timeoutMs = 60_000): Promise<number | undefined> {
    if (!this.exited) this.send("poweroff\n");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs * this.pace);
    const result = await this.child;
    clearTimeout(timer);
    return result.exitCode;
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}
