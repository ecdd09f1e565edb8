// A build container's root filesystem: Debian minbase plus the components' build dependencies,
// made by mmdebstrap and cached under a key of the exact package versions apt resolves, so it is
// rebuilt only when the package set or the archive's versions change.
import path from "node:path";
import { cacheKey } from "../cache/store.ts";
import { resolveClosure, type ResolvedPackage } from "../tools/apt.ts";
import { mmdebstrap } from "../tools/mmdebstrap.ts";
import type { BuildContext } from "./context.ts";

export interface BuildRoot {
  suite: string;
  rootfs: string;
  key: string;
  /** Compilers in the root (gcc-N, golang-N, rustc …) with their versions, for provenance. */
  toolchain: ResolvedPackage[];
  cacheHit: boolean;
}

const FORMAT = 1;
const TOOLCHAIN = /^(gcc-[0-9]+|golang-[0-9.]+-go|rustc|binutils)$/;

export async function buildRoot(
  ctx: BuildContext,
  suite: string,
  packages: string[],
): Promise<BuildRoot> {
  const wanted = [...new Set(["build-essential", ...packages])].sort();
  const apt = await ctx.aptRoots.get(suite, "deb");
  const log = ctx.log.stepLog(`build-root-${suite}`);
  try {
    const closure = await resolveClosure(apt, wanted, log);
    const key = cacheKey({
      format: FORMAT,
      suite,
      mirror: apt.mirror,
      packages: wanted,
      versions: closure.map((p) => `${p.name}=${p.version}`).sort(),
    });
    const started = Date.now();
    const { dir, hit } = await ctx.cache.getOrCreate("build-root", key, async (tmp) => {
      ctx.log.step("build-root", `${suite}: installing ${wanted.length} packages with mmdebstrap`);
      await mmdebstrap(
        path.join(tmp, "rootfs"),
        { suite, mirror: apt.mirror, components: apt.components, packages: wanted },
        log,
      );
    });
    ctx.log.step(
      "build-root",
      `${suite}: ${closure.length} packages${hit ? " (cached)" : ` in ${((Date.now() - started) / 1000).toFixed(1)} s`}`,
    );
    return {
      suite,
      rootfs: path.join(dir, "rootfs"),
      key,
      toolchain: closure.filter((p) => TOOLCHAIN.test(p.name)),
      cacheHit: hit,
    };
  } finally {
    await log.close();
  }
}
