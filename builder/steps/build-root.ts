// A build container's root filesystem: Debian minbase plus the components' build dependencies,
// made by mmdebstrap and cached under a key of the exact package versions apt resolves, so it is
// rebuilt only when the package set or the archive's versions change.
import path from "node:path";
import type { BuildEnv } from "../pipeline/env.ts";
import { ref, type Ref } from "../step/inputs.ts";
import { runStep, type StepDefinition } from "../step/step.ts";
import { resolveClosure } from "../tools/apt.ts";
import type { ResolvedPackage } from "../tools/apt-root.ts";
import { mmdebstrap } from "../tools/mmdebstrap.ts";

export interface BuildRoot {
  suite: string;
  rootfs: string;
  key: string;
  /** Compilers in the root (gcc-N, golang-N, rustc …) with their versions, for provenance. */
  toolchain: ResolvedPackage[];
  cacheHit: boolean;
}

type BuildRootInputs = {
  suite: string;
  mirror: string;
  /** What was asked for (build-essential and the components' build depends), sorted. */
  packages: string[];
  /** What apt resolves them to: the exact versions fix what is installed. */
  versions: string[];
  /** Archive components only say where apt looks; the versions above fix the result. */
  archive: Ref<string[]>;
};

export const buildRootStep: StepDefinition<BuildRootInputs, { rootfs: string }> = {
  kind: "build-root",
  version: 1,
  instance: (inputs) => inputs.suite,
  async produce(inputs, dir, io) {
    io.progress(`${inputs.suite}: installing ${inputs.packages.length} packages with mmdebstrap`);
    await mmdebstrap(
      path.join(dir, "rootfs"),
      {
        suite: inputs.suite,
        mirror: inputs.mirror,
        components: inputs.archive.value,
        packages: inputs.packages,
      },
      io.log,
    );
  },
  read: async (dir) => ({ rootfs: path.join(dir, "rootfs") }),
  summary: (_result, inputs) => `${inputs.suite}: ${inputs.versions.length} packages`,
};

const TOOLCHAIN = /^(gcc-[0-9]+|golang-[0-9.]+-go|rustc|binutils|musl-dev)$/;

export async function buildRoot(
  env: BuildEnv,
  suite: string,
  packages: string[],
): Promise<BuildRoot> {
  const wanted = [...new Set(["build-essential", ...packages])].sort();
  const apt = await env.aptRoots.get(suite, "deb");
  const log = env.log.stepLog(`build-root-${suite}`);
  const closure = await resolveClosure(apt, wanted, log).finally(() => log.close());
  const run = await runStep(env, buildRootStep, {
    suite,
    mirror: apt.mirror,
    packages: wanted,
    versions: closure.map((p) => `${p.name}=${p.version}`).sort(),
    archive: ref(apt.components, undefined),
  });
  return {
    suite,
    rootfs: run.result.rootfs,
    key: run.key,
    toolchain: closure.filter((p) => TOOLCHAIN.test(p.name)),
    cacheHit: run.cacheHit,
  };
}
