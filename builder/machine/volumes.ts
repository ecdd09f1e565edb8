// Host folders shared into a machine (`init --volume HOST:GUEST`): virtiofs through virtiofsd
// (Debian's, started with the machine; it ends when QEMU does) or 9p served by QEMU itself where
// no virtiofsd is installed. The guest mounts them once SSH answers, before `start` says ready.
import { access, constants, rm, stat } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { PodbootError } from "../errors.ts";
import { processAlive, startDetached } from "../tools/run.ts";
import type { Share } from "../vm/qemu.ts";

export type MountType = "virtiofs" | "9p";
export interface Volume {
  host: string;
  guest: string;
}

/** Where Debian installs virtiofsd: the Rust one (trixie on), then QEMU's own (bookworm). */
const VIRTIOFSD = ["/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"];

export async function findVirtiofsd(): Promise<string | undefined> {
  for (const candidate of VIRTIOFSD) {
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}

/** Guest folders a share must not cover: the system's own, and where podboot keeps its data. */
const RESERVED = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/lib64",
  "/mnt/data",
  "/proc",
  "/run",
  "/sbin",
  "/sys",
  "/tmp",
  "/usr",
  "/var/lib/containers",
  "/var/lib/podboot",
];
const GUEST_PATH = /^(\/[A-Za-z0-9._-]+)+$/;

/** `HOST:GUEST` (or `HOST`, mounted at the same path), checked; the host folder made absolute. */
export async function parseVolume(spec: string): Promise<Volume> {
  const parts = spec.split(":");
  if (parts.length > 2 || !parts[0]) {
    throw new PodbootError(
      `--volume ${spec}: write it HOST:GUEST (or HOST, mounted at the same path)`,
      "e.g. --volume ~/src:/src",
    );
  }
  const host = path.resolve(parts[0]);
  const guest = path.posix.normalize(parts[1] ?? host);
  if (host.includes(",")) {
    throw new PodbootError(
      `--volume ${spec}: the host folder's name has a comma, which QEMU's options cannot carry`,
      "share a folder without one (or a symlink-free parent of it)",
    );
  }
  const info = await stat(host).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new PodbootError(
      `--volume ${spec}: ${host} is not a folder on this machine`,
      "give an existing folder",
    );
  }
  if (!GUEST_PATH.test(guest) || guest.split("/").includes("..")) {
    throw new PodbootError(
      `--volume ${spec}: the guest path ${guest} must be absolute, of letters, digits, . _ and -`,
      "e.g. --volume ~/src:/src",
    );
  }
  const covered = RESERVED.find((r) => guest === r || guest.startsWith(`${r}/`));
  if (covered) {
    throw new PodbootError(
      `--volume ${spec}: ${guest} is the system's own (${covered})`,
      "mount it elsewhere, e.g. under /mnt or /srv",
    );
  }
  return { host, guest };
}

export async function parseVolumes(specs: string[]): Promise<Volume[]> {
  const volumes: Volume[] = [];
  for (const spec of specs) {
    const volume = await parseVolume(spec);
    const clash = volumes.find(
      (v) => volume.guest.startsWith(`${v.guest}/`) || v.guest.startsWith(`${volume.guest}/`),
    );
    if (volumes.some((v) => v.guest === volume.guest) || clash) {
      throw new PodbootError(
        `--volume ${spec}: ${volume.guest} is already a share's path, or inside one`,
        "give each share its own guest folder",
      );
    }
    volumes.push(volume);
  }
  return volumes;
}

export const shareTag = (index: number) => `podboot${index}`;

/** QEMU's side of the shares; virtiofs's sockets live in the machine's socket directory. */
export function sharesFor(volumes: Volume[], type: MountType, sockets: string): Share[] {
  return volumes.map((volume, index) =>
    type === "9p"
      ? { transport: "9p", tag: shareTag(index), path: volume.host }
      : {
          transport: "virtiofs",
          tag: shareTag(index),
          socket: path.join(sockets, `fs${index}.sock`),
        },
  );
}

/**
 * Starts one virtiofsd per virtiofs share, in the background (each exits when QEMU disconnects),
 * and waits until every socket is there.
 */
export async function startVirtiofsd(shares: Share[], volumes: Volume[], dir: string) {
  const daemon = await findVirtiofsd();
  for (const [index, share] of shares.entries()) {
    if (share.transport !== "virtiofs") continue;
    if (!daemon) {
      throw new PodbootError(
        "this machine shares folders with virtiofs, but virtiofsd is not installed",
        "install it (apt-get install virtiofsd), or make the machine with --mount-type 9p",
      );
    }
    await rm(share.socket, { force: true });
    const log = path.join(dir, `fs${index}.log`);
    const pid = startDetached(
      daemon,
      [`--socket-path=${share.socket}`, "-o", `source=${volumes[index]!.host}`, "-o", "cache=auto"],
      log,
    );
    const deadline = Date.now() + 10_000;
    while (
      !(await stat(share.socket).then(
        (s) => s.isSocket(),
        () => false,
      ))
    ) {
      if (Date.now() > deadline || !(await processAlive(pid))) {
        throw new PodbootError(
          `virtiofsd did not start for ${volumes[index]!.host} (see ${log})`,
          "or make the machine with --mount-type 9p",
        );
      }
      await sleep(50);
    }
  }
}

/** The guest's commands that mount every share (paths are checked: no quoting needed). */
export function mountScript(volumes: Volume[], type: MountType): string {
  const options =
    type === "9p" ? "-t 9p -o trans=virtio,version=9p2000.L,msize=262144" : "-t virtiofs";
  return volumes
    .map(
      (v, index) =>
        `mkdir -p ${v.guest} && { mountpoint -q ${v.guest} || mount ${options} ${shareTag(index)} ${v.guest}; }`,
    )
    .join(" && ");
}
