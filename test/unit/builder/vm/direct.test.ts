import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { renderGrubConfig } from "../../../../builder/steps/iso.ts";
import { defaultMenuEntry } from "../../../../builder/vm/direct.ts";

const CMDLINE = "console=tty0 console=ttyS0,115200 loglevel=4";

async function podbootMenu(): Promise<string> {
  const template = await readFile("iso/grub.cfg.in", "utf8");
  return renderGrubConfig(template, {
    NAME: "podboot",
    VERSION: "0.1.0",
    CMDLINE,
    TIMEOUT: "3",
  });
}

describe("defaultMenuEntry", () => {
  it("reads podboot's own menu: the first entry's kernel, stage 1 and command line", async () => {
    expect(defaultMenuEntry(await podbootMenu())).toEqual({
      kernel: "/boot/vmlinuz",
      initrd: "/boot/initrd.img",
      cmdline: CMDLINE.split(" "),
    });
  });

  it("follows `set default=N` to the entry GRUB would boot", async () => {
    const menu = (await podbootMenu()).replace("set default=0", "set default=1");
    expect(defaultMenuEntry(menu)?.cmdline).toEqual([...CMDLINE.split(" "), "podboot.debug"]);
  });

  it("gives up on an entry with two initramfs images, and on a menu without the entry", async () => {
    const menu = await podbootMenu();
    expect(defaultMenuEntry(menu.replace("set default=0", "set default=2"))).toBeUndefined();
    expect(defaultMenuEntry(menu.replace("set default=0", "set default=7"))).toBeUndefined();
    expect(defaultMenuEntry("set timeout=3\n")).toBeUndefined();
  });

  it("gives up on an entry that loads no kernel", () => {
    const menu = 'menuentry "shell" {\n\tinitrd /boot/initrd.img\n}\n';
    expect(defaultMenuEntry(menu)).toBeUndefined();
  });
});
