// Packs the initramfs: busybox and podboot's stage-1 init, the kernel modules in load order, and
// every extension image (kept compressed: squashfs is mounted straight from RAM via a loop device).
import { createWriteStream } from "node:fs";
import { readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { CpioWriter } from "../cpio/newc.ts";
import { compressedPath, compressFile } from "../tools/compress.ts";
import { trackTemp } from "../cleanup.ts";
import { fromSystemError } from "../errors.ts";
import type { StepLog } from "../report/events.ts";
import type { BuiltExtension } from "./extensions.ts";

/** Extensions the system cannot boot without; `podboot.ext=` cannot leave them out. */
export const REQUIRED_EXTENSIONS = new Set(["base", "overlay"]);

/** What goes into the initramfs. */
export interface BootParts {
  /** Stage 1: rootfs-overlay/init. */
  init: string;
  busybox: string;
  kernel: { modulesDir: string; modules: string[] };
  extensions: Pick<BuiltExtension, "name" | "sha256" | "image" | "sidecars">[];
  /**
   * With a signing key: the static verifier, the public key and the signature of
   * extensions.order; stage 1 then mounts nothing before the list's signature checks out.
   */
  trust?: { verifier: string; publicKey: string; signature: string };
}

export function extensionsOrderFile(extensions: Pick<BuiltExtension, "name" | "sha256">[]): string {
  return extensions
    .map(
      (e) => `${e.name} ${e.sha256} ${REQUIRED_EXTENSIONS.has(e.name) ? "required" : "optional"}\n`,
    )
    .join("");
}

export type InitramfsCodec = "none" | "zstd" | "xz" | "gzip";

export async function buildInitramfs(
  target: string,
  parts: BootParts,
  options: { epoch: number; codec: InitramfsCodec; log: StepLog },
): Promise<{ file: string; size: number; uncompressedSize: number }> {
  const raw = `${target}.cpio`;
  const untrack = [trackTemp(raw)];
  const cpio = new CpioWriter(createWriteStream(raw), options.epoch);
  await writeArchive(cpio, parts).catch(async (error: unknown) => {
    await rm(raw, { force: true });
    throw fromSystemError(error, raw) ?? error;
  });
  const uncompressedSize = cpio.bytesWritten;
  try {
    untrack.push(trackTemp(compressedPath(raw, options.codec)));
    const compressed = await compressFile(raw, options.codec, options.log);
    await rename(compressed, target);
  } finally {
    untrack.forEach((u) => u());
  }
  const size = (await stat(target)).size;
  return { file: target, size, uncompressedSize };
}

async function addFile(
  cpio: CpioWriter,
  inArchive: string,
  source: string,
  mode: number,
): Promise<void> {
  const { size } = await stat(source);
  await cpio.add({ type: "file-from-disk", path: inArchive, source, size, mode });
}

/** The initramfs' contents: directories, /dev/console, init, busybox, modules, extensions. */
async function writeArchive(cpio: CpioWriter, parts: BootParts): Promise<void> {
  for (const dir of [
    "bin",
    "dev",
    "proc",
    "sys",
    "run",
    "newroot",
    "tmp",
    "lib",
    "lib/modules",
    "podboot",
    "podboot/extensions",
    ...(parts.trust ? ["podboot/keys"] : []),
  ]) {
    await cpio.add({ type: "dir", path: dir });
  }
  await cpio.add({ type: "chardev", path: "dev/console", major: 5, minor: 1, mode: 0o600 });
  await cpio.add({
    type: "file",
    path: "init",
    mode: 0o755,
    data: await readFile(parts.init),
  });
  await addFile(cpio, "bin/busybox", parts.busybox, 0o755);
  for (const module of parts.kernel.modules) {
    await addFile(
      cpio,
      `lib/modules/${module}.ko`,
      path.join(parts.kernel.modulesDir, `${module}.ko`),
      0o644,
    );
  }
  await cpio.add({
    type: "file",
    path: "lib/modules/load-order",
    data: Buffer.from(parts.kernel.modules.map((m) => `${m}\n`).join("")),
  });
  for (const ext of parts.extensions) {
    await addFile(cpio, `podboot/extensions/${ext.name}.sqfs`, ext.image, 0o444);
    for (const sidecar of ext.sidecars) {
      await addFile(cpio, `podboot/extensions/${path.basename(sidecar)}`, sidecar, 0o444);
    }
  }
  await cpio.add({
    type: "file",
    path: "podboot/extensions.order",
    data: Buffer.from(extensionsOrderFile(parts.extensions)),
  });
  if (parts.trust) {
    await addFile(cpio, "bin/minisign", parts.trust.verifier, 0o755);
    await cpio.add({
      type: "file",
      path: "podboot/keys/podboot.pub",
      data: Buffer.from(parts.trust.publicKey),
    });
    await cpio.add({
      type: "file",
      path: "podboot/extensions.order.minisig",
      data: Buffer.from(parts.trust.signature),
    });
  }
  await cpio.finish();
}
