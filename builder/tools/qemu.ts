// qemu-system-x86_64: started in the background with its serial console on pipes (the e2e
// tests, the benchmarks, `podboot machine`), in the foreground on this terminal (`podboot
// boot`), or briefly to probe whether KVM really works here.
import { execa, type ResultPromise } from "execa";
import { startDetached } from "./run.ts";

export const QEMU = "qemu-system-x86_64";

export type QemuProcess = ResultPromise<{
  stdin: "pipe";
  stdout: "pipe";
  stderr: "pipe";
  reject: false;
  buffer: false;
}>;

/** QEMU in the background; its console is read from stdout/stderr, typed into stdin. */
export function startQemu(args: string[]): QemuProcess {
  return execa(QEMU, args, {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    reject: false,
    buffer: false,
  });
}

/** QEMU on this terminal until it exits; returns its exit code. */
export async function runQemuInteractive(args: string[]): Promise<number> {
  const result = await execa(QEMU, args, { stdio: "inherit", reject: false });
  return result.exitCode ?? 1;
}

/** Runs QEMU for at most `timeoutMs` and returns what it printed (the KVM probe). */
export async function qemuOutput(args: string[], timeoutMs: number): Promise<string> {
  const probe = await execa(QEMU, args, { reject: false, timeout: timeoutMs, all: true });
  return String(probe.all ?? "");
}

/**
 * QEMU in the background, detached from podboot (it outlives the command that starts it): its
 * console and QMP socket are files named in its arguments. Returns its pid.
 */
export function startQemuDetached(args: string[], logFile: string): number {
  return startDetached(QEMU, args, logFile);
}
