// debDataScan on a .deb made here with dpkg-deb: every non-directory entry, and one member's text.
import { execa } from "execa";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { debDataScan } from "../../../../builder/tools/dpkg-deb.ts";

const work = await mkdtemp(path.join(os.tmpdir(), "podboot-deb-"));
afterAll(() => rm(work, { recursive: true, force: true }));

async function makeDeb(): Promise<string> {
  const root = path.join(work, "pkg");
  await mkdir(path.join(root, "DEBIAN"), { recursive: true });
  await writeFile(
    path.join(root, "DEBIAN/control"),
    "Package: demo\nVersion: 1\nArchitecture: all\nMaintainer: podboot <podboot@localhost>\nDescription: demo\n",
  );
  await mkdir(path.join(root, "etc/demo"), { recursive: true });
  await writeFile(path.join(root, "etc/demo/demo.conf"), "x=1\n");
  await mkdir(path.join(root, "usr/share/doc/demo"), { recursive: true });
  await writeFile(
    path.join(root, "usr/share/doc/demo/copyright"),
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: MIT\n",
  );
  await symlink("demo.conf", path.join(root, "etc/demo/link.conf"));
  const deb = path.join(work, "demo.deb");
  await execa("dpkg-deb", ["--root-owner-group", "-Zxz", "-b", root, deb]);
  return deb;
}

describe("debDataScan", () => {
  it("lists the files and links (no directories) and reads one member, in one pass", async () => {
    const deb = await makeDeb();
    const scan = await debDataScan(deb, "./usr/share/doc/demo/copyright");
    expect(scan.files.sort()).toEqual([
      "./etc/demo/demo.conf",
      "./etc/demo/link.conf",
      "./usr/share/doc/demo/copyright",
    ]);
    expect(scan.text).toMatch(/^Format: .*\n\nFiles: \*\nLicense: MIT\n$/);
    expect((await debDataScan(deb, "./usr/share/doc/other/copyright")).text).toBeUndefined();
  });
});
