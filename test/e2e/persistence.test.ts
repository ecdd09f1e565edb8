// The booted system with a data disk, under QEMU: autoformat of a marked disk seeded with an SSH
// key, key-only SSH, persistence of containers, images and the host key across reboots, recovery
// after a power cut, and the bad inputs (two labelled disks, a corrupt or full filesystem, a
// wrong key, malformed boot codes). The tests run in order and share the disk.
import { execa } from "execa";
import { copyFile, mkdtemp, open, readFile, truncate } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import tarStream from "tar-stream";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FIRST_BUILD_LIMIT, buildIso, iso, outPath, paced } from "./build.ts";
import { SerialVm } from "../../builder/vm/console.ts";
import { chooseAccel, isoKernel, type Accel, type VmSpec } from "../../builder/vm/qemu.ts";
import { remoteClientEnv } from "../../builder/vm/remote.ts";

const MAGIC = "podboot, please format-me";
const work = await mkdtemp(path.join(os.tmpdir(), "podboot-persist-"));
const disk = path.join(work, "data.img");
const knownHosts = path.join(work, "known_hosts");
const key = path.join(work, "id_ed25519");
const wrongKey = path.join(work, "wrong_ed25519");
let accel: Accel;
let vm: SerialVm | undefined;
let sshPort = 0;

beforeAll(async () => {
  await buildIso();
  accel = await chooseAccel("auto");
  for (const file of [key, wrongKey]) {
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "podboot-test", "-f", file]);
  }
  await makeMarkedDisk(disk, await readFile(`${key}.pub`, "utf8"));
}, FIRST_BUILD_LIMIT);

afterEach(() => {
  vm?.kill();
  vm = undefined;
});

/** A blank 512 MiB disk that starts with the autoformat marker and a seed tar. */
async function makeMarkedDisk(file: string, publicKey: string): Promise<void> {
  const pack = tarStream.pack();
  pack.entry({ name: MAGIC }, "");
  pack.entry({ name: ".ssh/authorized_keys", mode: 0o600 }, publicKey);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  await truncate(file, 0).catch(() => undefined);
  const handle = await open(file, "w");
  await handle.write(Buffer.concat(chunks), 0, undefined, 0);
  await handle.truncate(512 * 1024 * 1024);
  await handle.close();
}

async function boot(disks: string[], extra: Partial<VmSpec> = {}): Promise<SerialVm> {
  sshPort = 20000 + Math.floor(Math.random() * 20000);
  vm = SerialVm.start({ iso, memoryMiB: 512, firmware: "bios", accel, sshPort, disks, ...extra });
  await vm.waitFor(/podboot: ready/, 240_000);
  return vm;
}

/** Runs a command over SSH. Host keys are remembered under an alias, not the (random) port. */
function ssh(
  command: string,
  options: {
    identity?: string;
    user?: string;
    strict?: boolean;
    hostAlias?: string;
    /** A file sent to the command's standard input. */
    inputFile?: string;
  } = {},
) {
  return execa(
    "ssh",
    [
      ...["-p", String(sshPort), "-i", options.identity ?? key],
      ...["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=30"],
      ...["-o", `UserKnownHostsFile=${knownHosts}`],
      ...["-o", `HostKeyAlias=${options.hostAlias ?? "podboot-data"}`],
      ...["-o", `StrictHostKeyChecking=${options.strict ? "yes" : "accept-new"}`],
      `${options.user ?? "root"}@127.0.0.1`,
      command,
    ],
    { reject: false, all: true, timeout: 180_000, inputFile: options.inputFile },
  );
}

/**
 * Damages the filesystem on the disk's first partition the way a newer system would leave it for
 * an older one: an incompatible feature bit e2fsck does not know. The label still reads, and
 * `e2fsck -p` refuses the filesystem (exit 8).
 */
async function markUnknownFeature(image: string): Promise<void> {
  const handle = await open(image, "r");
  const read = async (offset: number, length: number) => {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, offset);
    return buffer;
  };
  const partition = (await read(0, 512)).readUInt32LE(446 + 8) * 512;
  const incompat = (await read(partition + 1024 + 0x60, 4)).readUInt32LE(0);
  await handle.close();
  const withUnknownBit = (incompat | 0x80000000) >>> 0;
  await execa("debugfs", [
    ...["-w", "-R", `ssv feature_incompat ${withUnknownBit}`],
    `${image}?offset=${partition}`,
  ]);
}

