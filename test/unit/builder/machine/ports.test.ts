import { describe, expect, it } from "vitest";
import {
  forwardKey,
  hostfwdRule,
  isPortEvent,
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
