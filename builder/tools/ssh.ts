// OpenSSH client tools on the host: reading a VM's host key, making key pairs, running commands.
import { run, runInteractive, runLines, runStatus } from "./run.ts";

/** `ssh-keyscan` of 127.0.0.1:port: the known_hosts lines of the VM's host keys. */
export function sshKeyscan(port: number): Promise<string> {
  return run("ssh-keyscan", ["-p", String(port), "127.0.0.1"], {
    fix: "check that the VM is up and its SSH port forwarded",
  });
}

/** Makes an ed25519 key pair at `file` (and file.pub), without a passphrase. */
export async function sshKeygen(file: string, comment: string): Promise<void> {
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], {
    fix: "install openssh-client (podboot check-host)",
  });
}

/** The options every podboot SSH client uses for a VM on this machine's loopback. */
export function sshOptions(port: number, identity: string): string[] {
  return [
    ...["-p", String(port), "-i", identity, "-o", "IdentitiesOnly=yes"],
    ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"],
    ...["-o", "LogLevel=ERROR", "-o", "BatchMode=yes"],
  ];
}

/**
 * Runs a command in the VM over SSH (with `input` on its stdin); resolves with its exit code
 * (255: no connection).
 */
export async function sshProbe(
  port: number,
  identity: string,
  command: string,
  timeoutMs: number,
  input?: string | Buffer,
): Promise<{ exitCode: number; output: string }> {
  return runStatus(
    "ssh",
    [...sshOptions(port, identity), "-o", "ConnectTimeout=3", "root@127.0.0.1", command],
    timeoutMs,
    input,
  );
}

/** An SSH session on this terminal (or one command); resolves with ssh's exit code. */
export function sshInteractive(
  port: number,
  identity: string,
  user: string,
  command: string[],
): Promise<number> {
  return runInteractive("ssh", [
    ...sshOptions(port, identity),
    "-t",
    `${user}@127.0.0.1`,
    ...command,
  ]);
}

/**
 * Runs a long-lived command in the VM over SSH, handing each line of its output to `onLine`;
 * resolves when the command or the connection ends.
 */
export async function sshFollow(
  port: number,
  identity: string,
  command: string,
  onLine: (line: string) => void,
): Promise<void> {
  await runLines(
    "ssh",
    [
      ...sshOptions(port, identity),
      ...["-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=10"],
      "root@127.0.0.1",
      command,
    ],
    onLine,
  );
}
