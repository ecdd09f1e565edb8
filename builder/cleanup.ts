// What must not survive an interrupted build. Steps register the temp paths they are writing and
// anything else to undo (a running build container); on SIGINT/SIGTERM all of it is undone before
// podboot exits, so neither out/ nor the cache is left with a half-written file.
import { rmSync } from "node:fs";
import { rename, rm } from "node:fs/promises";

const pending = new Set<string>();
const undoers = new Set<() => void>();
let installed = false;

export function trackTemp(target: string): () => void {
  pending.add(target);
  installHandlers();
  return () => pending.delete(target);
}

/** Registers a synchronous undo action (e.g. killing a container); returns its unregister. */
export function onInterrupt(undo: () => void): () => void {
  undoers.add(undo);
  installHandlers();
  return () => undoers.delete(undo);
}

export function removeTracked(): void {
  for (const undo of undoers) {
    try {
      undo();
    } catch {
      // best effort: the temp paths below are removed regardless
    }
  }
  undoers.clear();
  for (const target of pending) rmSync(target, { recursive: true, force: true });
  pending.clear();
}

/** Called by the CLI at start, so that Ctrl-C always ends with the same message and exit 130. */
export function installHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      removeTracked();
      process.stderr.write(
        `\npodboot: interrupted (${signal}); temporary files removed — run the command again to continue\n`,
      );
      process.exit(130);
    });
  }
}

/** Writes `file` through `file.tmp` and a rename: readers see the old file or the whole new one. */
export async function replaceAtomically(
  file: string,
  write: (tmp: string) => Promise<void>,
): Promise<void> {
  const tmp = `${file}.tmp`;
  const untrack = trackTemp(tmp);
  try {
    await write(tmp);
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
    untrack();
  }
}
