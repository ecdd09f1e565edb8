// The images baked into the ISO. `busybox-static` images hold the busybox binary from the same
// verified .deb the base extension ships, with a link per applet in /bin.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buildOciArchive, type LayerFile } from "../image/oci.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import type { ImageSpec } from "../recipe/schema.ts";
import { fileRef, type Ref } from "../step/inputs.ts";
import { runStep, type StepDefinition } from "../step/step.ts";
import { extractDeb } from "../tools/dpkg-deb.ts";
import { run } from "../tools/run.ts";
import type { StepLog } from "../report/events.ts";
import type { ResolvedPackages } from "./packages.ts";

export interface BakedImage {
  reference: string;
  /** Path inside the image root, e.g. usr/share/podboot/images/podboot-hello.tar */
  pathInRoot: string;
  archive: Buffer;
  digest: string;
}

export function imageReference(name: string): string {
  return name.includes(":") ? name : `${name}:latest`;
}

type ImagesInputs = { busybox: Ref<string>; images: ImageSpec[]; epoch: number };

type ImageRecord = Omit<BakedImage, "archive"> & { file: string };

export const imagesStep: StepDefinition<ImagesInputs, BakedImage[]> = {
  kind: "images",
  version: 1,
  async produce(inputs, dir, io) {
    const files = await busyboxLayer(inputs.busybox.value, io.log);
    const records: ImageRecord[] = [];
    for (const spec of inputs.images) {
      const reference = imageReference(spec.name);
      const { archive, manifestDigest } = await buildOciArchive({
        reference,
        files,
        cmd: spec.cmd,
        epoch: inputs.epoch,
      });
      const base = spec.name.split("/").at(-1)!.replace(/:.*/, "");
      await writeFile(path.join(dir, `${base}.tar`), archive);
      records.push({
        reference,
        pathInRoot: `usr/share/podboot/images/${base}.tar`,
        digest: manifestDigest,
        file: `${base}.tar`,
      });
    }
    await writeFile(path.join(dir, "images.json"), JSON.stringify(records, null, 2) + "\n");
  },
  async read(dir) {
    const records = JSON.parse(
      await readFile(path.join(dir, "images.json"), "utf8"),
    ) as ImageRecord[];
    return Promise.all(
      records.map(async ({ file, ...image }) => ({
        ...image,
        archive: await readFile(path.join(dir, file)),
      })),
    );
  },
  summary: (images) =>
    images
      .map(
        (i) =>
          `${i.reference} ${(i.archive.length / 1e6).toFixed(1)} MB, ${i.digest.slice(0, 19)}…`,
      )
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

export async function bakeImages(
  env: BuildEnv,
  images: ImageSpec[],
  packages: ResolvedPackages,
): Promise<BakedImage[]> {
  if (images.length === 0) return [];
  const record = packages.busyboxPackage;
  const run = await runStep(env, imagesStep, {
    busybox: fileRef(packages.debs.get(record.name)!, record.sha256),
    images,
    epoch: env.epoch,
  });
  return run.result;
}
