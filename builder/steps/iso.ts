// Writes the hybrid BIOS+UEFI ISO: GRUB as grub-mkrescue made it (captured once, see
// tools/grub-mkrescue.ts), then the kernel, stage-1 initramfs, the extensions' archive with its
// list, and the GRUB menu.
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { trackTemp } from "../cleanup.ts";
import { writeHybridIso } from "../tools/grub-mkrescue.ts";
import type { StepLog } from "../report/events.ts";

/** ISO 9660 volume IDs: upper-case letters, digits and _, at most 32 characters. */
export function volumeId(label: string, version: string): string {
  return `${label}_${version}`
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, "_")
    .slice(0, 32);
}

export function renderGrubConfig(template: string, values: Record<string, string>): string {
  return template.replace(/@([A-Z]+)@/g, (whole, key: string) => values[key] ?? whole);
}

export interface IsoOptions {
  name: string;
  version: string;
  cmdline: string;
  label: string;
  timeout: number;
  /** iso/grub.cfg.in */
  grubTemplate: string;
  epoch: number;
  log: StepLog;
  /** The captured boot loader (captureBootLoader's directory). */
  loader: string;
}

export async function writeIso(
  target: string,
  parts: { vmlinuz: string; stage1: string; extensions: string; extensionsOrder: string },
  options: IsoOptions,
): Promise<{ size: number; volumeId: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), "podboot-iso-"));
  const tmpIso = `${target}.tmp`;
  const untrack = [trackTemp(root), trackTemp(tmpIso)];
  try {
    await mkdir(path.join(root, "boot", "grub"), { recursive: true });
    await copyFile(parts.vmlinuz, path.join(root, "boot", "vmlinuz"));
    await copyFile(parts.stage1, path.join(root, "boot", "initrd.img"));
    // Stage 1 finds the medium by this list (the same as its own) and copies the extensions
    // into RAM; the menu's last entry has the boot loader load them instead.
    await copyFile(parts.extensions, path.join(root, "boot", "extensions.cpio"));
    await writeFile(path.join(root, "boot", "extensions.order"), parts.extensionsOrder);
    const template = await readFile(options.grubTemplate, "utf8");
    await writeFile(
      path.join(root, "boot", "grub", "grub.cfg"),
      renderGrubConfig(template, {
        NAME: options.name,
        VERSION: options.version,
        CMDLINE: options.cmdline,
        TIMEOUT: String(options.timeout),
      }),
    );
    const id = volumeId(options.label, options.version);
    await writeHybridIso(options.loader, root, tmpIso, {
      volumeId: id,
      epoch: options.epoch,
      log: options.log,
    });
    await rename(tmpIso, target);
    const { size } = await stat(target);
    return { size, volumeId: id };
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(tmpIso, { force: true });
    untrack.forEach((u) => u());
  }
}
