// The images baked into the ISO. `busybox-static` images hold the busybox binary from the same
// verified .deb the base extension ships, with a link per applet in /bin.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buildOciArchive, type LayerFile } from "../image/oci.ts";
import { extractDeb } from "../tools/dpkg-deb.ts";
import { run } from "../tools/run.ts";
import type { BuildContext } from "./context.ts";
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

export async function bakeImages(
  ctx: BuildContext,
  packages: ResolvedPackages,
): Promise<BakedImage[]> {
  if (ctx.recipe.images.length === 0) return [];
  const log = ctx.log.stepLog("images");
  const scratch = await mkdtemp(path.join(os.tmpdir(), "podboot-image-"));
  try {
    await extractDeb(packages.debs.get(packages.busyboxPackage.name)!, scratch, log);
    const busybox = path.join(scratch, "usr/bin/busybox");
    const applets = (await run(busybox, ["--list"], { log }))
      .split("\n")
      .filter((a) => a && a !== "busybox");
    const files: LayerFile[] = [
      ...["bin", "dev", "etc", "proc", "sys", "tmp"].map((dir) => ({
        path: dir,
        mode: dir === "tmp" ? 0o1777 : 0o755,
        directory: true,
      })),
      { path: "bin/busybox", mode: 0o755, data: await readFile(busybox) },
      ...applets.map((applet) => ({ path: `bin/${applet}`, mode: 0o777, symlinkTo: "busybox" })),
    ];
    const images: BakedImage[] = [];
    for (const spec of ctx.recipe.images) {
      const reference = imageReference(spec.name);
      const { archive, manifestDigest } = await buildOciArchive({
        reference,
        files,
        cmd: spec.cmd,
        epoch: ctx.epoch,
      });
      const base = spec.name.split("/").at(-1)!.replace(/:.*/, "");
      images.push({
        reference,
        pathInRoot: `usr/share/podboot/images/${base}.tar`,
        archive,
        digest: manifestDigest,
      });
      ctx.log.step(
        "image",
        `${reference} ${(archive.length / 1e6).toFixed(1)} MB, ${manifestDigest.slice(0, 19)}…`,
      );
    }
    return images;
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await log.close();
  }
}
