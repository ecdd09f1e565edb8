// The bootable pair, initramfs + hybrid ISO, cached under a key of everything that goes into them
// (extension images, kernel and modules, busybox, the stage-1 init, the GRUB template, the
// recipe's ISO and compression options and the build date), then copied into out/ through temp
// files. A no-op rebuild skips compression and xorriso entirely.
import { copyFile, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { cacheKey } from "../cache/store.ts";
import { replaceAtomically } from "../cleanup.ts";
import type { BuildContext } from "./context.ts";
import { buildInitramfs, type BootParts } from "./initramfs.ts";
import { writeIso } from "./iso.ts";
import { sha256File } from "./packages.ts";

const FORMAT = 2; // 2: reproducible ISO (fixed dates, FAT serial, hidden boot catalog)

export interface BootImage {
  initramfs: { file: string; size: number; uncompressedSize: number };
  iso: { file: string; size: number; volumeId: string };
  cacheHit: boolean;
}

async function filesDigest(files: string[]): Promise<string[]> {
  return Promise.all(files.map(async (file) => `${path.basename(file)} ${await sha256File(file)}`));
}

export async function buildBootImage(ctx: BuildContext, parts: BootParts): Promise<BootImage> {
  const { recipe } = ctx;
  const modules = (await readdir(parts.kernel.modulesDir)).sort();
  const key = cacheKey({
    format: FORMAT,
    epoch: ctx.epoch,
    recipe: {
      name: recipe.name,
      version: recipe.version,
      cmdline: recipe.kernel.cmdline,
      iso: recipe.iso,
      codec: recipe.compression.initramfs,
    },
    sources: await filesDigest([
      path.join(ctx.projectDir, "rootfs-overlay", "init"),
      path.join(ctx.projectDir, "iso", "grub.cfg.in"),
      parts.busybox,
      parts.kernel.vmlinuz,
      ...modules.map((m) => path.join(parts.kernel.modulesDir, m)),
    ]),
    extensions: await Promise.all(
      parts.extensions.map(async (e) => [e.name, e.sha256, await filesDigest(e.sidecars)]),
    ),
    trust: parts.trust && {
      publicKey: parts.trust.publicKey,
      signature: parts.trust.signature,
      verifier: await sha256File(parts.trust.verifier),
    },
  });
  const isoName = `${recipe.name}.iso`;
  const { dir, hit } = await ctx.cache.getOrCreate("boot-image", key, async (tmp) => {
    const initramfs = await buildInitramfs(ctx, path.join(tmp, "initrd.img"), parts);
    const iso = await writeIso(ctx, path.join(tmp, isoName), {
      vmlinuz: parts.kernel.vmlinuz,
      initramfs: initramfs.file,
    });
    const info = { uncompressedSize: initramfs.uncompressedSize, volumeId: iso.volumeId };
    await writeFile(path.join(tmp, "info.json"), JSON.stringify(info));
  });
  const info = JSON.parse(await readFile(path.join(dir, "info.json"), "utf8"));
  const initrd = await publish(path.join(dir, "initrd.img"), path.join(ctx.outDir, "initrd.img"));
  const iso = await publish(path.join(dir, isoName), path.join(ctx.outDir, isoName));
  if (hit) ctx.log.step("iso", `${isoName} and initrd.img unchanged (cached)`);
  return {
    initramfs: { file: initrd.file, size: initrd.size, uncompressedSize: info.uncompressedSize },
    iso: { file: iso.file, size: iso.size, volumeId: info.volumeId },
    cacheHit: hit,
  };
}

/** Copies a cached file into out/ through a temp name. */
async function publish(from: string, to: string): Promise<{ file: string; size: number }> {
  await replaceAtomically(to, (tmp) => copyFile(from, tmp));
  return { file: to, size: (await stat(to)).size };
}
