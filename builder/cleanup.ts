// What must not survive an interrupted build. Steps register the temp paths they are writing, the
// programs they are running and anything else to undo (a build container); on SIGINT or SIGTERM
// all of it is undone before podboot exits, so neither out/ nor the cache is left with a
// half-written file and no build container or tool keeps running.
import { rmSync } from "node:fs";

const pending = new Set<string>();
const undoers = new Set<() => void>();
/** Process groups of running tools (each is started as a group leader: it and its children). */
const groups = new Set<number>();
let installed = false;

export function trackTemp(target: string): () => void {
  pending.add(target);
  return () => pending.delete(target);
}

/** Registers a synchronous undo action (e.g. deleting a container); returns its unregister. */
export function onInterrupt(undo: () => void): () => void {
  undoers.add(undo);
  return () => undoers.delete(undo);
}

/** Registers a running tool's process group, killed whole on interrupt. */
export function trackProcessGroup(pid: number | undefined): () => void {
  if (pid === undefined) return () => undefined;
  groups.add(pid);
  return () => groups.delete(pid);
}

export function removeTracked(): void {
  // Containers first (runc delete kills what runs inside), then the tools, then their files.
  for (const undo of undoers) {
    try {
      undo();
    } catch {
      // best effort: the rest below is undone regardless
    }
  }
  undoers.clear();
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  groups.clear();
  for (const target of pending) rmSync(target, { recursive: true, force: true });
  pending.clear();
}

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Called by the CLI at start, so that Ctrl-C always ends with the same message and exit code.
 * (Only the CLI: a library user or a test runner keeps its own signal handling.)
 */
export function installHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      removeTracked();
      process.stderr.write(
        `\npodboot: interrupted (${signal}); temporary files removed — run the command again to continue\n`,
      );
      process.exit(EXIT_CODES[signal]);
    });
  }
}
