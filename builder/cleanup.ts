// What must not survive an interrupted build. Steps register the temp paths they are writing, the
// programs they are running and anything else to undo (a build container); on SIGINT or SIGTERM
// all of it is undone before podboot exits, so neither out/ nor the cache is left with a
// half-written file and no build container or tool keeps running.
import { mkdirSync, renameSync } from "node:fs";
import path from "node:path";
import { removeInBackground, removeTreesSync } from "./tools/remove.ts";

/** Temp paths, each with the trash directory it may be moved into (on its filesystem), if any. */
const pending = new Map<string, string | undefined>();
const undoers = new Set<() => void>();
/** Undone after the temp paths are gone (the cache lock: no other build starts meanwhile). */
const finalUndoers = new Set<() => void>();
/** Process groups of running tools (each is started as a group leader: it and its children). */
const groups = new Set<number>();
let installed = false;

/**
 * Registers a temp path, removed on interrupt. With `trash` (a directory on the same filesystem,
 * which the next run empties), a big tree is moved there at once and deleted in the background:
 * a half-compiled kernel tree takes longer to delete than an interrupted build may take to end.
 */
export function trackTemp(target: string, trash?: string): () => void {
  pending.set(target, trash);
  return () => pending.delete(target);
}

/** Moves what it can into its trash (a rename); returns the paths still to remove here. */
function moveToTrash(targets: [string, string | undefined][]): string[] {
  const moved: string[] = [];
  const rest: string[] = [];
  const trashed: string[] = [];
  // Parents first: a path inside a moved one went with it.
  for (const [target, trash] of targets.sort(([a], [b]) => a.length - b.length)) {
    if (moved.some((m) => target.startsWith(`${m}/`))) continue;
    if (trash) {
      try {
        mkdirSync(trash, { recursive: true });
        const aside = path.join(trash, `${process.pid}-${trashed.length}`);
        renameSync(target, aside);
        moved.push(target);
        trashed.push(aside);
        continue;
      } catch {
        // not there, or another filesystem: removed below
      }
    }
    rest.push(target);
  }
  if (trashed.length > 0) removeInBackground(trashed);
  return rest;
}

/**
 * Registers a synchronous undo action (e.g. deleting a container); returns its unregister. A
 * `last` one runs once the temp paths are removed.
 */
export function onInterrupt(undo: () => void, options: { last?: boolean } = {}): () => void {
  const set = options.last ? finalUndoers : undoers;
  set.add(undo);
  return () => set.delete(undo);
}

function undoAll(set: Set<() => void>): void {
  for (const undo of set) {
    try {
      undo();
    } catch {
      // best effort: the rest is undone regardless
    }
  }
  set.clear();
}

/** Registers a running tool's process group, killed whole on interrupt. */
export function trackProcessGroup(pid: number | undefined): () => void {
  if (pid === undefined) return () => undefined;
  groups.add(pid);
  return () => groups.delete(pid);
}

/**
 * Undoes everything registered, synchronously: nothing else of the build runs meanwhile (no step
 * commits a cache entry while its siblings are being removed).
 */
export function removeTracked(): void {
  // Containers first (runc delete kills what runs inside), then the tools, then their files.
  undoAll(undoers);
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  groups.clear();
  const targets = [...pending];
  pending.clear();
  removeTreesSync(moveToTrash(targets));
  undoAll(finalUndoers);
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
