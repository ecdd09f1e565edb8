// grub-mkrescue makes one hybrid ISO that boots by BIOS (El Torito + MBR for USB) and by UEFI
// (an EFI system partition image as a second El Torito entry, GPT for USB). Only the GRUB modules
// the menu needs are installed, and no fonts, locales or themes: that keeps ~20 MB out of the ISO.
//
// What grub-mkrescue adds to an ISO is the same in every build of one date: GRUB's modules (each
// compressed by its own `xz` process, ~1 s here), its BIOS El Torito image and its EFI system
// partition image. So it runs once (`captureBootLoader`), into a directory the build caches: its
// tree, and the xorriso arguments it would have run. Each ISO is then written by xorriso alone
// with those arguments (`writeHybridIso`), the same ISO grub-mkrescue writes, less the HFS+
// hybrid for old Macs' firmware (an Apple partition map and a 200 KB boot.efi copy), which the
// ISO does not need to boot by BIOS and UEFI.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { trackTemp } from "../cleanup.ts";
import { PodbootError } from "../errors.ts";
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

/**
 * mformat as grub-mkrescue calls it, with two changes: the FAT serial number comes from the build
 * date (mformat picks a random one), and the EFI system partition image is a 360 KB floppy's
 * instead of a 2.88 MB one — GRUB's EFI loader is 192 KB (GRUB 2.12), the rest was zeros in every
 * ISO. (A loader that outgrows it makes mcopy fail, and the build with it.)
 */
function mformatShim(serial: string): string {
  return [
    "#!/bin/sh",
    "n=$#",
    'while [ "$n" -gt 0 ]; do',
    "	arg=$1",
    "	shift",
    "	n=$((n - 1))",
    '	[ "$arg" = 2880 ] && arg=360',
    '	set -- "$@" "$arg"',
    "done",
    `exec /usr/bin/mformat -N ${serial} "$@"`,
    "",
  ].join("\n");
}

/**
 * xorriso as grub-mkrescue calls it, capturing: its probes (`-help`) go to xorriso; its last call,
 * the one that would write the ISO, leaves the tree that follows `-r` and the whole argument list
 * (NUL-separated) in $PODBOOT_CAPTURE instead.
 */
const CAPTURE_SHIM = [
  "#!/bin/sh",
  'case " $* " in *" -help "*) exec /usr/bin/xorriso "$@" ;; esac',
  "prev=",
  'for arg in "$@"; do',
  '	[ "$prev" = -r ] && { cp -a "$arg" "$PODBOOT_CAPTURE/tree" || exit 1; }',
  "	prev=$arg",
  "done",
  `printf '%s\\0' "$@" >"$PODBOOT_CAPTURE/args"`,
  "",
].join("\n");

/** How many values follow each HFS+ option grub-mkrescue passes (all of them are dropped). */
const HFS_OPTIONS = new Map([
  ["-hfsplus", 0],
  ["-apm-block-size", 1],
  ["-hfsplus-file-creator-type", 3],
  ["-hfs-bless-by", 2],
]);

const TREE = "@TREE@";
const OUTPUT = "@OUTPUT@";
const ROOT = "@ROOT@";

/**
 * grub-mkrescue's xorriso arguments as a template: its temp tree, the output and the content root
 * become placeholders, the HFS+ options go, and its modification date (the time it ran) becomes
 * the build date's.
 */
export function loaderArgsTemplate(
  args: string[],
  paths: { tree: string; output: string; root: string },
  epoch: number,
): string[] {
  const template: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const hfsValues = HFS_OPTIONS.get(arg);
    if (hfsValues !== undefined) i += hfsValues;
    else if (arg === paths.tree) template.push(TREE);
    else if (arg === paths.output) template.push(OUTPUT);
    else if (arg === paths.root) template.push(ROOT);
    else if (arg.startsWith("--modification-date=")) {
      template.push(`--modification-date=${xorrisoTime(epoch)}`);
    } else template.push(arg);
  }
  for (const needed of [TREE, OUTPUT, ROOT]) {
    if (!template.includes(needed)) {
      throw new PodbootError(
        `grub-mkrescue ran xorriso in a way podboot does not know (no ${needed.slice(1, -1).toLowerCase()} among its arguments)`,
        "see out/logs/boot-loader.log; this GRUB version is not supported yet",
      );
    }
  }
  return template;
}

