// Shared by the build-container tests (runc bundle, podman and docker arguments).
import type { ContainerSpec } from "../../../../builder/tools/runc.ts";

/** A compile's container: the source archive read-only, the output directory writable. */
export const compileSpec: ContainerSpec = {
  rootfs: "/cache/root",
  args: ["/bin/sh", "-c", "make"],
  env: { DESTDIR: "/out", JOBS: "2" },
  cwd: "/",
  hostname: "conmon",
  binds: [
    { source: "/cache/src.tar", destination: "/sources/src.tar", readonly: true },
    { source: "/cache/tree", destination: "/out", readonly: false },
  ],
};
