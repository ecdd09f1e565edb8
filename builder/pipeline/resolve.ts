// The resolve phase: what the Debian indexes and the component sources say, gathered before the
// plan is made. apt resolves each extension's package closure and the kernel's package; each
// component (and each toolchain a compiled one needs) gets the first of its listed sources that
// can be obtained, downloaded into the cache's source pool and checked against its pinned hash.
import os from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import type { PackagePlan } from "../plan/build-plan.ts";
import type { BuildRequest } from "../plan/request.ts";
import { PodbootError } from "../errors.ts";
import type { Component } from "../recipe/component.ts";
import { report, togetherIn } from "../report/events.ts";
import { resolveClosure } from "../tools/apt.ts";
import type { ResolvedPackage } from "../tools/apt-root.ts";
import { chooseSource, type SourceChoice } from "../steps/sources.ts";
import { componentsForImage } from "../plan/build-plan.ts";
import type { BuildEnv } from "./env.ts";

/**
 * Each extension's closure and the kernel's package, as the image suite's index has them. The
 * first answer has apt build its binary cache of the index; the others then run at once, one per
 * core (each apt solve is ~1–2 s of one core; eight in a row were 17 s of a cold build).
 */
export async function resolveClosures(
  env: BuildEnv,
  request: BuildRequest,
): Promise<{ closures: Map<string, ResolvedPackage[]>; kernelPackage: ResolvedPackage }> {
  const log = env.log.stepLog("packages");
  try {
    const { kernel } = request.recipe;
    const wanted = kernel.source === "build" ? kernel.build.package : kernel.debian.package;
    const extensions = request.recipe.extensions.filter((ext) => ext.packages.length > 0);
    const asks = [...extensions.map((ext) => ext.packages), [wanted]];
    const solve = async (packages: string[]) => {
      const own = togetherIn(log);
      return resolveClosure(env.apt, packages, own).finally(() => own.close());
    };
    const limit = pLimit(Math.max(1, os.availableParallelism()));
    const first = await solve(asks[0]!);
    const rest = await Promise.all(asks.slice(1).map((packages) => limit(() => solve(packages))));
    const answers = [first, ...rest];
    const closures = new Map<string, ResolvedPackage[]>(
      request.recipe.extensions.map((ext) => [ext.name, []]),
    );
    extensions.forEach((ext, i) => closures.set(ext.name, answers[i]!));
    const pattern = kernel.source === "build" ? /^linux-source-[0-9]/ : /^linux-image-[0-9]/;
    const kernelPackage = answers.at(-1)!.find((p) => pattern.test(p.name));
    if (!kernelPackage) {
      throw new PodbootError(
        kernel.source === "build"
          ? `${wanted} is not a linux-source package`
          : `${wanted} does not lead to a linux-image package`,
        kernel.source === "build"
          ? "set kernel.build.package to a kernel source package such as linux-source-6.12"
          : "set kernel.debian.package to a kernel image such as linux-image-amd64",
      );
    }
    return { closures, kernelPackage };
  } finally {
    await log.close();
  }
}

/**
 * The source of every component the image needs (stage 1's busybox among them) and of every
 * toolchain a compiled one needs (transitively, when that toolchain is compiled too). None with
 * --prebuilt.
 */
export async function chooseSources(
  env: BuildEnv,
  request: BuildRequest,
  packages: PackagePlan,
): Promise<Map<string, SourceChoice>> {
  const choices = new Map<string, SourceChoice>();
  if (request.prebuilt) {
    for (const { component } of request.set.components.filter((f) => f.component.extension)) {
      report.step(
        env.log,
        "compile",
        `${component.name}: not built, --prebuilt compiles nothing and it has no Debian binary`,
      );
    }
    return choices;
  }
  const listed = request.set.components.map((f) => f.component);
  const { components, skipped } = componentsForImage(listed, packages.shipped, request.leftOut, {
    extensions: new Set(request.recipe.extensions.map((e) => e.name)),
  });
  for (const { component, reason } of skipped) {
    report.step(env.log, "compile", `${component.name}: not compiled, ${reason}`);
  }
  const dirOf = new Map(
    [...request.set.components, ...request.set.toolchains, request.set.stage1Busybox].map((f) => [
      f.component,
      path.dirname(f.file),
    ]),
  );
  const choose = async (component: Component) => {
    const choice = await chooseSource(env, component, {
      strict: request.strictSource,
      dir: dirOf.get(component),
    });
    choices.set(component.name, choice);
    return choice;
  };
  const wanted = new Set<string>();
  for (const component of [...components, request.set.stage1Busybox.component]) {
    const choice = await choose(component);
    if (choice.use === "source" && component.build.toolchain) wanted.add(component.build.toolchain);
  }
  // The closure lists dependencies first: walking it backwards sees each toolchain's users first.
  for (const { component } of [...request.set.toolchains].reverse()) {
    if (!wanted.has(component.name)) continue;
    const choice = await choose(component);
    if (choice.use === "source" && component.build.toolchain) wanted.add(component.build.toolchain);
  }
  return choices;
}
