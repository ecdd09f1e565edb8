// grub-mkrescue makes one hybrid ISO that boots by BIOS (El Torito + MBR for USB) and by UEFI
// (an EFI system partition image as a second El Torito entry, GPT for USB). Only the GRUB modules
// the menu needs are installed, and no fonts, locales or themes: that keeps ~20 MB out of the ISO.
import type { StepLog } from "../log.ts";
import { run } from "./run.ts";

// grub-mkrescue's own early config loads every part_* module, so all of them ship (a few KB each).
const PARTITION_MODULES = [
  "acorn",
  "amiga",
  "apple",
  "bsd",
  "dfly",
  "dvh",
  "gpt",
  "msdos",
  "plan",
  "sun",
  "sunpc",
].map((p) => `part_${p}`);
export const GRUB_MODULES = [
  "linux",
  "normal",
  "iso9660",
  "search",
  "serial",
  "terminal",
  "configfile",
  "echo",
  "fat",
  ...PARTITION_MODULES,
];

export function grubMkrescueArgs(root: string, iso: string, volumeId: string): string[] {
  return [
    "--output",
    iso,
    `--install-modules=${GRUB_MODULES.join(" ")}`,
    "--locales=",
    "--fonts=",
    "--themes=",
    "--compress=xz",
    root,
    "--",
    "-volid",
    volumeId,
  ];
}

export async function grubMkrescue(
  root: string,
  iso: string,
  volumeId: string,
  log: StepLog,
  env: Record<string, string>,
): Promise<void> {
  await run("grub-mkrescue", grubMkrescueArgs(root, iso, volumeId), { log, env });
}
