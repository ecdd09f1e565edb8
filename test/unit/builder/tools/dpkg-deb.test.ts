// debDataScan on a .deb made here with dpkg-deb: every non-directory entry, and one member's text;
// and the inventory read while unpacking it (the stage step's) against the one read from the .deb.
import { execa } from "execa";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inventoryOf, unpackedInventory } from "../../../../builder/steps/inventory.ts";
import { SilentLogger } from "../../../../builder/report/console.ts";
import { debDataScan, extractDebListing } from "../../../../builder/tools/dpkg-deb.ts";

const work = await mkdtemp(path.join(os.tmpdir(), "podboot-deb-"));
afterAll(() => rm(work, { recursive: true, force: true }));

const log = new SilentLogger().stepLog();

async function makeDeb(name = "demo", copyrightLink = false): Promise<string> {
  const root = path.join(work, `pkg-${name}`);
  await rm(root, { recursive: true, force: true });
  await mkdir(path.join(root, "DEBIAN"), { recursive: true });
  await writeFile(
    path.join(root, "DEBIAN/control"),
    `Package: ${name}\nVersion: 1\nArchitecture: all\nMaintainer: podboot <podboot@localhost>\nDescription: demo\n`,
  );
  await mkdir(path.join(root, "etc/demo"), { recursive: true });
  await writeFile(path.join(root, "etc/demo/demo.conf"), "x=1\n");
  await mkdir(path.join(root, `usr/share/doc/${name}`), { recursive: true });
  const dep5 =
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: MIT\n";
  if (copyrightLink) {
    // the copyright a link to another package's (that package unpacked beside it)
    await symlink("../demo/copyright", path.join(root, `usr/share/doc/${name}/copyright`));
  } else {
    await writeFile(path.join(root, `usr/share/doc/${name}/copyright`), dep5);
  }
  await symlink("demo.conf", path.join(root, "etc/demo/link.conf"));
  const deb = path.join(work, `${name}.deb`);
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

describe("the inventory read while unpacking", () => {
  it("is the one read from the .deb, a copyright link included", async () => {
    const tree = path.join(work, "tree");
    await mkdir(tree);
    for (const [name, link] of [
      ["demo", false],
      ["linked", true],
    ] as const) {
      const deb = await makeDeb(name, link);
      const member = `./usr/share/doc/${name}/copyright`;
      const scan = await debDataScan(deb, member);
      const files = await extractDebListing(deb, tree, log);
      expect(files.sort()).toEqual(scan.files.sort());
      const unpacked = await unpackedInventory(name, files, tree);
      expect(unpacked).toEqual(inventoryOf(scan.files, scan.text));
      expect(unpacked.etc.sort()).toEqual(["etc/demo/demo.conf", "etc/demo/link.conf"]);
      // the link's target is in the tree, but the package itself has no licence text
      expect(unpacked.licenses).toEqual(link ? [] : ["MIT"]);
    }
  });
});
