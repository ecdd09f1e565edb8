// The images baked into the ISO, as a read-only image store (image/store.ts) that podman reads in
// place: nothing is loaded at boot. `busybox-static` images hold the busybox binary from the
// same verified .deb the base extension ships, with a link per applet in /bin.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buildOciImage, type LayerFile } from "../image/oci.ts";
import { writeImageStore, type StoredImage } from "../image/store.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import type { ImageSpec } from "../recipe/schema.ts";
import type { StepLog } from "../report/events.ts";
import { fileRef, type Ref } from "../step/inputs.ts";
import { runStep, type StepDefinition } from "../step/step.ts";
import { extractDeb } from "../tools/dpkg-deb.ts";
import { run } from "../tools/run.ts";
import type { ResolvedPackages } from "./packages.ts";

export interface BakedImage {
  reference: string;
  /** The manifest's digest. */
  digest: string;
  /** Bytes of the image's layer. */
  size: number;
}

/** Where the image store is in the image root (storage.conf's additionalimagestores names it). */
export const IMAGE_STORE = "usr/share/podboot/store";
/**
 * The same images for rootless podman (user podboot, uid 1000): its layers' files are owned by
 * podboot, which is root inside its containers. A root-owned layer would be nobody's there, and
 * its directories unwritable to the container's root. (mksquashfs stores the file data once.)
 */
export const ROOTLESS_IMAGE_STORE = "usr/share/podboot/store-rootless";
export const ROOTLESS_UID = 1000;

export function imageReference(name: string): string {
  return name.includes(":") ? name : `${name}:latest`;
}

type ImagesInputs = { busybox: Ref<string>; images: ImageSpec[]; epoch: number };

export const imagesStep: StepDefinition<ImagesInputs, BakedImage[]> = {
  kind: "images",
  version: 3,
  async produce(inputs, dir, io) {
    const files = await busyboxLayer(inputs.busybox.value, io.log);
    const stored: StoredImage[] = [];
    for (const spec of inputs.images) {
      const image = await buildOciImage({ files, cmd: spec.cmd, epoch: inputs.epoch });
      stored.push({ reference: imageReference(spec.name), image, files });
    }
    await writeImageStore(path.join(dir, "store"), stored);
    await writeImageStore(path.join(dir, "store-rootless"), stored);
    const baked: BakedImage[] = stored.map(({ reference, image }) => ({
      reference,
      digest: image.manifestDigest,
      size: image.layer.length,
    }));
    await writeFile(path.join(dir, "images.json"), JSON.stringify(baked, null, 2) + "\n");
  },
  async read(dir) {
    return JSON.parse(await readFile(path.join(dir, "images.json"), "utf8")) as BakedImage[];
  },
  summary: (images) =>
    images
      .map((i) => `${i.reference} ${(i.size / 1e6).toFixed(1)} MB, ${i.digest.slice(0, 19)}…`)
      .join("; ") || "no images",
};

/** busybox and a link per applet in /bin, with the usual top-level directories. */
async function busyboxLayer(deb: string, log: StepLog): Promise<LayerFile[]> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), "podboot-image-"));
  try {
    await extractDeb(deb, scratch, log);
    const busybox = path.join(scratch, "usr/bin/busybox");
    const applets = (await run(busybox, ["--list"], { log }))
      .split("\n")
      .filter((a) => a && a !== "busybox");
    return [
      ...["bin", "dev", "etc", "proc", "sys", "tmp"].map((dir) => ({
        path: dir,
        mode: dir === "tmp" ? 0o1777 : 0o755,
        directory: true,
      })),
      { path: "bin/busybox", mode: 0o755, data: await readFile(busybox) },
      ...applets.map((applet) => ({ path: `bin/${applet}`, mode: 0o777, symlinkTo: "busybox" })),
    ];
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The baked images and, when there are any, the store holding them (a cache entry). */
export async function bakeImages(
  env: BuildEnv,
  images: ImageSpec[],
  packages: ResolvedPackages,
): Promise<{ images: BakedImage[]; stores: { at: string; dir: string; key: string }[] }> {
  if (images.length === 0) return { images: [], stores: [] };
  const record = packages.busyboxPackage;
  const run = await runStep(env, imagesStep, {
    busybox: fileRef(packages.debs.get(record.name)!, record.sha256),
    images,
    epoch: env.epoch,
  });
  return {
    images: run.result,
    stores: [
      { at: IMAGE_STORE, dir: path.join(run.dir, "store"), key: run.key },
      { at: ROOTLESS_IMAGE_STORE, dir: path.join(run.dir, "store-rootless"), key: run.key },
    ],
  };
}
