// Where `podboot machine` keeps each machine: $XDG_DATA_HOME/podboot/machines/NAME (default
// ~/.local/share/podboot/machines/NAME) holding config.json, the data disk, the SSH key it made,
// and while it runs the console log and QEMU's pid. Its sockets (QMP, virtiofs) live in a short
// per-user runtime directory instead: a Unix socket's path must fit in 108 bytes, which a deep
// $XDG_DATA_HOME does not.
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { PodbootError } from "../errors.ts";
import { writeAtomically } from "../fs/atomic.ts";

export const MACHINE_NAME = /^[a-z][a-z0-9-]{0,30}$/;

export const machineConfig = z.strictObject({
  name: z.string().regex(MACHINE_NAME),
  /** The ISO it boots (absolute). */
  iso: z.string(),
  cpus: z.number().int().min(1),
  memoryMiB: z.number().int().min(1),
  diskGiB: z.number().int().min(1),
  sshPort: z.number().int().min(1024).max(65535),
  /** The private key podboot machine ssh uses; its .pub was seeded onto the data disk. */
  identity: z.string(),
  /** Host folders mounted in the guest, and how they are shared. */
  volumes: z.array(z.strictObject({ host: z.string(), guest: z.string() })).default([]),
  mountType: z.enum(["virtiofs", "9p"]).default("9p"),
  /** The --ca-cert files given to init (their certificates are kept in ca.pem). */
  caCerts: z.array(z.string()).default([]),
  /** Whether init registered a podman system connection (podboot-NAME). */
  connection: z.boolean(),
  created: z.string(),
});

export type MachineConfig = z.infer<typeof machineConfig>;

export function machinesDir(env: NodeJS.ProcessEnv = process.env): string {
  const data = env.XDG_DATA_HOME || path.join(os.homedir(), ".local", "share");
  return path.join(data, "podboot", "machines");
}

export interface MachinePaths {
  dir: string;
  config: string;
  disk: string;
  key: string;
  consoleLog: string;
  /** The machine's socket directory (see socketDir). */
  sockets: string;
  qmpSocket: string;
  pidFile: string;
  run: string;
  /** The extra CA certificates, appended to the guest's bundle at each start. */
  caPem: string;
  /** The ISO's kernel and initramfs, copied out at each start for a direct boot. */
  boot: string;
}

/**
 * Where a machine's sockets live: $XDG_RUNTIME_DIR/podboot/ID, or /tmp/podboot-UID/ID without a
 * (short) runtime directory, where ID is a hash of the machine's directory — one per machine,
 * the same at every start, and at most ~60 bytes whatever $XDG_DATA_HOME is.
 */
export function socketDir(machineDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  const base =
    runtime && path.isAbsolute(runtime) && runtime.length <= 40
      ? path.join(runtime, "podboot")
      : path.join("/tmp", `podboot-${os.userInfo().uid}`);
  const id = createHash("sha256").update(machineDir).digest("hex").slice(0, 16);
  return path.join(base, id);
}

/**
 * Makes the socket directory, private to this user: a base directory someone else made (in /tmp,
 * where anyone may) or a link is refused, never used.
 */
export async function makeSocketDir(paths: MachinePaths): Promise<void> {
  const base = path.dirname(paths.sockets);
  await mkdir(base, { recursive: true, mode: 0o700 });
  const info = await lstat(base);
  if (!info.isDirectory() || info.uid !== os.userInfo().uid || (info.mode & 0o077) !== 0) {
    throw new PodbootError(
      `${base} (where podboot keeps its machines' sockets) is not a private directory of yours`,
      `remove it (it is remade at the next start), or set XDG_RUNTIME_DIR to a directory of yours`,
    );
  }
  await mkdir(paths.sockets, { recursive: true, mode: 0o700 });
}

export function machinePaths(name: string, root = machinesDir()): MachinePaths {
  const dir = path.join(root, name);
  const sockets = socketDir(dir);
  return {
    dir,
    config: path.join(dir, "config.json"),
    disk: path.join(dir, "data.img"),
    key: path.join(dir, "id_ed25519"),
    consoleLog: path.join(dir, "console.log"),
    sockets,
    qmpSocket: path.join(sockets, "qmp.sock"),
    pidFile: path.join(dir, "qemu.pid"),
    run: path.join(dir, "run.json"),
    caPem: path.join(dir, "ca.pem"),
    boot: path.join(dir, "boot"),
  };
}

export function checkName(name: string): void {
  if (!MACHINE_NAME.test(name)) {
    throw new PodbootError(
      `machine name ${JSON.stringify(name)} is not one: lower-case letters, digits and dashes, starting with a letter, at most 31`,
      "pick a name such as default or build-box",
    );
  }
}

export async function loadMachine(name: string, root = machinesDir()): Promise<MachineConfig> {
  checkName(name);
  const paths = machinePaths(name, root);
  const text = await readFile(paths.config, "utf8").catch(() => {
    throw new PodbootError(
      `no machine ${name} (${paths.dir})`,
      `make it with: podboot machine init ${name}`,
    );
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = machineConfig.safeParse(json);
  if (!parsed.success) {
    throw new PodbootError(
      `${paths.config} is damaged (${parsed.error.issues[0]?.message})`,
      `remove the machine (podboot machine rm --force ${name}) and make it again`,
    );
  }
  return parsed.data;
}

export async function saveMachine(config: MachineConfig, dir: string): Promise<void> {
  await writeAtomically(path.join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
}

export async function machineNames(root = machinesDir()): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && MACHINE_NAME.test(e.name))
    .map((e) => e.name)
    .sort();
}
