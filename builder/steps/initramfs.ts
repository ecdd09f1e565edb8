// Packs the boot archives: stage 1 (busybox and podboot's init, the kernel modules in load order, the
// list of extensions) and the extension images (kept compressed: squashfs is mounted straight from
// RAM via a loop device), apart for the ISO and in one initramfs for a network boot.
import { createReadStream, createWriteStream } from "node:fs";
import { readFile, rename, rm, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import path from "node:path";
import { CpioWriter } from "../cpio/newc.ts";
import { compressFile } from "../tools/compress.ts";
import { fromSystemError } from "../errors.ts";
import type { StepLog } from "../report/events.ts";
import { REQUIRED_EXTENSIONS } from "../recipe/schema.ts";
import type { BuiltExtension } from "./extensions.ts";

/** What goes into the initramfs. */
export interface BootParts {
  /** Stage 1: rootfs-overlay/init. */
  init: string;
  busybox: string;
  kernel: { modulesDir: string; modules: string[] };
  extensions: Pick<BuiltExtension, "name" | "sha256" | "image" | "sidecars" | "loadable">[];
  /**
   * With a signing key: the static verifier, the public key and the signature of
   * extensions.order; stage 1 then mounts nothing before the list's signature checks out.
   */
  trust?: { verifier: string; publicKey: string; signature: string };
}

/**
 * The list stage 1 mounts by, one line per extension: name, sha256, and how it loads — required
 * (always), optional (unless podboot.ext= leaves it out) or loadable (not on the ISO: podboot-load
 * mounts it at run time).
 */
export function extensionsOrderFile(
  extensions: Pick<BuiltExtension, "name" | "sha256" | "loadable">[],
): string {
  const how = (e: Pick<BuiltExtension, "name" | "loadable">) =>
    e.loadable ? "loadable" : REQUIRED_EXTENSIONS.has(e.name) ? "required" : "optional";
  return extensions.map((e) => `${e.name} ${e.sha256} ${how(e)}\n`).join("");
}

export type InitramfsCodec = "none" | "zstd" | "xz" | "gzip";

/** The boot archives, in the directory buildInitramfs was given. */
export interface InitramfsFiles {
  /** Stage 1 alone (compressed with the stage 1 codec): what the ISO's boot loader loads. */
  stage1: string;
  /**
   * The extension images as an uncompressed newc archive (they are squashfs, compressed already):
   * on the ISO, stage 1 reads it from the boot medium into RAM, so the boot loader and the kernel
   * never hold it twice.
   */
  extensions: string;
  /** Both archives in one (compressed with the codec): for a network boot or `-kernel/-initrd`. */
  full: string;
  /** The list of extensions stage 1 holds (podboot/extensions.order): the ISO carries a copy. */
  order: string;
  /** Bytes of the full archive, and of it uncompressed. */
  size: number;
  uncompressedSize: number;
}

export async function buildInitramfs(
  dir: string,
  parts: BootParts,
  options: { epoch: number; codec: InitramfsCodec; stage1Codec: InitramfsCodec; log: StepLog },
): Promise<InitramfsFiles> {
  const order = extensionsOrderFile(parts.extensions);
  const stage1Raw = path.join(dir, "stage1.cpio");
  const extensions = path.join(dir, "extensions.cpio");
  const fullRaw = path.join(dir, "initrd.cpio");
  await writeCpio(stage1Raw, options.epoch, (cpio) => writeStage1(cpio, parts, order));
  await writeCpio(extensions, options.epoch, (cpio) => writeExtensions(cpio, parts));
  // The kernel unpacks concatenated archives one after the other, as does readNewc.
  await concatenate([stage1Raw, extensions], fullRaw);
  const uncompressedSize = (await stat(fullRaw)).size;
  const stage1 = path.join(dir, "stage1.img");
  const full = path.join(dir, "initrd.img");
  await rename(await compressFile(stage1Raw, options.stage1Codec, options.log), stage1);
  await rename(await compressFile(fullRaw, options.codec, options.log), full);
  return { stage1, extensions, full, order, size: (await stat(full)).size, uncompressedSize };
}

async function writeCpio(
  file: string,
  epoch: number,
  write: (cpio: CpioWriter) => Promise<void>,
): Promise<void> {
  const cpio = new CpioWriter(createWriteStream(file), epoch);
  await write(cpio).catch(async (error: unknown) => {
    await rm(file, { force: true });
    throw fromSystemError(error, file) ?? error;
  });
}

async function concatenate(sources: string[], target: string): Promise<void> {
  const out = createWriteStream(target);
  for (const source of sources) await pipeline(createReadStream(source), out, { end: false });
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
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

/** Stage 1: directories, /dev/console, init, busybox, modules, the signed list of extensions. */
async function writeStage1(cpio: CpioWriter, parts: BootParts, order: string): Promise<void> {
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
  await cpio.add({
    type: "file",
    path: "podboot/extensions.order",
    data: Buffer.from(order),
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

/** The extension images and their sidecars, under podboot/extensions/ (the loadable ones are not). */
async function writeExtensions(cpio: CpioWriter, parts: BootParts): Promise<void> {
  await cpio.add({ type: "dir", path: "podboot" });
  await cpio.add({ type: "dir", path: "podboot/extensions" });
  for (const ext of parts.extensions.filter((e) => !e.loadable)) {
    await addFile(cpio, `podboot/extensions/${ext.name}.sqfs`, ext.image, 0o444);
    for (const sidecar of ext.sidecars) {
      await addFile(cpio, `podboot/extensions/${path.basename(sidecar)}`, sidecar, 0o444);
    }
  }
  await cpio.finish();
}
