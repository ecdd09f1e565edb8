// The kernel source tree of a linux-source .deb: unpacking it (a tarball inside the package) and
// reading its version from the top Makefile.
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { PodbootError } from "../../errors.ts";
import type { StepLog } from "../../report/events.ts";
import { unpackDebTarball } from "../../tools/dpkg-deb.ts";

/** Unpacks the kernel tree of a linux-source .deb into dir. */
export async function unpackLinuxSource(deb: string, dir: string, log: StepLog): Promise<void> {
  await mkdir(dir, { recursive: true });
  const failure = await unpackDebTarball(deb, "./usr/src/linux-source-*.tar.xz", dir, log);
  if (failure) {
    throw new PodbootError(
      `${path.basename(deb)}: the kernel source tarball is corrupt or truncated (${failure})`,
      "delete the cached package (podboot cache prune --all) and build again, or try another mirror with --mirror",
      { exitCode: 1 },
    );
  }
}

/** VERSION.PATCHLEVEL.SUBLEVEL from the top Makefile of a kernel tree. */
export async function kernelTreeVersion(dir: string): Promise<string> {
  const makefile = await readFile(path.join(dir, "Makefile"), "utf8").catch(() => "");
  const field = (name: string) =>
    new RegExp(`^${name}\\s*=\\s*([0-9]+)\\s*$`, "m").exec(makefile)?.[1];
  const [version, patchlevel, sublevel] = [
    field("VERSION"),
    field("PATCHLEVEL"),
    field("SUBLEVEL"),
  ];
  if (!version || !patchlevel) {
    throw new PodbootError(
      `${dir} is not a kernel source tree (no VERSION/PATCHLEVEL in its Makefile)`,
      "set kernel.build.package to a linux-source package",
    );
  }
  return `${version}.${patchlevel}.${sublevel ?? 0}`;
}
