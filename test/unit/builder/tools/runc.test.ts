import { describe, expect, it } from "vitest";
import { ociConfig } from "../../../../builder/tools/runc.ts";
import { compileSpec } from "./fixtures.ts";

const config = ociConfig(compileSpec) as {
  root: { path: string; readonly: boolean };
  process: { env: string[]; rlimits?: unknown; noNewPrivileges: boolean };
  mounts: { destination: string; options?: string[] }[];
  linux: { namespaces: { type: string }[] };
};

describe("ociConfig (build container)", () => {
  it("has its own network namespace, so nothing reaches the network while compiling", () => {
    expect(config.linux.namespaces.map((n) => n.type)).toContain("network");
  });

  it("shares the host's network only when a fetch step asks for it", () => {
    const fetching = ociConfig({ ...compileSpec, network: "host" }) as typeof config;
    expect(fetching.linux.namespaces.map((n) => n.type)).toEqual(["pid", "ipc", "uts", "mount"]);
  });

  it("keeps the root read-only and binds sources read-only, the output read-write", () => {
    expect(config.root).toEqual({ path: "/cache/root", readonly: true });
    const optionsOf = (dest: string) => config.mounts.find((m) => m.destination === dest)?.options;
    expect(optionsOf("/sources/src.tar")).toContain("ro");
    expect(optionsOf("/out")).toContain("rw");
  });

  it("sets no rlimits (they fail on hosts like CI's) and no new privileges", () => {
    expect(config.process.rlimits).toBeUndefined();
    expect(config.process.noNewPrivileges).toBe(true);
    expect(config.process.env).toEqual(["DESTDIR=/out", "JOBS=2"]);
  });

  it("leaves /dev able to hold device nodes", () => {
    expect(config.mounts.find((m) => m.destination === "/dev")?.options).not.toContain("nodev");
  });
});
