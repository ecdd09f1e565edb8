// The host's podman client, for what `podboot machine` registers with it: a system connection
// named podboot-NAME, so `podman --connection podboot-NAME …` drives the machine at once.
import { onPath } from "../host/preflight.ts";
import { run } from "./run.ts";

export async function podmanInstalled(): Promise<boolean> {
  return onPath("podman");
}

export async function addConnection(name: string, url: string, identity: string): Promise<void> {
  await run("podman", ["system", "connection", "add", "--identity", identity, name, url], {
    fix: "check the host's podman (podman system connection ls), or pass --no-connection",
  });
}

/** Removes the connection; a missing one is not an error. */
export async function removeConnection(name: string): Promise<void> {
  await run("podman", ["system", "connection", "remove", name]).catch(() => undefined);
}
