// The bootable pair, initramfs (for a network boot) + hybrid ISO (stage 1 for its boot loader, the
// extensions beside it for stage 1 to read), cached under a key of everything that goes into them
// (extension images and sidecars, kernel and modules, busybox, the stage-1 init, the captured
// boot loader, the GRUB template, the recipe's ISO and compression options and the build date),
// then copied into out/ through temp files. A no-op rebuild skips compression and xorriso
// entirely.
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { replaceAtomically } from "../fs/atomic.ts";
import { sha256File } from "../fs/hash.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import type { Recipe } from "../recipe/schema.ts";
import { fileRef, ref, type Ref } from "../step/inputs.ts";
import { runStep, type StepDefinition } from "../step/step.ts";
import { extractDeb } from "../tools/dpkg-deb.ts";
import { captureBootLoader, grubIdentity, GRUB_MODULES } from "../tools/grub-mkrescue.ts";
import type { BuiltExtension } from "./extensions.ts";
import { buildInitramfs, type BootParts, type InitramfsCodec } from "./initramfs.ts";
import { writeIso } from "./iso.ts";
import type { BuiltKernel } from "./kernel/index.ts";

export interface BootImage {
  initramfs: { file: string; size: number; uncompressedSize: number; sha256: string };
  iso: { file: string; size: number; volumeId: string; sha256: string };
  cacheHit: boolean;
}

type Trust = NonNullable<BootParts["trust"]>;

type BootImageInputs = {
  loader: Ref<string>;
  image: { name: string; version: string; cmdline: string; iso: Recipe["iso"] };
  codec: InitramfsCodec;
  /** The ISO's stage 1 alone (busybox and init): small, and compressible where the rest is not. */
  stage1Codec: InitramfsCodec;
  epoch: number;
  init: Ref<string>;
  grubTemplate: Ref<string>;
  /** Stage 1's busybox: a compiled binary, or busybox-static's .deb to take it from. */
  busybox: Ref<{ binary: string } | { deb: string }>;
  kernel: Ref<{ vmlinuz: string; modulesDir: string; modules: string[] }>;
  extensions: Ref<BootParts["extensions"][number]>[];
  trust: Ref<Trust> | undefined;
};

interface BootFiles {
  uncompressedSize: number;
  volumeId: string;
  /** Hashed once when made (entries from before lack them: then hashed when read). */
  isoSha256?: string;
  initrdSha256?: string;
}

