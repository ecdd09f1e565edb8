// `podboot release` as the release workflow runs it on a tag: builds with the sysext, boots the
// ISO under QEMU and runs the baked image, signs, checks, and leaves exactly the release set in
// the release directory — verified here with Debian's minisign and sha256sum, not with podboot.
import { execa } from "execa";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { FIRST_BUILD_LIMIT, projectDir } from "./build.ts";

let dir: string;
let releaseDir: string;
let output: string;
let manifest: {
  name: string;
  iso: { file: string };
  sysext: { file: string };
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "podboot-release-"));
  const podboot = (...args: string[]) =>
    execa("node", [path.join(projectDir, "bin/podboot.js"), ...args], {
      cwd: dir,
      reject: false,
      all: true,
    });
  expect((await podboot("keygen")).exitCode).toBe(0);
  releaseDir = path.join(dir, "release");
  // The default key (podboot.key in the working directory), as `npm run release` finds it.
  const result = await podboot("release", "--out", releaseDir);
  output = result.all ?? "";
  if (result.exitCode !== 0) throw new Error(`podboot release failed:\n${output.slice(-3000)}`);
  manifest = JSON.parse(await readFile(path.join(releaseDir, "manifest.json"), "utf8"));
}, FIRST_BUILD_LIMIT);

describe("podboot release", () => {
  it("boot-tests the ISO before it publishes the set", () => {
    expect(output).toMatch(/boot test: podman run localhost\/podboot-hello:latest ok after \d+ s/);
  });

  it("leaves exactly the release set: artifacts, SHA256SUMS, signatures, public key", async () => {
    const files = (await readdir(releaseDir)).sort();
    const signed = [manifest.iso.file, "initrd.img", manifest.sysext.file, "SHA256SUMS"];
    expect(files).toEqual(
      [
        ...signed,
        ...signed.map((f) => `${f}.minisig`),
        "manifest.json",
        `${manifest.name}.cdx.json`,
        "catalog.md",
        `${manifest.name}.pub`,
        // the loadable extensions (tools), beside the ISO
        "extensions",
      ].sort(),
    );
    expect(await readdir(path.join(releaseDir, "extensions"))).toEqual(["tools.sqfs"]);
    // Nothing is left half-made next to it; the build's own output (with logs) stays apart.
    expect((await readdir(dir)).sort()).toEqual([
      "podboot.key",
      "podboot.pub",
      "release",
      "release-build",
    ]);
    expect(await readFile(path.join(releaseDir, `${manifest.name}.pub`), "utf8")).toBe(
      await readFile(path.join(dir, "podboot.pub"), "utf8"),
    );
  });

  it("every checksum holds and minisign verifies every signature with the public key", async () => {
    const sums = await execa("sha256sum", ["--check", "--strict", "SHA256SUMS"], {
      cwd: releaseDir,
      reject: false,
      all: true,
    });
    expect(sums.exitCode, sums.all).toBe(0);
    const listed = (await readFile(path.join(releaseDir, "SHA256SUMS"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => line.split("  ")[1]);
    expect([...new Set(listed.map((f) => f!.split("/")[0]))].sort()).toEqual(
      (await readdir(releaseDir))
        .filter((f) => !f.endsWith(".minisig") && !f.endsWith(".pub") && f !== "SHA256SUMS")
        .sort(),
    );
    const signatures = (await readdir(releaseDir)).filter((f) => f.endsWith(".minisig"));
    expect(signatures).toHaveLength(4);
    for (const signature of signatures) {
      const file = signature.replace(/\.minisig$/, "");
      const check = await execa("minisign", ["-V", "-m", file, "-p", `${manifest.name}.pub`], {
        cwd: releaseDir,
        reject: false,
        all: true,
      });
      expect(check.exitCode, `${file}: ${check.all}`).toBe(0);
      expect(check.all).toMatch(new RegExp(`Trusted comment: timestamp:\\d+\\tfile:${file}`));
    }
  });
});
