// Removing temp trees when a build is interrupted. It has to be synchronous (the signal handler
// exits right after, and no other part of the build may run meanwhile) and quick: a half-compiled
// kernel tree is some 90,000 files, which one rm(1) or node's rmSync unlinks one after another in
// ~7 s on this kind of storage. Several rm(1)s on its subdirectories at once take ~3 s.
import { spawn, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";

const PARALLEL = 8;

const SCRIPT = `for p; do [ -d "$p" ] && find "$p" -mindepth 2 -maxdepth 2 -print0; done |
  xargs -0 -r -P ${PARALLEL} -n 64 rm -rf --
rm -rf -- "$@"`;

export function removeTreesSync(targets: string[]): void {
  if (targets.length === 0) return;
  spawnSync("sh", ["-c", SCRIPT, "sh", ...targets], { stdio: "ignore" });
  // Whatever is left (no sh, find or xargs here, or one of them failed), node removes.
  for (const target of targets) rmSync(target, { recursive: true, force: true });
}

/**
 * Deletes trees in a process of its own that outlives podboot (detached, its output discarded):
 * for trees already moved aside, so nothing waits for them.
 */
export function removeInBackground(targets: string[]): void {
  const child = spawn("rm", ["-rf", "--", ...targets], { detached: true, stdio: "ignore" });
  child.on("error", () => undefined);
  child.unref();
}
