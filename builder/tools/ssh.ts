// OpenSSH client tools on the host: reading a VM's host key, making key pairs, running commands.
import { run } from "./run.ts";

/** `ssh-keyscan` of 127.0.0.1:port: the known_hosts lines of the VM's host keys. */
export function sshKeyscan(port: number): Promise<string> {
  return run("ssh-keyscan", ["-p", String(port), "127.0.0.1"], {
    fix: "check that the VM is up and its SSH port forwarded",
  });
}