/** What the boot loader's cache entry is made from: GRUB's version, known by its two core images. */
export async function grubIdentity(): Promise<unknown> {
  return Promise.all(
    ["i386-pc", "x86_64-efi"].map(async (platform) => {
      const image = path.join("/usr/lib/grub", platform, "kernel.img");
      const { size, mtimeMs } = await stat(image).catch(() => {
        throw new PodbootError(
          `GRUB for ${platform} is missing (${image})`,
          "run `podboot check-host` as root: it installs the host's tools",
        );
      });
      return { platform, size, mtimeMs };
    }),
  );
}

/**
 * Runs grub-mkrescue once with an empty content root, keeping in `dir` its tree (tree/, without
 * the HFS+ files) and its xorriso arguments as a template (xorriso.json).
 */
export async function captureBootLoader(
  dir: string,
  options: { modules: string[]; epoch: number; log: StepLog },
): Promise<void> {
  const { modules, epoch, log } = options;
  const work = await mkdtemp(path.join(os.tmpdir(), "podboot-grub-"));
  const untrack = trackTemp(work);
  try {
    const shims = path.join(work, "shims");
    const root = path.join(work, "root");
    const output = path.join(work, "loader.iso");
    await Promise.all([mkdir(shims), mkdir(root)]);
    const serial = (epoch >>> 0).toString(16).padStart(8, "0");
    await writeFile(path.join(shims, "mformat"), mformatShim(serial), { mode: 0o755 });
    await writeFile(path.join(shims, "xorriso"), CAPTURE_SHIM, { mode: 0o755 });
    await run(
      "grub-mkrescue",
      [
        `--xorriso=${path.join(shims, "xorriso")}`,
        "--output",
        output,
        `--install-modules=${modules.join(" ")}`,
        "--locales=",
        "--fonts=",
        "--themes=",
        "--compress=xz",
        root,
      ],
      {
        log,
        env: {
          SOURCE_DATE_EPOCH: String(epoch),
          PODBOOT_CAPTURE: dir,
          PATH: `${shims}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        },
      },
    );
    const called = await readFile(path.join(dir, "args"), "utf8").catch(() => {
      throw new PodbootError(
        "grub-mkrescue ended without calling xorriso to write the ISO",
        "see out/logs/boot-loader.log; this GRUB version is not supported yet",
      );
    });
    const args = called.split("\0").slice(0, -1);
    const treeAt = args.indexOf("-r") + 1;
    const tree = (treeAt > 0 && args[treeAt]) || "";
    const template = loaderArgsTemplate(args, { tree, output, root }, epoch);
    for (const mac of ["System", "mach_kernel"]) {
      await rm(path.join(dir, "tree", mac), { recursive: true, force: true });
    }
    await rm(path.join(dir, "args"));
    await writeFile(path.join(dir, "xorriso.json"), JSON.stringify(template));
  } finally {
    await rm(work, { recursive: true, force: true });
    untrack();
  }
}

/**
 * Writes the ISO: the captured boot loader and `root`, by xorriso with grub-mkrescue's arguments,
 * then the build date everywhere, so that two builds are byte-identical — every file, the volume
 * dates, the GPT/MBR ids derived from "uuid" — and no boot catalog file in the tree (its date
 * would be the time of writing; El Torito finds it by its address).
 */
export async function writeHybridIso(
  loader: string,
  root: string,
  iso: string,
  options: { volumeId: string; epoch: number; log: StepLog },
): Promise<void> {
  const template = JSON.parse(
    await readFile(path.join(loader, "xorriso.json"), "utf8"),
  ) as string[];
  const places: Record<string, string> = {
    [TREE]: path.join(loader, "tree"),
    [OUTPUT]: iso,
    [ROOT]: root,
  };
  const { volumeId, epoch, log } = options;
  await run(
    "xorriso",
    [
      ...template.map((arg) => places[arg] ?? arg),
      "--",
      "-volid",
      volumeId,
      ...["-volume_date", "all_file_dates", `=${epoch}`],
      ...["-volume_date", "c", `=${epoch}`],
      ...["-volume_date", "m", `=${epoch}`],
      ...["-volume_date", "uuid", xorrisoTime(epoch)],
      ...["-boot_image", "any", "cat_hidden=on"],
    ],
    { log, env: { SOURCE_DATE_EPOCH: String(epoch) } },
  );
}
