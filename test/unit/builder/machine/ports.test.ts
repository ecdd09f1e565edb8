// What the port follower reads in the machine: podman's listings and events.
import { execa } from "execa";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  forwardKey,
  hostfwdRule,
  isPortEvent,
  PS_COMMAND,
  psParts,
  publishedPorts,
} from "../../../../builder/machine/ports.ts";

describe("publishedPorts", () => {
  it("reads podman ps' published ports: ranges expanded, duplicates once, udp kept", () => {
    const ps = JSON.stringify([
      { Ports: [{ host_ip: "", container_port: 80, host_port: 8080, range: 1, protocol: "tcp" }] },
      {
        Ports: [
          { host_ip: "0.0.0.0", container_port: 53, host_port: 5353, range: 1, protocol: "udp" },
          { host_ip: "", container_port: 9000, host_port: 9000, range: 3, protocol: "tcp" },
          { host_ip: "", container_port: 80, host_port: 8080, range: 1, protocol: "tcp" },
        ],
      },
    ]);
    expect(publishedPorts(ps).map(forwardKey)).toEqual([
      "8080/tcp",
      "5353/udp",
      "9000/tcp",
      "9001/tcp",
      "9002/tcp",
    ]);
  });

  it("leaves out containers without ports and ports bound to one of the guest's addresses", () => {
    const ps = JSON.stringify([
      { Ports: null },
      {},
      { Ports: [{ host_ip: "127.0.0.1", host_port: 8081, range: 1, protocol: "tcp" }] },
      { Ports: [{ host_ip: "", host_port: 0, range: 1, protocol: "tcp" }] },
      { Ports: [{ host_ip: "", host_port: 7000, range: 1, protocol: "sctp" }] },
    ]);
    expect(publishedPorts(ps)).toEqual([]);
    expect(publishedPorts("")).toEqual([]);
  });

  it("forwards from the host's loopback only, to the same port in the guest", () => {
    expect(hostfwdRule({ protocol: "tcp", port: 8080 })).toBe("tcp:127.0.0.1:8080-:8080");
    expect(hostfwdRule({ protocol: "udp", port: 5353 })).toBe("udp:127.0.0.1:5353-:5353");
  });
});

describe("isPortEvent", () => {
  // Lines as podman's file events logger writes them (one JSON object per line).
  const event = (type: string, status: string) =>
    JSON.stringify({
      ID: "4f1c",
      Image: "localhost/podboot-hello",
      Name: "web",
      Status: status,
      Time: "2026-12-06T03:00:00Z",
      Type: type,
    });

  it("wakes the follower for container starts, deaths and removals", () => {
    for (const status of ["start", "died", "remove", "stop", "restart", "cleanup"])
      expect(isPortEvent(event("container", status)), status).toBe(true);
  });

  it("ignores other container events, image and volume events and partial lines", () => {
    expect(isPortEvent(event("container", "create"))).toBe(false);
    expect(isPortEvent(event("container", "exec_died"))).toBe(false);
    expect(isPortEvent(event("image", "remove"))).toBe(false);
    expect(isPortEvent(event("volume", "remove"))).toBe(false);
    expect(isPortEvent('{"ID":"4f1c","Status":"sta')).toBe(false);
  });
});

describe("PS_COMMAND", () => {
  it("lists root's and podboot's containers in one session, each part with its exit status", async () => {
    // A podman that warns and lists one container for root and fails for the podboot user, and
    // an su that runs the command as given: the real command line, run by sh.
    const bin = await mkdtemp(path.join(os.tmpdir(), "podboot-ps-"));
    const ps = JSON.stringify([{ Ports: [{ host_ip: "", host_port: 8080, protocol: "tcp" }] }]);
    await writeFile(
      path.join(bin, "podman"),
      `#!/bin/sh\nif [ -n "$AS_PODBOOT" ]; then echo "Error: no runtime dir" >&2; exit 125; fi\necho 'WARN[0000] a warning first' >&2\necho '${ps}'\n`,
      { mode: 0o755 },
    );
    await writeFile(path.join(bin, "su"), '#!/bin/sh\nAS_PODBOOT=1 exec sh -c "$4"\n', {
      mode: 0o755,
    });
    const out = await execa("sh", ["-c", PS_COMMAND], {
      env: { PATH: `${bin}:${process.env.PATH}` },
      all: true,
    });
    const parts = psParts(out.all);
    expect(parts.map((p) => [p.command, p.exitCode])).toEqual([
      ["podman ps --format json", 0],
      ["su - podboot -c 'podman ps --format json'", 125],
    ]);
    expect(publishedPorts(parts[0]!.text).map(forwardKey)).toEqual(["8080/tcp"]);
    expect(parts[1]!.text.trim()).toBe("Error: no runtime dir");
  });

  it("gives no parts when the session ended early", () => {
    expect(psParts("ssh: connect to host 127.0.0.1 port 2222: Connection refused")).toEqual([]);
  });
});
