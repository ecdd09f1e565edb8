import { execa } from "execa";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PodbootError } from "../../../../builder/errors.ts";
import { SilentLogger } from "../../../../builder/report/console.ts";
import {
  captureBootLoader,
  GRUB_MODULES,
  loaderArgsTemplate,
  writeHybridIso,
} from "../../../../builder/tools/grub-mkrescue.ts";

const log = new SilentLogger().stepLog();
const epoch = 946684800;

// The shape of grub-mkrescue's last xorriso call (GRUB 2.12), shortened.
const called = [
  "-as",
  "mkisofs",
  "-graft-points",
  "--modification-date=2026120705524700",
  ...["-b", "boot/grub/i386-pc/eltorito.img", "-no-emul-boot"],
  ...["--grub2-mbr", "/usr/lib/grub/i386-pc/boot_hybrid.img"],
  "-hfsplus",
  ...["-apm-block-size", "2048"],
  ...["-hfsplus-file-creator-type", "chrp", "tbxj", "/System/Library/CoreServices/.disk_label"],
  ...["-hfs-bless-by", "i", "/System/Library/CoreServices/boot.efi"],
  ...["--efi-boot", "efi.img", "-efi-boot-part", "--efi-boot-image", "--protective-msdos-label"],
  ...["-o", "/tmp/w/loader.iso", "-r", "/tmp/grub.abc"],
  ...["--sort-weight", "0", "/", "--sort-weight", "1", "/boot", "/tmp/w/root"],
];
const paths = { tree: "/tmp/grub.abc", output: "/tmp/w/loader.iso", root: "/tmp/w/root" };

describe("grub-mkrescue's xorriso call as a template", () => {
  it("keeps the boot options, drops the HFS+ hybrid and dates it by the build", () => {
    const template = loaderArgsTemplate(called, paths, epoch);
    expect(template).toEqual([
      "-as",
      "mkisofs",
      "-graft-points",
      "--modification-date=2000010100000000",
      ...["-b", "boot/grub/i386-pc/eltorito.img", "-no-emul-boot"],
      ...["--grub2-mbr", "/usr/lib/grub/i386-pc/boot_hybrid.img"],
      ...[
        "--efi-boot",
        "efi.img",
        "-efi-boot-part",
        "--efi-boot-image",
        "--protective-msdos-label",
      ],
      ...["-o", "@OUTPUT@", "-r", "@TREE@"],
      ...["--sort-weight", "0", "/", "--sort-weight", "1", "/boot", "@ROOT@"],
    ]);
  });

  it("refuses a call it cannot place, naming what is missing", () => {
    const without = called.filter((arg) => arg !== "/tmp/grub.abc");
    expect(() => loaderArgsTemplate(without, paths, epoch)).toThrow(PodbootError);
    expect(() => loaderArgsTemplate(without, paths, epoch)).toThrow(/no tree among its arguments/);
  });
});

describe("the boot loader captured once, ISOs written by xorriso alone", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "podboot-grub-test-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("has boot records for BIOS and UEFI, CD and USB, holds the content, and is the same when written twice", async () => {
    const loader = path.join(dir, "loader");
    await mkdir(loader);
    await captureBootLoader(loader, { modules: GRUB_MODULES, epoch, log });
    expect((await readdir(loader)).sort()).toEqual(["tree", "xorriso.json"]);
    expect((await readdir(path.join(loader, "tree"))).sort()).toEqual(["boot", "efi.img"]);

    const root = path.join(dir, "root");
    await mkdir(path.join(root, "boot"), { recursive: true });
    await writeFile(path.join(root, "boot", "hello"), "hello\n");
    const isos = [path.join(dir, "a.iso"), path.join(dir, "b.iso")];
    for (const iso of isos) {
      await writeHybridIso(loader, root, iso, { volumeId: "TEST", epoch, log });
    }
    const [a, b] = await Promise.all(isos.map((iso) => readFile(iso)));
    expect(a!.equals(b!)).toBe(true);

    const report = await execa("xorriso", [
      ...["-indev", isos[0]!, "-report_el_torito", "plain", "-report_system_area", "plain"],
      ...["-find", "/", "-type", "f"],
    ]);
    expect(report.stdout).toMatch(/El Torito boot img : +1 +BIOS/);
    expect(report.stdout).toMatch(/El Torito boot img : +2 +UEFI/);
    expect(report.stdout).toMatch(/System area summary: MBR protective-msdos-label grub2-mbr/);
    expect(report.stdout).toMatch(/GPT partition path : +2 +\/efi\.img/);
    expect(report.stdout).toContain("'/boot/hello'");
    expect(report.stdout).toContain("'/boot/grub/i386-pc/linux.mod'");
    expect(report.stdout).not.toContain("/System/");
  }, 60_000);
});
