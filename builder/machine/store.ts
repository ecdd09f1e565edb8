// Where `podboot machine` keeps each machine: $XDG_DATA_HOME/podboot/machines/NAME (default
// ~/.local/share/podboot/machines/NAME) holding config.json, the data disk, the SSH key it made,
// and while it runs the console log, the QMP socket and QEMU's pid.
import { readdir, readFile } from "node:fs/promises";
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
  qmpSocket: string;
  pidFile: string;
  run: string;
  /** The extra CA certificates, appended to the guest's bundle at each start. */
  caPem: string;
}

export function machinePaths(name: string, root = machinesDir()): MachinePaths {
  const dir = path.join(root, name);
  return {
    dir,
    config: path.join(dir, "config.json"),
    disk: path.join(dir, "data.img"),
    key: path.join(dir, "id_ed25519"),
    consoleLog: path.join(dir, "console.log"),
    qmpSocket: path.join(dir, "qmp.sock"),
    pidFile: path.join(dir, "qemu.pid"),
    run: path.join(dir, "run.json"),
    caPem: path.join(dir, "ca.pem"),
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