export const bootImageStep: StepDefinition<BootImageInputs, BootFiles> = {
  kind: "boot-image",
  version: 6,
  async produce(inputs, dir, io) {
    const scratch = await mkdtemp(path.join(os.tmpdir(), "podboot-busybox-"));
    try {
      const busybox = inputs.busybox.value;
      if ("deb" in busybox) await extractDeb(busybox.deb, scratch, io.log);
      const parts: BootParts = {
        init: inputs.init.value,
        busybox: "deb" in busybox ? path.join(scratch, "usr/bin/busybox") : busybox.binary,
        kernel: inputs.kernel.value,
        extensions: inputs.extensions.map((e) => e.value),
        trust: inputs.trust?.value,
      };
      const initramfs = await buildInitramfs(dir, parts, {
        epoch: inputs.epoch,
        codec: inputs.codec,
        stage1Codec: inputs.stage1Codec,
        log: io.log,
      });
      io.progress(
        `initramfs ${(initramfs.size / 1e6).toFixed(1)} MB (${inputs.codec}, ${(initramfs.uncompressedSize / 1e6).toFixed(1)} MB unpacked)`,
      );
      const { image } = inputs;
      const iso = await writeIso(
        path.join(dir, `${image.name}.iso`),
        {
          vmlinuz: inputs.kernel.value.vmlinuz,
          stage1: initramfs.stage1,
          extensions: initramfs.extensions,
          extensionsOrder: initramfs.order,
        },
        {
          ...image,
          ...image.iso,
          grubTemplate: inputs.grubTemplate.value,
          loader: inputs.loader.value,
          epoch: inputs.epoch,
          log: io.log,
        },
      );
      const [isoSha256, initrdSha256] = await Promise.all([
        sha256File(path.join(dir, `${image.name}.iso`)),
        sha256File(initramfs.full),
      ]);
      const info: BootFiles = {
        uncompressedSize: initramfs.uncompressedSize,
        volumeId: iso.volumeId,
        isoSha256,
        initrdSha256,
      };
      // Only initrd.img and the ISO are read from the cache: the parts are on the ISO.
      await rm(initramfs.stage1);
      await rm(initramfs.extensions);
      await writeFile(path.join(dir, "info.json"), JSON.stringify(info));
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  },
  read: async (dir) => JSON.parse(await readFile(path.join(dir, "info.json"), "utf8")) as BootFiles,
  summary: (info, inputs) => `${inputs.image.name}.iso and initrd.img, volume ${info.volumeId}`,
};

/** GRUB as grub-mkrescue puts it into an ISO, made once per GRUB version and build date. */
export const bootLoaderStep: StepDefinition<
  { grub: Ref<null>; modules: string[]; epoch: number },
  void
> = {
  kind: "boot-loader",
  version: 2,
  produce: (inputs, dir, io) =>
    captureBootLoader(dir, { modules: inputs.modules, epoch: inputs.epoch, log: io.log }),
  read: async () => undefined,
  summary: (_, inputs) => `GRUB for BIOS and UEFI, ${inputs.modules.length} modules`,
};

async function digest(file: string): Promise<Ref<string>> {
  return fileRef(file, await sha256File(file));
}

export async function buildBootImage(
  env: BuildEnv,
  recipe: Recipe,
  parts: {
    /** With the sha256 already known: the compile's record, or the package index's. */
    busybox: ({ binary: string } | { deb: string }) & { sha256: string };
    kernel: BuiltKernel;
    extensions: BuiltExtension[];
    trust?: Trust;
  },
): Promise<BootImage> {
  const { kernel, trust } = parts;
  const modules = await Promise.all(
    kernel.modules.map((m) => sha256File(path.join(kernel.modulesDir, `${m}.ko`))),
  );
  const loader = await runStep(env, bootLoaderStep, {
    grub: ref(null, await grubIdentity()),
    modules: GRUB_MODULES,
    epoch: env.epoch,
  });
  const run = await runStep(env, bootImageStep, {
    loader: ref(loader.dir, loader.key),
    image: {
      name: recipe.name,
      version: recipe.version,
      cmdline: recipe.kernel.cmdline,
      iso: recipe.iso,
    },
    codec: recipe.compression.initramfs,
    stage1Codec: recipe.compression.stage1,
    epoch: env.epoch,
    init: await digest(path.join(env.projectDir, "rootfs-overlay", "init")),
    grubTemplate: await digest(path.join(env.projectDir, "iso", "grub.cfg.in")),
    busybox:
      "deb" in parts.busybox
        ? ref({ deb: parts.busybox.deb }, ["deb", parts.busybox.sha256])
        : ref({ binary: parts.busybox.binary }, ["compiled", parts.busybox.sha256]),
    kernel: ref(kernel, [await sha256File(kernel.vmlinuz), kernel.modules, modules]),
    extensions: await Promise.all(
      parts.extensions.map(async (e) =>
        ref(e, [e.name, e.sha256, e.loadable, await Promise.all(e.sidecars.map(sha256File))]),
      ),
    ),
    trust: trust && ref(trust, { ...trust, verifier: await sha256File(trust.verifier) }),
  });
  const isoName = `${recipe.name}.iso`;
  const [initrd, iso] = await Promise.all([
    publish(path.join(run.dir, "initrd.img"), path.join(env.outDir, "initrd.img")),
    publish(path.join(run.dir, isoName), path.join(env.outDir, isoName)),
  ]);
  const { isoSha256, initrdSha256 } = run.result;
  return {
    initramfs: {
      ...initrd,
      uncompressedSize: run.result.uncompressedSize,
      sha256: initrdSha256 ?? (await sha256File(initrd.file)),
    },
    iso: {
      ...iso,
      volumeId: run.result.volumeId,
      sha256: isoSha256 ?? (await sha256File(iso.file)),
    },
    cacheHit: run.cacheHit,
  };
}

/** Copies a cached file into out/ through a temp name. */
async function publish(from: string, to: string): Promise<{ file: string; size: number }> {
  await replaceAtomically(to, (tmp) => copyFile(from, tmp));
  return { file: to, size: (await stat(to)).size };
}
