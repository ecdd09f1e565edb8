// Optional extensions: left out of the default image, built with `podboot build --with NAME` and
// then loaded at boot like any other. kubectl (a client) and docker (an engine whose daemon stays
// off until `podboot-enable docker`); docker brings the xtables kernel fragment with it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SerialVm } from "../../builder/vm/console.ts";
import { chooseAccel, isoKernel } from "../../builder/vm/qemu.ts";
import { FIRST_BUILD_LIMIT, buildIso, e2eOut, paced } from "./build.ts";

let out: string;
let vm: SerialVm;
let outside: Server;

interface Manifest {
  extensions: { name: string }[];
  kernel: { fragments: string[] };
  components: { name: string; provenance: string; files?: { path: string; sha256: string }[] }[];
}
const manifestOf = async (dir: string): Promise<Manifest> =>
  JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8"));

beforeAll(
  async () => {
    out = await mkdtemp(path.join(os.tmpdir(), "podboot-with-"));
    await buildIso({ out, flags: ["--with", "kubectl,docker"] });
    await buildIso();
    // A server on the host's loopback, which QEMU's user network shows the guest as 10.0.2.2.
    outside = createServer((_req, res) => res.end("hello from outside\n"));
    await new Promise<void>((resolve) => outside.listen(0, "127.0.0.1", resolve));
    const accel = await chooseAccel("auto");
    vm = SerialVm.start({
      iso: path.join(out, "podboot.iso"),
      memoryMiB: 1024,
      firmware: "bios",
      accel,
    });
    await vm.waitForShell(300_000);
  },
  FIRST_BUILD_LIMIT + paced(30 * 60_000),
);

afterAll(() => {
  vm?.kill();
  outside?.close();
});

describe("optional extensions", () => {
  it("are left out of the default image and built with --with, below the overlay", async () => {
    const plain = await manifestOf(e2eOut);
    expect(plain.extensions.map((e) => e.name)).not.toContain("kubectl");
    expect(plain.extensions.map((e) => e.name)).not.toContain("docker");
    expect(plain.kernel.fragments).not.toContain("xtables");
    const withBoth = await manifestOf(out);
    expect(withBoth.extensions.map((e) => e.name).slice(-3)).toEqual([
      "kubectl",
      "docker",
      "overlay",
    ]);
    // docker's fragment went into the compiled kernel, and the build checked it.
    expect(withBoth.kernel.fragments).toContain("xtables");
    // runc, which only docker's extension ships, is compiled for it and for nothing else.
    expect(plain.components.map((c) => c.name)).not.toContain("runc");
    const runc = withBoth.components.find((c) => c.name === "runc")!;
    expect(runc.provenance).toMatch(/^compiled from source/);
    const inVm = await vm.run("sha256sum /usr/sbin/runc | cut -d' ' -f1");
    expect(inVm.output).toBe(runc.files![0]!.sha256);
  });

  it("kubectl runs", async () => {
    const version = await vm.run("kubectl version --client 2>&1", 60_000);
    expect(version.status).toBe(0);
    expect(version.output).toMatch(/Client Version: v1\.\d+\.\d+/);
  });

  it("no docker daemon, containerd or socket until it is enabled; the banner says so", async () => {
    // No process of either name (grep finds none: status 1), and no socket.
    const processes = await vm.run("ps -o comm | grep -E '^(dockerd|containerd)$'");
    expect(processes).toEqual({ output: "", status: 1 });
    expect((await vm.run("ps -o comm | grep -c -E '^(sh|init)$'")).status).toBe(0); // ps works
    const socket = await vm.run("ls /run/docker.sock /var/run/docker.sock 2>&1");
    expect(socket.status).not.toBe(0);
    expect(socket.output).toMatch(/\/run\/docker\.sock: No such file or directory/);
    expect((await vm.run("podboot-status")).output).toContain(
      "docker: off (podboot-enable docker starts it)",
    );
    const unknown = await vm.run("podboot-enable dockr 2>&1");
    expect(unknown).toEqual({
      output: "podboot-enable: unknown service 'dockr' — the services are: docker",
      status: 2,
    });
  });

  it(
    "podboot-enable docker starts it: cgroup v2 with cgroupfs, the baked image runs on docker's bridge with NAT",
    async () => {
      const enable = await vm.run("podboot-enable docker 2>&1", 120_000);
      expect(enable.status, enable.output).toBe(0);
      expect(enable.output).toMatch(/docker is running \(data: \/var\/lib\/docker/);
      const info = await vm.run("docker info --format '{{.CgroupVersion}} {{.CgroupDriver}}'");
      expect(info).toEqual({ output: "2 cgroupfs", status: 0 });
      const load = await vm.run(
        "podman save --format docker-archive localhost/podboot-hello | docker load 2>&1",
        120_000,
      );
      expect(load.status, load.output).toBe(0);
      const hello = await vm.run("docker run --rm localhost/podboot-hello 2>&1", 120_000);
      expect(hello.status, hello.output).toBe(0);
      expect(hello.output).toContain("Hello from podboot");
      // Out through docker's bridge and iptables MASQUERADE (nft_compat), to the host's loopback.
      const port = (outside.address() as AddressInfo).port;
      const nat = await vm.run(
        `docker run --rm localhost/podboot-hello wget -qO- http://10.0.2.2:${port}/ 2>&1`,
        120_000,
      );
      expect(nat).toEqual({ output: "hello from outside", status: 0 });
      expect((await vm.run("podboot-status")).output).toContain("docker: running");
      expect((await vm.run("podboot-enable docker")).output).toBe(
        "podboot-enable: docker is already running",
      );
    },
    paced(10 * 60_000),
  );

  it(
    "the boot code podboot.enable=docker starts it in the background; an unknown service is a warning",
    async () => {
      vm.kill();
      const iso = path.join(out, "podboot.iso");
      vm = SerialVm.start({
        iso,
        memoryMiB: 1024,
        firmware: "bios",
        accel: await chooseAccel("auto"),
        direct: {
          kernel: await isoKernel(iso, out),
          initrd: path.join(out, "initrd.img"),
          bootCodes: ["podboot.enable=docker,dockr"],
        },
      });
      await vm.waitForShell(300_000);
      expect(vm.transcript).toMatch(
        /boot code 'podboot.enable=dockr' ignored: unknown service 'dockr'; the services are: docker/,
      );
      expect(vm.transcript).toMatch(
        /starting docker \(podboot\.enable; output: \/run\/podboot\/enable-docker\.log\)/,
      );
      // The boot did not wait for it: docker comes up in the background.
      const up = await vm.run(
        "i=0; until docker info >/dev/null 2>&1 || [ $i -ge 180 ]; do sleep 1; i=$((i+1)); done; docker info --format '{{.CgroupDriver}}'",
        240_000,
      );
      expect(up, await vm.run("cat /run/podboot/enable-docker.log").then((r) => r.output)).toEqual({
        output: "cgroupfs",
        status: 0,
      });
      expect((await vm.run("podboot-status")).output).toContain("docker: running");
    },
    paced(10 * 60_000),
  );
});
