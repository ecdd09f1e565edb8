// No race at boot: whatever a user reaches over SSH finds the system ready. A client polls the
// VM's SSH port from the moment QEMU starts and, the first time a login is accepted, runs the
// baked image — as root, as the rootless user podboot, and through podman's API from this
// machine. None may see a missing image, a registry lookup or a missing API socket.
import { execa } from "execa";
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SerialVm } from "../../builder/vm/console.ts";
import { chooseAccel, isoKernel } from "../../builder/vm/qemu.ts";
import { remoteClientEnv } from "../../builder/vm/remote.ts";
import { FIRST_BUILD_LIMIT, buildIso, iso, outPath, paced } from "./build.ts";

const work = await mkdtemp(path.join(os.tmpdir(), "podboot-ready-"));
const key = path.join(work, "id_ed25519");
const sshPort = 20000 + Math.floor(Math.random() * 20000);
let vm: SerialVm;
const firstLogin: { user: string; exitCode: number; output: string; uptime: string }[] = [];

const ssh = (user: string, command: string) =>
  execa(
    "ssh",
    [
      ...["-p", String(sshPort), "-i", key, "-o", "BatchMode=yes", "-o", "ConnectTimeout=3"],
      ...[
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
      ],
      `${user}@127.0.0.1`,
      command,
    ],
    { reject: false, all: true, timeout: 300_000 },
  );

beforeAll(async () => {
  await buildIso();
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  const [type, blob] = (await readFile(`${key}.pub`, "utf8")).split(" ");
  vm = SerialVm.start({
    iso,
    memoryMiB: 512,
    firmware: "bios",
    accel: await chooseAccel("auto"),
    sshPort,
    direct: {
      kernel: await isoKernel(iso, work),
      initrd: outPath("initrd.img"),
      bootCodes: [`podboot.sshkey=${type},${blob}`],
    },
  });
  // Poll as a script or a machine tool would: the first accepted login runs the image at once.
  const deadline = Date.now() + paced(240_000);
  while (Date.now() < deadline) {
    const run = await ssh(
      "root",
      "podman run --rm localhost/podboot-hello 2>&1; echo \"uptime $(cut -d' ' -f1 /proc/uptime)\"",
    );
    if (run.exitCode !== 255) {
      firstLogin.push({
        user: "root",
        exitCode: run.exitCode ?? -1,
        output: run.all ?? "",
        uptime: /uptime (\S+)/.exec(run.all ?? "")?.[1] ?? "?",
      });
      break;
    }
    await sleep(200);
  }
}, FIRST_BUILD_LIMIT);

afterAll(() => vm?.kill());

it("the first SSH login the VM accepts runs the baked image (root)", () => {
  expect(firstLogin, vm.transcript.slice(-2000)).toHaveLength(1);
  const [login] = firstLogin;
  expect(login!.output).toContain("Hello from podboot");
  expect(login!.output).not.toMatch(/pinging container registry|image not known/);
});

it(
  "at once, the rootless user runs it too, and podman's API answers over SSH",
  async () => {
    const rootless = await ssh("podboot", "podman run --rm localhost/podboot-hello 2>&1");
    expect(rootless.exitCode, rootless.all).toBe(0);
    expect(rootless.all).toContain("Hello from podboot");
    const remote = await execa(
      "podman",
      [
        ...["--url", `ssh://root@127.0.0.1:${sshPort}/run/podman/podman.sock`, "--identity", key],
        ...["run", "--rm", "localhost/podboot-hello"],
      ],
      { reject: false, all: true, env: await remoteClientEnv(sshPort, work) },
    );
    expect(remote.exitCode, remote.all).toBe(0);
    expect(remote.stdout).toContain("Hello from podboot");
  },
  paced(600_000),
);
