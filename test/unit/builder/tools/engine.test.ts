import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  cliRunArgs,
  markedArgs,
  openEngine,
  STARTED_MARKER,
} from "../../../../builder/tools/engine.ts";
import { compileSpec as spec } from "./fixtures.ts";

/** The value after each occurrence of a flag. */
const values = (args: string[], flag: string) =>
  args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

describe("the command behind the started marker", () => {
  it("prints the marker, then execs the command with its arguments untouched", () => {
    expect(markedArgs(["/bin/sh", "-c", "echo 'a b'"])).toEqual([
      "/bin/sh",
      "-c",
      `echo "${STARTED_MARKER}"; exec "$@"`,
      "sh",
      "/bin/sh",
      "-c",
      "echo 'a b'",
    ]);
  });
});

describe("podman and docker run arguments", () => {
  for (const engine of ["podman", "docker"] as const) {
    const args = cliRunArgs(engine, spec, "podboot-conmon-1", "podboot-build-root:abc");

    it(`${engine}: no network, read-only root, no new privileges, the runc capability set`, () => {
      expect(args.slice(0, 3)).toEqual(["run", "--rm", "--name"]);
      expect(values(args, "--network")).toEqual(["none"]);
      const fetching = cliRunArgs(engine, { ...spec, network: "host" }, "n", "podboot-root:abc");
      expect(values(fetching, "--network")).toEqual(["host"]);
      expect(args).toContain("--read-only");
      expect(values(args, "--security-opt")).toEqual(["no-new-privileges"]);
      expect(values(args, "--cap-drop")).toEqual(["all"]);
      expect(values(args, "--cap-add")).toContain("CAP_CHOWN");
      expect(values(args, "--cap-add")).not.toContain("CAP_SYS_ADMIN");
    });

    it(`${engine}: sources bound read-only, the output read-write, env and workdir passed`, () => {
      expect(values(args, "--mount")).toEqual([
        "type=bind,source=/cache/src.tar,destination=/sources/src.tar,readonly",
        "type=bind,source=/cache/tree,destination=/out",
      ]);
      expect(values(args, "--env")).toEqual(["DESTDIR=/out", "JOBS=2"]);
      expect(values(args, "--workdir")).toEqual(["/"]);
      expect(args.slice(-markedArgs(spec.args).length)).toEqual(markedArgs(spec.args));
    });
  }

  it("podman runs the build root directory itself; docker runs the image imported from it", () => {
    const podman = cliRunArgs("podman", spec, "n");
    expect(values(podman, "--rootfs")).toEqual(["/cache/root"]);
    const docker = cliRunArgs("docker", spec, "n", "podboot-build-root:abc");
    expect(docker).not.toContain("--rootfs");
    expect(docker[docker.indexOf("/bin/sh") - 1]).toBe("podboot-build-root:abc");
    expect(values(docker, "--tmpfs")).toEqual(["/tmp", "/run"]);
    expect(values(docker, "--pull")).toEqual(["never"]);
  });
});

describe("openEngine", () => {
  const savedPath = process.env.PATH;
  afterEach(() => {
    process.env.PATH = savedPath;
  });

  it("an engine that is not installed: names it, how to install it and the default", async () => {
    process.env.PATH = await mkdtemp(path.join(os.tmpdir(), "podboot-empty-path-"));
    await expect(openEngine("docker", "/cache")).rejects.toThrow(
      "--engine docker: docker is not installed",
    );
    const error = await openEngine("podman", "/cache").catch((e: { oneLine(): string }) => e);
    expect((error as { oneLine(): string }).oneLine()).toBe(
      "podboot: --engine podman: podman is not installed — install it (apt-get install podman) or build with the default engine, --engine runc",
    );
  });

  it("runc needs no daemon: opening it checks nothing", async () => {
    process.env.PATH = "";
    expect((await openEngine("runc", "/cache")).name).toBe("runc");
  });
});