/** The host's podman as a remote client of the VM, with a throwaway HOME holding the host key. */
async function remotePodman(args: string[]) {
  const url = `ssh://root@127.0.0.1:${sshPort}/run/podman/podman.sock`;
  return execa("podman", ["--url", url, "--identity", key, ...args], {
    reject: false,
    all: true,
    timeout: 180_000,
    env: await remoteClientEnv(sshPort, work),
  });
}

describe.sequential("a podboot-data disk", () => {
  it(
    "a marked blank disk is formatted and seeded; SSH takes the seeded key and nothing else",
    async () => {
      const vm = await boot([disk]);
      expect(vm.transcript).toContain("podboot: formatted /dev/vda1 as podboot-data");
      expect(vm.transcript).toMatch(/persistence: on \/dev\/vda1 \(podboot-data/);

      const made = await ssh(
        "podman run --name keep localhost/podboot-hello >/dev/null && " +
          "podman commit --quiet keep localhost/kept:1 >/dev/null && " +
          "podman run -d --restart=always --name always localhost/podboot-hello sleep 100000 >/dev/null && " +
          "echo 'date >/run/bootlocal-ran' >/var/lib/podboot/bootlocal.sh && " +
          "echo committed >/var/lib/podboot/committed && sync && echo done",
      );
      expect(made.all).toContain("done");
      expect((await ssh("id -un", { user: "podboot" })).stdout).toBe("podboot");

      const wrong = await ssh("true", { identity: wrongKey });
      expect(wrong.exitCode).toBe(255);
      // The server offers public keys only: no password or keyboard-interactive method at all.
      expect(wrong.stderr).toMatch(/Permission denied \(publickey\)/);

      // Nothing but the SSH server listens on the network.
      const listening = await ssh("netstat -tuln | awk 'NR > 2 { print $1, $4 }'");
      const sockets = listening.stdout.split("\n").filter(Boolean);
      expect(sockets.length).toBeGreaterThan(0);
      for (const socket of sockets) expect(socket).toMatch(/^tcp6? .*:22$/);

      // The loadable tools extension is not in the ISO: podboot-load says where it goes, refuses
      // another build's image, then mounts this build's from the data disk.
      expect((await ssh("command -v buildah")).exitCode).not.toBe(0);
      const missing = await ssh("podboot-load tools");
      expect(missing.exitCode).toBe(1);
      expect(missing.stderr).toMatch(/extensions\/tools\.sqfs is not there — copy out\/extensions/);
      const other = await ssh("cat > /tmp/other.sqfs && podboot-load tools /tmp/other.sqfs", {
        inputFile: outPath("podboot.iso"),
      });
      expect(other.exitCode).toBe(1);
      expect(other.stderr).toMatch(/is not this build's tools: its sha256 is not the one/);
      const copied = await ssh("cat > /var/lib/podboot/extensions/tools.sqfs && sync", {
        inputFile: outPath("extensions", "tools.sqfs"),
      });
      expect(copied.exitCode, copied.all).toBe(0);
      const loaded = await ssh("podboot-load tools && buildah --version && skopeo --version");
      expect(loaded.exitCode, loaded.all).toBe(0);
      expect(loaded.stdout).toMatch(/podboot-load: tools loaded/);
      expect(loaded.stdout).toMatch(/^buildah version /m);

      expect(await vm.poweroff(120_000)).toBe(0);
    },
    paced(10 * 60_000),
  );

  it(
    "after a reboot the container, the image and the host key are still there",
    async () => {
      const vm = await boot([disk]);
      expect(vm.transcript).not.toContain("formatted");
      // StrictHostKeyChecking=yes against the first boot's known_hosts: same host key.
      const check = await ssh(
        "podman ps -a --format '{{.Names}}'; podman image exists localhost/kept:1 && echo image-kept",
        { strict: true },
      );
      expect(check.exitCode).toBe(0);
      expect(check.stdout).toMatch(/keep/);
      expect(check.stdout).toContain("image-kept");
      // The --restart=always container came back, and bootlocal.sh ran.
      const restarted = await ssh(
        "podman ps --format '{{.Names}}'; test -s /run/bootlocal-ran && echo bootlocal-ran",
      );
      expect(restarted.stdout).toMatch(/always/);
      expect(restarted.stdout).toContain("bootlocal-ran");
      // The tools extension on the data disk was loaded at boot, before SSH let anyone in.
      const tools = await ssh("podboot-load --list; buildah --version");
      expect(tools.stdout).toMatch(/^tools {2}loaded$/m);
      expect(tools.stdout).toMatch(/^buildah version /m);

      // podman on the host drives the VM through SSH, as `podman system connection` users do.
      const remote = await remotePodman(["ps", "-a", "--format", "{{.Names}}"]);
      expect(remote.all).toMatch(/keep/);
      const run = await remotePodman(["run", "--rm", "localhost/podboot-hello"]);
      expect(run.stdout).toContain("Hello from podboot");

      // A power cut in the middle of writes.
      await ssh(
        "nohup dd if=/dev/urandom of=/var/lib/podboot/junk bs=64k count=4000 >/dev/null 2>&1 & sleep 2",
      );
      vm.kill();
    },
    paced(10 * 60_000),
  );

  it(
    "after a power cut the filesystem recovers and committed data is intact",
    async () => {
      const vm = await boot([disk]);
      expect(vm.transcript).toMatch(/persistence: on \/dev\/vda1/);
      const check = await ssh("cat /var/lib/podboot/committed; podman ps -a --format '{{.Names}}'");
      expect(check.stdout).toMatch(/^committed\nkeep/);

      // Fill the disk for the next test.
      await ssh(
        "dd if=/dev/zero of=/var/lib/podboot/fill bs=1M 2>/dev/null; sync; df -k /mnt/data",
      );
      expect(await vm.poweroff(120_000)).toBe(0);
    },
    paced(10 * 60_000),
  );

  it(
    "a full data disk: the boot completes and warns; the released reserve lets podman free space",
    async () => {
      const vm = await boot([disk]);
      expect(vm.transcript).toMatch(
        /WARNING: \/dev\/vda1 \(podboot-data\) is full: its 16 MiB reserve was released/,
      );
      const check = await ssh(
        "podman ps -a --format '{{.Names}}' && rm -f /var/lib/podboot/fill /var/lib/podboot/junk && sync",
      );
      expect(check.stdout).toContain("keep");
      expect(await vm.poweroff(120_000)).toBe(0);
    },
    paced(10 * 60_000),
  );

  it(
    "a corrupt data filesystem: e2fsck runs, the boot goes on in RAM and says so loudly",
    async () => {
      const corrupt = path.join(work, "corrupt.img");
      await copyFile(disk, corrupt);
      await markUnknownFeature(corrupt);
      const vm = await boot([corrupt]);
      expect(vm.transcript).toMatch(/WARNING: \/dev\/vda1 \(podboot-data\) has filesystem errors/);
      expect(vm.transcript).toMatch(/persistence: off \(\/dev\/vda1 needs repair/);
      await vm.waitFor(/root@podboot/, 60_000);
      const hello = await vm.run("podman run --rm localhost/podboot-hello | tail -n 1", 180_000);
      expect(hello.output).toContain("Hello from podboot");
    },
    paced(10 * 60_000),
  );

  it(
    "two labelled disks and malformed boot codes: warnings, no guess, a boot-code key works",
    async () => {
      const twin = path.join(work, "twin.img");
      await copyFile(disk, twin);
      const [type, blob] = (await readFile(`${wrongKey}.pub`, "utf8")).split(" ");
      const vm = await boot([disk, twin], {
        direct: {
          kernel: await isoKernel(iso, work),
          initrd: outPath("initrd.img"),
          bootCodes: [
            "podboot.waitdisk=soon",
            "podboot.colour=blue",
            `podboot.sshkey=${type},${blob}`,
          ],
        },
      });
      expect(vm.transcript).toMatch(
        /boot code 'podboot.waitdisk=soon' ignored: give whole seconds/,
      );
      expect(vm.transcript).toMatch(/boot code 'podboot.colour=blue' ignored: unknown/);
      expect(vm.transcript).toMatch(
        /several disks are labelled podboot-data \(\/dev\/vda1 \/dev\/vdb1\)/,
      );
      expect(vm.transcript).toMatch(/persistence: off \(several disks/);
      // Without the data disk only the boot code's key is authorized.
      const asRam = { hostAlias: "podboot-in-ram" };
      expect((await ssh("echo in", { ...asRam, identity: wrongKey })).stdout).toBe("in");
      expect((await ssh("echo in", asRam)).exitCode).toBe(255);
    },
    paced(10 * 60_000),
  );
});
