// grub-mkrescue makes one hybrid ISO that boots by BIOS (El Torito + MBR for USB) and by UEFI
// (an EFI system partition image as a second El Torito entry, GPT for USB). Only the GRUB modules
// the menu needs are installed, and no fonts, locales or themes: that keeps ~20 MB out of the ISO.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { trackTemp } from "../cleanup.ts";
import type { StepLog } from "../report/events.ts";
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

/** xorriso's 16-digit time string (UTC) for a Unix time: YYYYMMDDhhmmsscc. */
function xorrisoTime(epoch: number): string {
  return (
    new Date(epoch * 1000)
      .toISOString()
      .replace(/[^0-9]/g, "")
      .slice(0, 14) + "00"
  );
}

export function grubMkrescueArgs(
  root: string,
  iso: string,
  volumeId: string,
  epoch: number,
): string[] {
  return [
    "--output",
    iso,
    `--install-modules=${GRUB_MODULES.join(" ")}`,
    "--locales=",
    "--fonts=",
    "--themes=",
    "--compress=xz",
    root,
    // xorriso commands: the same build date everywhere, so that two builds are byte-identical —
    // every file, the volume dates, the GPT/MBR ids derived from "uuid" — and no boot catalog file
    // in the tree (its date would be the time of writing; El Torito finds it by its address).
    "--",
    "-volid",
    volumeId,
    ...["-volume_date", "all_file_dates", `=${epoch}`],
    ...["-volume_date", "c", `=${epoch}`],
    ...["-volume_date", "m", `=${epoch}`],
    ...["-volume_date", "uuid", xorrisoTime(epoch)],
    ...["-boot_image", "any", "cat_hidden=on"],
  ];
}

/**
 * Runs grub-mkrescue with SOURCE_DATE_EPOCH. Its EFI image is made by mformat, which picks a random
 * FAT serial number; a shim earlier in PATH passes a serial derived from the build date instead.
 */
export async function grubMkrescue(
  root: string,
  iso: string,
  volumeId: string,
  log: StepLog,
  epoch: number,
): Promise<void> {
  const shims = await mkdtemp(path.join(os.tmpdir(), "podboot-grub-"));
  const untrack = trackTemp(shims);
  try {
    const serial = (epoch >>> 0).toString(16).padStart(8, "0");
    await writeFile(
      path.join(shims, "mformat"),
      `#!/bin/sh\nexec /usr/bin/mformat -N ${serial} "$@"\n`,
      { mode: 0o755 },
    );
    await run("grub-mkrescue", grubMkrescueArgs(root, iso, volumeId, epoch), {
      log,
      env: {
        SOURCE_DATE_EPOCH: String(epoch),
        PATH: `${shims}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      },
    });
  } finally {
    await rm(shims, { recursive: true, force: true });
    untrack();
  }
}
