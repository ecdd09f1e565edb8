// Compiling the plan's components: one build root per root group of the plan, then the
// toolchains and components in parallel (p-limit, one slot per core), each toolchain before what
// needs it. A component the plan gives to Debian's binary is recorded with the reason.
import os from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import { PodbootError } from "../errors.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import type { CompilePlan, ComponentPlan } from "../plan/build-plan.ts";
import type { Component, ComponentFile } from "../recipe/component.ts";
import { report } from "../report/events.ts";
import { buildRoot, type BuildRoot } from "./build-root.ts";
import {
  compileComponent,
  toolchainDir,
  type CompiledComponent,
  type ToolchainMount,
} from "./compile.ts";
import { chooseSource, type ObtainedSource } from "./sources.ts";

/** A component compiled from source: its source, build root, result and compiler. */
export interface Compiled {
  component: Component;
  use: "source";
  source: ObtainedSource;
  root: BuildRoot;
  compiled: CompiledComponent;
  /** The toolchain it was compiled with (build.toolchain), if any. */
  toolchain?: ToolchainOutcome;
}

interface Prebuilt {
  component: Component;
  use: "prebuilt";
  reason: string;
}

/** A compiler built (or taken from Debian) before the components that name it. */
export type ToolchainOutcome = (Compiled | Prebuilt) & { mount: ToolchainMount };

export type ComponentOutcome = Compiled | Prebuilt;

export async function compileComponents(
  env: BuildEnv,
  plan: CompilePlan,
): Promise<{
  components: ComponentOutcome[];
  stage1: ComponentOutcome;
  toolchains: ToolchainOutcome[];
}> {
  const roots = new Map<string, BuildRoot>();
  for (const [id, root] of plan.roots) {
    roots.set(id, await buildRoot(env, root.suite, root.depends));
  }
  const rootOf = (component: Component) => roots.get(plan.rootOf.get(component.name)!)!;
  // The live task list: every compile is queued up front, each Debian binary shown as such.
  for (const p of [...plan.toolchains, ...plan.components, plan.stage1]) {
    report.task(
      env.log,
      p.component.name,
      p.use === "source" ? "queued" : "prebuilt",
      p.use === "source" ? p.choice.source.kind : "Debian binary",
    );
  }
  // The one place compiles run side by side: one slot per core.
  const limit = pLimit(Math.max(1, os.availableParallelism()));
  const toolchains = new Map<string, Promise<ToolchainOutcome>>();
  const toolchainFor = (name: string | undefined): Promise<ToolchainOutcome | undefined> => {
    if (!name) return Promise.resolve(undefined);
    let outcome = toolchains.get(name);
    if (!outcome) {
      const planned = plan.toolchains.find((t) => t.component.name === name)!;
      outcome = (async () => {
        if (planned.use === "prebuilt")
          return prebuiltToolchain(env, planned.component, planned.reason);
        const own = await toolchainFor(planned.component.build.toolchain);
        const { source } = planned.choice;
        return limit(() =>
          compileToolchain(env, planned.component, source, rootOf(planned.component), own),
        );
      })();
      toolchains.set(name, outcome);
    }
    return outcome;
  };
  const compileOne = async (planned: ComponentPlan): Promise<ComponentOutcome> => {
    const { component } = planned;
    if (planned.use === "prebuilt") {
      report.step(
        env.log,
        "compile",
        `${component.name}: Debian binary, because ${planned.reason}`,
      );
      return { component, use: "prebuilt", reason: planned.reason };
    }
    const toolchain = await toolchainFor(component.build.toolchain);
    const root = rootOf(component);
    const { source } = planned.choice;
    const compiled = await limit(() =>
      compileComponent(env, component, source, root, toolchain?.mount),
    );
    return { component, use: "source", source, root, compiled, ...(toolchain && { toolchain }) };
  };
  // Queued in the order the task list shows them.
  const outcomes = await Promise.all([...plan.components, plan.stage1].map(compileOne));
  const stage1 = outcomes.pop()!;
  return {
    components: outcomes,
    stage1,
    toolchains: await Promise.all(toolchains.values()),
  };
}

/** Directories of a toolchain's provided programs under prefix: they go first on PATH. */
function programDirs(component: Component, prefix: string): string[] {
  return [
    ...new Set(component.provides.map((p) => path.posix.join(prefix, path.posix.dirname(p)))),
  ];
}

/**
 * No source of the toolchain can be had: Debian's package (already installed in the build root of
 * the components that use it) stands in, and the reason is recorded.
 */
function prebuiltToolchain(env: BuildEnv, component: Component, reason: string): ToolchainOutcome {
  report.step(
    env.log,
    "toolchain",
    `${component.name}: Debian's ${component.package}, because ${reason}`,
  );
  return {
    component,
    use: "prebuilt",
    reason,
    mount: {
      name: component.name,
      path: programDirs(component, "/"),
      key: `debian ${component.package}`,
    },
  };
}

/** Compiles a toolchain recipe like any component, to be bound into its users' containers. */
async function compileToolchain(
  env: BuildEnv,
  component: Component,
  source: ObtainedSource,
  root: BuildRoot,
  own: ToolchainOutcome | undefined,
): Promise<ToolchainOutcome> {
  const compiled = await compileComponent(env, component, source, root, own?.mount);
  return {
    component,
    use: "source",
    source,
    root,
    compiled,
    ...(own && { toolchain: own }),
    mount: {
      name: component.name,
      tree: compiled.tree,
      path: programDirs(component, toolchainDir(component.name)),
      key: compiled.key,
    },
  };
}

/**
 * The initramfs' signature verifier (recipe `signing.verifier`), compiled from source: it runs
 * before any extension is mounted, so it must be static, and no Debian binary can stand in.
 */
export async function compileVerifier(
  env: BuildEnv,
  file: ComponentFile,
  options: { strictSource: boolean },
): Promise<{ outcome: ComponentOutcome; binary: string }> {
  const { component } = file;
  const choice = await chooseSource(env, component, { strict: options.strictSource });
  if (choice.use !== "source") {
    throw new PodbootError(
      `the verifier ${component.name} cannot be compiled: ${choice.reason}`,
      `make one of the sources in ${path.relative(".", file.file)} reachable, or build without --sign-key`,
    );
  }
  const root = await buildRoot(env, component.build.suite, component.build.depends);
  const compiled = await compileComponent(env, component, choice.source, root);
  const outcome: Compiled = { component, use: "source", source: choice.source, root, compiled };
  return { outcome, binary: initramfsBinary(outcome, component.name).path };
}

/**
 * The one program a component compiled for the initramfs installs (its bin/NAME): where it is,
 * and the sha256 the compile recorded.
 */
export function initramfsBinary(outcome: Compiled, name: string): { path: string; sha256: string } {
  const { compiled } = outcome;
  const file = compiled.files.find((f) => f.path.endsWith(`bin/${name}`)) ?? compiled.files[0]!;
  return { path: path.join(compiled.tree, file.path), sha256: file.sha256 };
}
