// `podboot machine init`: every input checked first (name, sizes, ISO, key), then the machine made
// in a temp directory renamed into place, so a failed init leaves nothing behind — not even the
// podman connection it may have registered.
import { access, mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PodbootError } from "../errors.ts";
import { addConnection, podmanInstalled, removeConnection } from "../tools/podman.ts";
import { sshKeygen } from "../tools/ssh.ts";
import { makeDataDisk } from "./disk.ts";
import { readCaCert } from "./guest-config.ts";
import { findVirtiofsd, parseVolumes, type MountType } from "./volumes.ts";
import { identityFrom } from "./keys.ts";
import { freePort } from "./lifecycle.ts";
import {
  checkName,
  loadMachine,
  machineNames,
  machinePaths,
  machinesDir,
  saveMachine,
  type MachineConfig,
} from "./store.ts";

export interface InitOptions {
  name: string;
  /** The ISO it boots; or, with `build`, where the built one will be. */
  iso: string;
  /**
   * Builds the machine's own image into a directory (`--recipe`) and returns its ISO's path
   * there; run after every other input is checked, inside the machine's temp directory.
   */
  build?: (into: string) => Promise<string>;
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
  identity?: string;
  connection: boolean;
  /** HOST:GUEST folders to share. */
  volumes: string[];
  /** How to share them; by default virtiofs where virtiofsd is installed, else 9p. */
  mountType?: MountType;
  /** CA certificate files (PEM) the machine trusts besides the usual ones. */
  caCerts?: string[];
}

/** Where a machine made with --recipe keeps the image built for it. */
export const IMAGE_DIR = "image";

export const connectionName = (name: string) => `podboot-${name}`;
export const apiUrl = (config: MachineConfig) =>
  `ssh://root@127.0.0.1:${config.sshPort}/run/podman/podman.sock`;

/** Checks every input first; then makes the machine in a temp directory renamed into place. */
export async function initMachine(
  options: InitOptions,
  say: (line: string) => void,
): Promise<MachineConfig> {
  checkName(options.name);
  checkSizes(options);
  if (!options.build) await checkIso(options.iso);
  const identity = options.identity ? await identityFrom(options.identity) : undefined;
  const volumes = await parseVolumes(options.volumes);
  const caCerts = (options.caCerts ?? []).map((file) => path.resolve(file));
  let caPem = "";
  for (const file of caCerts) caPem += await readCaCert(file);
  const mountType = options.mountType ?? ((await findVirtiofsd()) ? "virtiofs" : "9p");
  if (mountType === "virtiofs" && volumes.length > 0 && !(await findVirtiofsd())) {
    throw new PodbootError(
      "--mount-type virtiofs: virtiofsd is not installed on this machine",
      "install it (apt-get install virtiofsd), or use --mount-type 9p",
    );
  }
  const root = machinesDir();
  const paths = machinePaths(options.name, root);
  if (
    await access(paths.dir).then(
      () => true,
      () => false,
    )
  ) {
    throw new PodbootError(
      `machine ${options.name} exists already (${paths.dir})`,
      `pick another name, or remove it: podboot machine rm ${options.name}`,
    );
  }
  await mkdir(root, { recursive: true });
  const taken = new Set((await allMachines(root)).map((m) => m.sshPort));
  const tmp = await mkdtemp(path.join(root, `.${options.name}-`));
  let registered = false;
  try {
    // A machine built from a recipe keeps its image (and the loadable extensions beside it).
    const built = options.build && (await options.build(path.join(tmp, IMAGE_DIR)));
    const iso = built
      ? path.join(paths.dir, IMAGE_DIR, path.basename(built))
      : path.resolve(options.iso);
    let privateKey = identity?.privateKey;
    if (!privateKey) {
      privateKey = path.join(paths.dir, "id_ed25519");
      await sshKeygen(path.join(tmp, "id_ed25519"), `podboot-machine-${options.name}`);
    }
    const publicKey =
      identity?.publicKey ?? (await readFile(path.join(tmp, "id_ed25519.pub"), "utf8"));
    await makeDataDisk(path.join(tmp, "data.img"), publicKey, options.diskGiB);
    if (caPem) await writeFile(path.join(tmp, "ca.pem"), caPem);
    const config: MachineConfig = {
      name: options.name,
      iso,
      cpus: options.cpus,
      memoryMiB: options.memoryMiB,
      diskGiB: options.diskGiB,
      sshPort: await freePort(taken),
      identity: path.resolve(privateKey),
      volumes,
      mountType,
      caCerts,
      connection: options.connection && (await podmanInstalled()),
      created: new Date().toISOString(),
    };
    await saveMachine(config, tmp);
    if (config.connection) {
      await addConnection(connectionName(config.name), apiUrl(config), config.identity);
      registered = true;
    } else if (options.connection) {
      say("podman is not installed on this machine: no system connection registered");
    }
    await rename(tmp, paths.dir);
    return config;
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    if (registered) await removeConnection(connectionName(options.name));
    throw error;
  }
}

export function checkSizes(options: { cpus?: number; memoryMiB?: number; diskGiB?: number }): void {
  const cores = os.availableParallelism();
  const memory = Math.floor(os.totalmem() / 2 ** 20);
  if (
    options.cpus !== undefined &&
    !(Number.isInteger(options.cpus) && options.cpus >= 1 && options.cpus <= cores)
  ) {
    throw new PodbootError(
      `--cpus ${options.cpus}: this machine has ${cores}`,
      `pass a whole number from 1 to ${cores}`,
    );
  }
  if (
    options.memoryMiB !== undefined &&
    !(
      Number.isInteger(options.memoryMiB) &&
      options.memoryMiB >= 128 &&
      options.memoryMiB <= memory
    )
  ) {
    throw new PodbootError(
      `--memory ${options.memoryMiB}: give MiB from 128 to this machine's ${memory}`,
      "pass e.g. --memory 1024",
    );
  }
  if (
    options.diskGiB !== undefined &&
    !(Number.isInteger(options.diskGiB) && options.diskGiB >= 1 && options.diskGiB <= 4096)
  ) {
    throw new PodbootError(
      `--disk-size ${options.diskGiB}: give whole GiB from 1 to 4096`,
      "pass e.g. --disk-size 20",
    );
  }
}

/** An ISO 9660 image: its primary volume descriptor says CD001 at byte 32769. */
async function checkIso(iso: string): Promise<void> {
  const handle = await open(iso, "r").catch(() => {
    throw new PodbootError(
      `cannot read the ISO ${iso}`,
      "build one (npm run build-iso) or pass --iso FILE",
    );
  });
  try {
    const magic = Buffer.alloc(5);
    await handle.read(magic, 0, 5, 0x8001);
    if (magic.toString("latin1") !== "CD001") {
      throw new PodbootError(
        `${iso} is not an ISO image`,
        "pass the podboot.iso a build wrote (out/podboot.iso)",
      );
    }
  } finally {
    await handle.close();
  }
}

export async function allMachines(root = machinesDir()): Promise<MachineConfig[]> {
  const machines = [];
  for (const name of await machineNames(root))
    machines.push(await loadMachine(name, root).catch(() => undefined));
  return machines.filter((m): m is MachineConfig => m !== undefined);
}
