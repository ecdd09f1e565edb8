// Container networking in the booted ISO (netavark + aardvark-dns + nftables): a published port
// reachable from the host through QEMU's port forward, two containers on a user network finding
// each other by name, and a container reaching a server outside through NAT (QEMU's user network
// maps 10.0.2.2 to the host's loopback).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FIRST_BUILD_LIMIT, buildIso, iso, paced } from "./build.ts";
import { SerialVm } from "../../builder/vm/console.ts";
import { chooseAccel } from "../../builder/vm/qemu.ts";

const hostPort = 20000 + Math.floor(Math.random() * 20000);
let vm: SerialVm;
let outside: Server;
let outsidePort: number;

// busybox's httpd in the baked image, serving one page.
const serve = (text: string) =>
  `sh -c 'mkdir -p /www && echo ${text} >/www/index.html && exec httpd -f -p 80 -h /www'`;

beforeAll(async () => {
  await buildIso();
  outside = createServer((_req, res) => res.end("hello from outside\n"));
  await new Promise<void>((resolve) => outside.listen(0, "127.0.0.1", resolve));
  outsidePort = (outside.address() as AddressInfo).port;
  vm = SerialVm.start({
    iso,
    memoryMiB: 512,
    firmware: "bios",
    accel: await chooseAccel("auto"),
    forwards: [{ host: hostPort, guest: 8080 }],
  });
  await vm.waitForShell();
}, FIRST_BUILD_LIMIT);

afterAll(async () => {
  vm?.kill();
  outside?.close();
});

it(
  "a published port (-p 8080:80) answers on the host",
  async () => {
    const started = await vm.run(
      `podman run -d --name web -p 8080:80 localhost/podboot-hello ${serve("published")}`,
      180_000,
    );
    expect(started.status).toBe(0);
    let body = "";
    for (let attempt = 0; attempt < 20 && !body; attempt++) {
      // Each attempt is bounded: until netavark's DNAT rule is in place a connection can reach
      // the port podman holds open and wait there forever.
      body = await fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(5000) })
        .then((r) => r.text())
        .catch(() => "");
      if (!body) await sleep(1000);
    }
    expect(body.trim()).toBe("published");
  },
  paced(300_000),
);

it(
  "podman's macvlan and ipvlan network drivers run the baked image",
  async () => {
    for (const driver of ["macvlan", "ipvlan"]) {
      const result = await vm.run(
        [
          `podman network create -d ${driver} -o parent=eth0 --subnet 10.9${driver === "macvlan" ? 1 : 2}.0.0/24 podboot-${driver} >/dev/null`,
          `podman run --rm --network podboot-${driver} localhost/podboot-hello sh -c 'ip -o -4 addr show scope global'`,
        ].join(" && "),
        240_000,
      );
      expect(result.status, result.output).toBe(0);
      expect(result.output).toMatch(
        new RegExp(`inet 10\\.9${driver === "macvlan" ? 1 : 2}\\.0\\.`),
      );
    }
  },
  paced(300_000),
);

it("the kernel's configuration is in /proc/config.gz, with what container checkers look for", async () => {
  const config = await vm.run(
    "zcat /proc/config.gz | grep -E '^CONFIG_(MACVLAN|IPVLAN|DUMMY|VXLAN|BRIDGE_VLAN_FILTERING|EXT4_FS_POSIX_ACL|EXT4_FS_SECURITY)=y' | sort",
  );
  expect(config.output.split("\n")).toEqual([
    "CONFIG_BRIDGE_VLAN_FILTERING=y",
    "CONFIG_DUMMY=y",
    "CONFIG_EXT4_FS_POSIX_ACL=y",
    "CONFIG_EXT4_FS_SECURITY=y",
    "CONFIG_IPVLAN=y",
    "CONFIG_MACVLAN=y",
    "CONFIG_VXLAN=y",
  ]);
});

it(
  "two containers on a user network resolve each other by name (aardvark-dns)",
  async () => {
    const result = await vm.run(
      [
        "podman network create podboot-test >/dev/null",
        `podman run -d --name named --network podboot-test localhost/podboot-hello ${serve("by-name")} >/dev/null`,
        "podman run --rm --network podboot-test localhost/podboot-hello wget -qO- http://named/",
      ].join(" && "),
      240_000,
    );
    expect(result.output.split("\n").at(-1)).toBe("by-name");
    expect(result.status).toBe(0);
  },
  paced(300_000),
);

it(
  "a container reaches a server outside the VM through NAT",
  async () => {
    const result = await vm.run(
      `podman run --rm localhost/podboot-hello wget -qO- http://10.0.2.2:${outsidePort}/`,
      180_000,
    );
    expect(result.output.split("\n").at(-1)).toBe("hello from outside");
    expect(result.status).toBe(0);
  },
  paced(300_000),
);
