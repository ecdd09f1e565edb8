// The host's podman client, for what `podboot machine` registers with it: a system connection
// named podboot-NAME, so `podman --connection podboot-NAME …` drives the machine at once.
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { onPath } from "../host/preflight.ts";
import { run } from "./run.ts";

export async function podmanInstalled(): Promise<boolean> {
  return onPath("podman");
}

/**
 * podman (4.x) rewrites containers.conf in place without a lock: two edits at once lose one of
 * them or leave a torn file that every later podman command refuses to read. Two machines made
 * or removed at once are normal, so every edit podboot makes runs under flock(1) on one lock
 * file per user.
 */
export function connectionsLock(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.getuid?.() ?? 0;
  const dir =
    uid === 0 && existsSync("/run/lock") ? "/run/lock" : (env.XDG_RUNTIME_DIR ?? os.tmpdir());
  return path.join(dir, `podboot-podman-connections-${uid}.lock`);
}

function editConnections(args: string[], fix?: string): Promise<string> {
  return run("flock", [connectionsLock(), "podman", "system", "connection", ...args], { fix });
}

export async function addConnection(name: string, url: string, identity: string): Promise<void> {
  await editConnections(
    ["add", "--identity", identity, name, url],
    "check the host's podman (podman system connection ls), or pass --no-connection",
  );
}

/** Removes the connection; a missing one is not an error. */
export async function removeConnection(name: string): Promise<void> {
  await editConnections(["remove", name]).catch(() => undefined);
}
