// `podboot diff` on small artifacts made here: squashfs images inside a zstd initramfs inside an
// ISO, as podboot builds them, differing in one file deep inside.
import { execa } from "execa";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CpioWriter } from "../../builder/cpio/newc.ts";

const projectDir = path.resolve(import.meta.dirname, "../..");
let work: string;

const podboot = (...args: string[]) =>
  execa("node", ["bin/podboot.js", ...args], { cwd: projectDir, reject: false, all: true });

/** An ISO holding boot/initrd.img (zstd cpio) which holds podboot/extensions/demo.sqfs. */
async function artifacts(name: string, release: string): Promise<{ iso: string; sqfs: string }> {
  const dir = path.join(work, name);
  const root = path.join(dir, "root");
  await mkdir(path.join(root, "etc"), { recursive: true });
  await writeFile(path.join(root, "etc", "podboot-release"), `RELEASE=${release}\n`);
  await writeFile(path.join(root, "etc", "same"), "unchanged\n");
  for (const file of ["etc/podboot-release", "etc/same", "etc", ""]) {
    await utimes(path.join(root, file), 946684800, 946684800);
  }
  const sqfs = path.join(dir, "demo.sqfs");
  await execa("mksquashfs", [
    root,
    sqfs,
    "-noappend",
    "-quiet",
    "-mkfs-time",
    "946684800",
    "-all-root",
  ]);
  const cpio = path.join(dir, "initrd.cpio");
  const writer = new CpioWriter(createWriteStream(cpio), 946684800);
  await writer.add({ type: "dir", path: "podboot" });
  await writer.add({
    type: "file",
    path: "podboot/extensions/demo.sqfs",
    data: await readFile(sqfs),
  });
  await writer.add({ type: "file", path: "init", mode: 0o755, data: Buffer.from("#!/bin/sh\n") });
  await writer.finish();
  const isoRoot = path.join(dir, "iso");
  await mkdir(path.join(isoRoot, "boot"), { recursive: true });
  await execa("zstd", ["-q", "-f", cpio, "-o", path.join(isoRoot, "boot", "initrd.img")]);
  const iso = path.join(dir, `${name}.iso`);
  await execa("xorriso", ["-as", "mkisofs", "-quiet", "-R", "-o", iso, isoRoot]);
  return { iso, sqfs };
}

let a: { iso: string; sqfs: string };
let b: { iso: string; sqfs: string };
let same: { iso: string; sqfs: string };

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "podboot-diff-test-"));
  a = await artifacts("a", "1");
  b = await artifacts("b", "2");
  same = await artifacts("same", "1");
}, 60_000);

describe("podboot diff", () => {
  it("follows a difference from the ISO through the initramfs into the extension", async () => {
    const result = await podboot("diff", a.iso, b.iso);
    expect(result.exitCode).toBe(1);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toMatch(/^a\.iso and b\.iso differ \(sha256 /);
    expect(result.stdout).toMatch(/^ {2}boot\/initrd\.img: .*content differs/m);
    expect(result.stdout).toMatch(/^ {4}podboot\/extensions\/demo\.sqfs: content differs/m);
    expect(result.stdout).toMatch(/^ {6}etc\/podboot-release: content differs \(same size 10\)$/m);
    expect(result.stdout).not.toMatch(/etc\/same/);
  });

  it("says so when two artifacts are byte-identical, and exits 0", async () => {
    const sqfs = await podboot("diff", a.sqfs, same.sqfs);
    expect(sqfs.exitCode).toBe(0);
    expect(sqfs.stdout).toMatch(/are byte-identical$/);
  });

  it("compares two extensions directly, and refuses what is not a file", async () => {
    const result = await podboot("diff", a.sqfs, b.sqfs);
    expect(result.stdout).toMatch(/^ {2}etc\/podboot-release: content differs/m);
    const missing = await podboot("diff", a.sqfs, path.join(work, "nothing.iso"));
    expect(missing.exitCode).toBe(2);
    expect(missing.all).toMatch(/podboot: .*nothing\.iso is not a file — pass two ISOs/);
  });
});
