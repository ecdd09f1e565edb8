// A direct boot of an ISO's own default menu entry: its kernel, its initramfs and its command
// line, read from the ISO's grub.cfg and handed to QEMU (-kernel, -initrd, -append), with the ISO
// still attached for stage 1 to copy the extensions from. It skips the firmware reading the
// boot loader from the CD-ROM, the boot loader reading the kernel and the menu's countdown: under
// TCG ~2.5 s plus the countdown (1 s in the default recipe) before the kernel, against ~1 s for
// QEMU's launch and its own load of the kernel (bench/results.md).
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { extractManyFromIso } from "../tools/xorriso.ts";

export interface MenuEntry {
  kernel: string;
  initrd: string;
  /** The kernel's command line, word by word. */
  cmdline: string[];
}

/**
 * The entry GRUB boots when no one touches the menu (`set default=N`, else the first), or
 * undefined when it is not one kernel with one initramfs (then only the boot loader can boot it).
 */
export function defaultMenuEntry(grubCfg: string): MenuEntry | undefined {
  const lines = grubCfg.split("\n").map((line) => line.trim());
  const chosen = /^set default=(\d+)$/.exec(lines.find((l) => l.startsWith("set default=")) ?? "");
  const index = chosen ? Number(chosen[1]) : 0;
  const starts = lines.flatMap((line, i) => (/^menuentry\b.*\{$/.test(line) ? [i] : []));
  const start = starts[index];
  if (start === undefined) return undefined;
  const end = lines.indexOf("}", start);
  const body = lines.slice(start + 1, end === -1 ? undefined : end);
  const words = (command: string) =>
    body
      .find((line) => line.startsWith(`${command} `))
      ?.split(/\s+/)
      .slice(1);
  const linux = words("linux");
  const initrd = words("initrd");
  if (!linux?.[0] || initrd?.length !== 1) return undefined;
  return { kernel: linux[0], initrd: initrd[0]!, cmdline: linux.slice(1) };
}

/**
 * Copies the ISO's default entry's kernel and initramfs into `dir` (vmlinuz, initrd.img) and
 * returns them with its command line; undefined when the ISO's menu has no such entry.
 */
export async function isoDirectBoot(iso: string, dir: string): Promise<MenuEntry | undefined> {
  await mkdir(dir, { recursive: true });
  const cfg = path.join(dir, "grub.cfg");
  const kernel = path.join(dir, "vmlinuz");
  const initrd = path.join(dir, "initrd.img");
  // xorriso gives extracted files the ISO's read-only modes and will not write over them.
  for (const file of [cfg, kernel, initrd]) await rm(file, { force: true });
  await extractManyFromIso(iso, [["/boot/grub/grub.cfg", cfg]]);
  const entry = defaultMenuEntry(await readFile(cfg, "utf8"));
  if (!entry) return undefined;
  await extractManyFromIso(iso, [
    [entry.kernel, kernel],
    [entry.initrd, initrd],
  ]);
  return { kernel, initrd, cmdline: entry.cmdline };
}
