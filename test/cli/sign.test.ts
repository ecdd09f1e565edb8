// podboot keygen / sign / verify against Debian's minisign, both ways, and their bad inputs.
import { execa } from "execa";
import { appendFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const podbootJs = path.resolve(import.meta.dirname, "../../bin/podboot.js");
const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-sign-"));
const podboot = (...args: string[]) =>
  execa("node", [podbootJs, ...args], { cwd: dir, reject: false, all: true });
const minisign = (...args: string[]) =>
  execa("minisign", args, { cwd: dir, reject: false, all: true, input: "" });

beforeAll(async () => {
  await writeFile(path.join(dir, "artifact.iso"), "an ISO, as far as this test cares\n");
  await writeFile(path.join(dir, "other.img"), "another artifact\n");
  expect((await podboot("keygen", "-s", "podboot.key", "-p", "podboot.pub")).exitCode).toBe(0);
  expect((await minisign("-G", "-W", "-s", "mini.key", "-p", "mini.pub")).exitCode).toBe(0);
});

describe("podboot and minisign interoperate", () => {
  it("minisign verifies what podboot signs", async () => {
    expect((await podboot("sign", "-s", "podboot.key", "artifact.iso")).exitCode).toBe(0);
    const check = await minisign("-V", "-m", "artifact.iso", "-p", "podboot.pub");
    expect(check.all).toContain("Signature and comment signature verified");
  });

  it("podboot verifies what minisign signs", async () => {
    await minisign("-S", "-s", "mini.key", "-m", "other.img");
    const check = await podboot("verify", "-p", "mini.pub", "other.img");
    expect(check.exitCode).toBe(0);
    expect(check.stdout).toContain("file:other.img");
  });

  it("podboot signs with a minisign key, and minisign with a podboot key", async () => {
    await writeFile(path.join(dir, "both.txt"), "both ways\n");
    await podboot("sign", "-s", "mini.key", "both.txt");
    expect((await minisign("-V", "-m", "both.txt", "-p", "mini.pub")).exitCode).toBe(0);
    await minisign("-S", "-s", "podboot.key", "-m", "both.txt");
    expect((await podboot("verify", "-p", "podboot.pub", "both.txt")).exitCode).toBe(0);
  });
});

describe("verify with bad input", () => {
  const lastLine = (all: string | undefined) => all!.trim().split("\n").at(-1)!;

  it("a wrong key: exit 2 naming both key ids", async () => {
    await podboot("sign", "-s", "podboot.key", "artifact.iso");
    const result = await podboot("verify", "-p", "mini.pub", "artifact.iso");
    expect(result.exitCode).toBe(2);
    expect(lastLine(result.all)).toMatch(/signed with key [0-9A-F]+, not with this public key/);
  });

  it("a truncated signature", async () => {
    const full = await readFile(path.join(dir, "artifact.iso.minisig"), "utf8");
    await writeFile(path.join(dir, "cut.minisig"), full.split("\n").slice(0, 2).join("\n"));
    const result = await podboot(
      "verify",
      "-p",
      "podboot.pub",
      "artifact.iso",
      "-x",
      "cut.minisig",
    );
    expect(result.exitCode).toBe(2);
    expect(lastLine(result.all)).toMatch(/truncated: its trusted comment is missing/);
  });

  it("a tampered artifact: exit 1", async () => {
    await writeFile(path.join(dir, "tampered.iso"), "an ISO, as far as this test cares\n");
    await podboot("sign", "-s", "podboot.key", "tampered.iso");
    await appendFile(path.join(dir, "tampered.iso"), "x");
    const result = await podboot("verify", "-p", "podboot.pub", "tampered.iso");
    expect(result.exitCode).toBe(1);
    expect(lastLine(result.all)).toMatch(/does not match the file: it was changed after signing/);
  });

  it("a signature for another file", async () => {
    const result = await podboot(
      "verify",
      ...["-p", "podboot.pub", "other.img", "-x", "artifact.iso.minisig"],
    );
    expect(result.exitCode).toBe(1);
    expect(lastLine(result.all)).toMatch(/the signature is for artifact\.iso, not for other\.img/);
  });

  it("a missing secret key says how to make one", async () => {
    const result = await podboot("sign", "-s", "missing.key", "artifact.iso");
    expect(result.exitCode).toBe(2);
    expect(lastLine(result.all)).toMatch(
      /cannot read the secret key missing\.key — create one with `podboot keygen -s missing\.key/,
    );
  });

  it("keygen never overwrites a key without --force", async () => {
    const before = await readFile(path.join(dir, "podboot.key"), "utf8");
    const result = await podboot("keygen", "-s", "podboot.key", "-p", "podboot.pub");
    expect(result.exitCode).toBe(2);
    expect(lastLine(result.all)).toMatch(/podboot\.key exists; podboot will not overwrite a key/);
    expect(await readFile(path.join(dir, "podboot.key"), "utf8")).toBe(before);
  });
});

describe("podboot build --sign-key", () => {
  it("a missing key fails at once, saying how to create one, with nothing written", async () => {
    const out = path.join(dir, "out-missing");
    const result = await podboot("build", "--out", out, "--sign-key", "absent.key");
    expect(result.exitCode).toBe(2);
    expect(result.all!.trim().split("\n").at(-1)).toMatch(
      /cannot read the secret key .*absent\.key — create one with `podboot keygen/,
    );
    expect(await readFile(path.join(out, "SHA256SUMS"), "utf8").catch(() => "none")).toBe("none");
  });

  it(
    "signs SHA256SUMS, the ISO and the initramfs; minisign verifies them",
    async () => {
      const out = path.join(dir, "out-signed");
      const result = await podboot("build", "--quiet", "--out", out, "--sign-key", "podboot.key");
      expect(result.exitCode, result.all).toBe(0);
      for (const file of ["SHA256SUMS", "podboot.iso", "initrd.img"]) {
        const check = await minisign("-V", "-m", path.join(out, file), "-p", "podboot.pub");
        expect(check.all).toContain("Signature and comment signature verified");
      }
    },
    30 * 60_000,
  );
});
