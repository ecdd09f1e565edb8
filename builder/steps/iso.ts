// Writes the hybrid BIOS+UEFI ISO: kernel, initramfs and the GRUB menu, via grub-mkrescue.
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { trackTemp } from "../cleanup.ts";
import { grubMkrescue } from "../tools/grub-mkrescue.ts";
import type { BuildContext } from "./context.ts";

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

export async function writeIso(
  ctx: BuildContext,
  target: string,
  parts: { vmlinuz: string; initramfs: string },
): Promise<{ size: number; volumeId: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), "podboot-iso-"));
  const tmpIso = `${target}.tmp`;
  const untrack = [trackTemp(root), trackTemp(tmpIso)];
  const log = ctx.log.stepLog("iso");
  try {
    await mkdir(path.join(root, "boot", "grub"), { recursive: true });
    await copyFile(parts.vmlinuz, path.join(root, "boot", "vmlinuz"));
    await copyFile(parts.initramfs, path.join(root, "boot", "initrd.img"));
    const template = await readFile(path.join(ctx.projectDir, "iso", "grub.cfg.in"), "utf8");
    await writeFile(
      path.join(root, "boot", "grub", "grub.cfg"),
      renderGrubConfig(template, {
        NAME: ctx.recipe.name,
        VERSION: ctx.recipe.version,
        CMDLINE: ctx.recipe.kernel.cmdline,
        TIMEOUT: String(ctx.recipe.iso.timeout),
      }),
    );
    const id = volumeId(ctx.recipe.iso.label, ctx.recipe.version);
    await grubMkrescue(root, tmpIso, id, log, ctx.epoch);
    await rename(tmpIso, target);
    const { size } = await stat(target);
    ctx.log.step("iso", `${path.basename(target)} ${(size / 1e6).toFixed(1)} MB, volume ${id}`);
    return { size, volumeId: id };
  } finally {
    await log.close();
    await rm(root, { recursive: true, force: true });
    await rm(tmpIso, { force: true });
    untrack.forEach((u) => u());
  }
}
