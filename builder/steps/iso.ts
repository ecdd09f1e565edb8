// Writes the hybrid BIOS+UEFI ISO: kernel, initramfs and the GRUB menu, via grub-mkrescue.
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { trackTemp } from "../cleanup.ts";
import { grubMkrescue } from "../tools/grub-mkrescue.ts";
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
}

export async function writeIso(
  target: string,
  parts: { vmlinuz: string; initramfs: string },
  options: IsoOptions,
): Promise<{ size: number; volumeId: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), "podboot-iso-"));
  const tmpIso = `${target}.tmp`;
  const untrack = [trackTemp(root), trackTemp(tmpIso)];
  try {
    await mkdir(path.join(root, "boot", "grub"), { recursive: true });
    await copyFile(parts.vmlinuz, path.join(root, "boot", "vmlinuz"));
    await copyFile(parts.initramfs, path.join(root, "boot", "initrd.img"));
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
    await grubMkrescue(root, tmpIso, id, options.log, options.epoch);
    await rename(tmpIso, target);
    const { size } = await stat(target);
    return { size, volumeId: id };
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(tmpIso, { force: true });
    untrack.forEach((u) => u());
  }
}
