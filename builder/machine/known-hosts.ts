// A machine's SSH host keys in the user's ~/.ssh/known_hosts, for podman's remote client. podman
// checks a connection's host key there: it adds an unknown one when the file exists, warns at
// every command when it does not, and refuses a key that differs ("knownhosts: key mismatch"),
// which is what a new machine given a port an old one used would meet. So each start replaces the
// entries for the machine's port with the keys the machine has (read in the SSH session the start
// opens anyway, on the loopback port its own QEMU forwards), and `rm` removes them. Nothing else
// in the file is touched; it is rewritten through a temp file and a rename.
import { createHmac } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { replaceAtomically } from "../fs/atomic.ts";

/** Where OpenSSH and podman look for known host keys. */
export function knownHostsFile(home = os.homedir()): string {
  return path.join(home, ".ssh", "known_hosts");
}

/** How known_hosts names a host on a port other than 22. */
export function hostName(port: number): string {
  return `[127.0.0.1]:${port}`;
}

/** The guest command that prints the machine's public host keys (dropbear's key files). */
export const PRINT_HOST_KEYS =
  'for key in /var/lib/podboot/ssh/dropbear_*_host_key; do dropbearkey -y -f "$key"; done';

/** The "TYPE BASE64" public keys in dropbearkey's output (or any text). */
export function publicKeys(text: string): string[] {
  return text
    .split("\n")
    .map(
      (line) =>
        /^((?:ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/]+=*)(?:\s|$)/.exec(
          line.trim(),
        )?.[1],
    )
    .filter((key): key is string => key !== undefined);
}

/** Whether one host pattern of a known_hosts line names `host`, written plainly or hashed. */
function names(pattern: string, host: string): boolean {
  const hashed = /^\|1\|([^|]+)\|(.+)$/.exec(pattern);
  if (!hashed) return pattern === host;
  const digest = createHmac("sha1", Buffer.from(hashed[1]!, "base64")).update(host).digest();
  return digest.toString("base64") === hashed[2];
}

/** The file's lines without the entries for `host` (comments, blank lines and markers stay). */
export function withoutHost(text: string, host: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.filter((line) => {
    const hosts = line.trim().split(/\s+/)[0] ?? "";
    return hosts === "" || hosts.startsWith("#") || !hosts.split(",").some((p) => names(p, host));
  });
}

/** Replaces the port's entries with these keys; with no keys, only removes them. */
export async function pinHostKeys(
  port: number,
  keys: string[],
  file = knownHostsFile(),
): Promise<void> {
  const before = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (before === undefined && keys.length === 0) return;
  const lines = [
    ...withoutHost(before ?? "", hostName(port)),
    ...keys.map((k) => `${hostName(port)} ${k}`),
  ];
  const after = lines.length > 0 ? `${lines.join("\n")}\n` : "";
  if (after === before) return;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await replaceAtomically(file, (tmp) => writeFile(tmp, after, { mode: 0o600 }));
}
