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
 * mformat as grub-mkrescue calls it, with two changes: the FAT serial number comes from the build
 * date (mformat picks a random one), and the EFI system partition image is 720 KB instead of a
 * 2.88 MB floppy — GRUB's EFI loader is ~200 KB, the rest was zeros in every ISO. (A loader that
 * outgrows it makes mcopy fail, and the build with it.)
 */
function mformatShim(serial: string): string {
  return [
    "#!/bin/sh",
    "n=$#",
    'while [ "$n" -gt 0 ]; do',
    "	arg=$1",
    "	shift",
    "	n=$((n - 1))",
    '	[ "$arg" = 2880 ] && arg=720',
    '	set -- "$@" "$arg"',
    "done",
    `exec /usr/bin/mformat -N ${serial} "$@"`,
    "",
  ].join("\n");
}

/**
 * xorriso as grub-mkrescue calls it, without the HFS+ hybrid for old Macs' firmware (an Apple
 * partition map and a 200 KB boot.efi copy): the ISO boots by BIOS and UEFI as before.
 */
const XORRISO_SHIM = [
  "#!/bin/sh",
  "n=$#",
  'while [ "$n" -gt 0 ]; do',
  "	arg=$1",
  "	shift",
  "	n=$((n - 1))",
  '	case "$arg" in',
  "	-hfsplus) ;;",
  "	-apm-block-size) shift; n=$((n - 1)) ;;",
  "	-hfsplus-file-creator-type) shift 3; n=$((n - 3)) ;;",
  "	-hfs-bless-by) shift 2; n=$((n - 2)) ;;",
  '	*) set -- "$@" "$arg" ;;',
  "	esac",
  "done",
  'exec /usr/bin/xorriso "$@"',
  "",
].join("\n");

/** Runs grub-mkrescue with SOURCE_DATE_EPOCH, through the two shims above. */
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
    await writeFile(path.join(shims, "mformat"), mformatShim(serial), { mode: 0o755 });
    await writeFile(path.join(shims, "xorriso"), XORRISO_SHIM, { mode: 0o755 });
    const args = grubMkrescueArgs(root, iso, volumeId, epoch);
    await run("grub-mkrescue", [`--xorriso=${path.join(shims, "xorriso")}`, ...args], {
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
