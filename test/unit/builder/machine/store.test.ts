import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PodbootError } from "../../../../builder/errors.ts";
import { machinePaths, makeSocketDir, socketDir } from "../../../../builder/machine/store.ts";

describe("socketDir", () => {
  const deep = "/" + Array.from({ length: 12 }, (_, i) => `a-rather-long-folder-${i}`).join("/");

  it("keeps every socket path under 108 bytes, however deep the machines' directory is", () => {
    const paths = machinePaths("a-machine-name-of-thirty-chars", deep);
    expect(paths.dir.length).toBeGreaterThan(200);
    expect(paths.qmpSocket.length).toBeLessThan(108);
    expect(path.join(paths.sockets, "fs15.sock").length).toBeLessThan(108);
  });

  it("is one directory per machine, the same at every start", () => {
    expect(socketDir("/m/one", {})).toBe(socketDir("/m/one", {}));
    expect(socketDir("/m/one", {})).not.toBe(socketDir("/m/two", {}));
  });

  it("uses a short runtime directory, else a per-user one in /tmp", () => {
    expect(socketDir("/m/one", { XDG_RUNTIME_DIR: "/run/user/1000" })).toMatch(
      /^\/run\/user\/1000\/podboot\/[0-9a-f]{16}$/,
    );
    const uid = os.userInfo().uid;
    const fallback = new RegExp(`^/tmp/podboot-${uid}/[0-9a-f]{16}$`);
    expect(socketDir("/m/one", {})).toMatch(fallback);
    expect(socketDir("/m/one", { XDG_RUNTIME_DIR: "relative" })).toMatch(fallback);
    expect(socketDir("/m/one", { XDG_RUNTIME_DIR: deep })).toMatch(fallback);
  });
});

describe("makeSocketDir", () => {
  it("makes it private, and refuses a base directory others may write into", async () => {
    // Under /tmp itself, not the run's TMPDIR: a runtime directory over 40 bytes is not used.
    const runtime = await mkdtemp(path.join("/tmp", "pb-rt-"));
    try {
      const paths = machinePaths("one", "/m");
      const sockets = socketDir(paths.dir, { XDG_RUNTIME_DIR: runtime });
      const own = { ...paths, sockets };
      await makeSocketDir(own);
      expect((await stat(sockets)).mode & 0o777).toBe(0o700);
      expect((await stat(path.dirname(sockets))).mode & 0o777).toBe(0o700);

      await chmod(path.dirname(sockets), 0o777);
      const refused = await makeSocketDir(own).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(PodbootError);
      expect((refused as Error).message).toMatch(/is not a private directory of yours/);
    } finally {
      await rm(runtime, { recursive: true, force: true });
    }
  });
});
