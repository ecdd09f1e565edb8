// Remote clients of a booted VM (podman --url ssh://…, podman-remote), as the e2e tests and the
// benchmarks drive it from this machine.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import path from "node:path";
import { sshKeyscan } from "../tools/ssh.ts";

/**
 * The environment for a remote podman client of the VM: a fresh HOME under dir whose known_hosts
 * holds the host key `ssh-keyscan` reads on the forwarded SSH port.
 */
export async function remoteClientEnv(
  sshPort: number,
  dir: string,
): Promise<Record<string, string>> {
  const home = await mkdtemp(path.join(dir, "home-"));
  await mkdir(path.join(home, ".ssh"), { mode: 0o700 });
  await writeFile(path.join(home, ".ssh", "known_hosts"), `${await sshKeyscan(sshPort)}\n`);
  return { HOME: home, XDG_RUNTIME_DIR: home, XDG_CONFIG_HOME: path.join(home, ".config") };
}
