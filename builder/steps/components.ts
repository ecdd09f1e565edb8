// The recipe's components, compiled from source: choose each one's source, make one build root per
// suite with the union of their build dependencies, then compile in parallel (p-limit, one slot
// per core). A component whose sources are all unobtainable, or a --prebuilt build, keeps the
// verified Debian binary, and the reason is recorded.
import os from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import { PodbootError } from "../errors.ts";
import { loadComponents, type Component } from "../recipe/component.ts";
import { buildRoot, type BuildRoot } from "./build-root.ts";
import {
  compileComponent,
  toolchainDir,
  type CompiledComponent,
  type ToolchainMount,
} from "./compile.ts";
import type { BuildContext } from "./context.ts";
import { chooseSource, type ObtainedSource, type SourceChoice } from "./sources.ts";

/** A component compiled from source: its source, build root, result and compiler. */
interface Compiled {
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

export interface ComponentOptions {
  /** Use Debian binaries for every component (the fast path). */
  prebuilt: boolean;
  /** An unobtainable source is an error instead of a fall-through. */
  strictSource: boolean;
  /** The Debian packages the image's extensions ship. */
  shipped: Set<string>;
  /**
   * Packages listed by extensions this build leaves out (optional ones not asked for, default
   * ones dropped with --without), with the extension's name: a component standing for one of
   * them is not compiled (e.g. runc without --with docker).
   */
  leftOut?: Map<string, string>;
}

export async function buildComponents(
  ctx: BuildContext,
  recipeDir: string,
  options: ComponentOptions,
): Promise<{ components: ComponentOutcome[]; toolchains: ToolchainOutcome[] }> {
  const listed = await loadComponents(path.join(recipeDir, "components"), ctx.recipe.components);
  const { components, skipped } = componentsForImage(listed, options.shipped, options.leftOut);
  for (const { component, extension } of skipped) {
    ctx.log.step(
      "compile",
      `${component.name}: not compiled, ${component.package} comes with the extension ${extension}, which this build leaves out`,
    );
  }
  if (options.prebuilt) {
    return {
      components: components.map((component) => ({
        component,
        use: "prebuilt",
        reason: "the build was asked for prebuilt binaries (--prebuilt, the fast path)",
      })),
      toolchains: [],
    };
  }

  // Toolchains may themselves be compiled with a toolchain (Go bootstraps Go); a cycle is an error.
  const toolchainRecipes = await toolchainClosure(components, (name, wantedBy) =>
    loadComponents(
      path.join(recipeDir, "toolchains"),
      [name],
      `build.toolchain of recipes/${wantedBy}.yaml`,
    ).then(([recipe]) => recipe!),
  );

  const choices = [];
  for (const component of components) {
    choices.push({
      component,
      choice: await chooseSource(ctx, component, { strict: options.strictSource }),
    });
  }
  const toolchainChoices = new Map<string, { component: Component; choice: SourceChoice }>();
  const wanted = new Set(
    choices.flatMap((c) => (c.choice.use === "source" ? [c.component.build.toolchain] : [])),
  );
  // Dependencies come first in the closure's order, so walking it backwards sees users first.
  for (const recipe of [...toolchainRecipes].reverse()) {
    if (!wanted.has(recipe.name)) continue;
    const choice = await chooseSource(ctx, recipe, { strict: options.strictSource });
    toolchainChoices.set(recipe.name, { component: recipe, choice });
    if (choice.use === "source") wanted.add(recipe.build.toolchain);
  }
  const compiling = [
    ...[...toolchainChoices.values()].filter((t) => t.choice.use === "source"),
    ...choices.filter((c) => c.choice.use === "source"),
  ].map((c) => c.component);
  const isToolchain = (c: Component) => toolchainChoices.get(c.name)?.component === c;

  // One build root per suite and toolchain: C components share one, Go components another, Rust
  // ones a third, so that the Go libraries' -dev packages never invalidate the C builds' root
  // (and their caches).
  // Each toolchain gets a root of its own. A toolchain that falls back to Debian's binary
  // package is installed into the root of what it compiles instead.
  const groupOf = (component: Component) => {
    const name = component.build.toolchain;
    const toolchain = name ? toolchainChoices.get(name) : undefined;
    const fallback = toolchain?.choice.use === "prebuilt" ? [toolchain.component.package] : [];
    // Crates are fetched with cargo over https before an offline build (build.vendor: cargo).
    const vendoring = component.build.vendor === "cargo" ? ["cargo", "ca-certificates"] : [];
    const compiler = name ?? (vendoring.length > 0 ? "cargo" : "C");
    const label = isToolchain(component) ? `toolchain ${component.name}` : `with ${compiler}`;
    return {
      id: `${component.build.suite} ${label}`,
      depends: [...component.build.depends, ...fallback, ...vendoring],
    };
  };
  const groups = new Map<string, { suite: string; depends: Set<string> }>();
  const rootIdOf = new Map<Component, string>();
  for (const component of compiling) {
    const { id, depends } = groupOf(component);
    const group = groups.get(id) ?? { suite: component.build.suite, depends: new Set<string>() };
    for (const dep of depends) group.depends.add(dep);
    groups.set(id, group);
    rootIdOf.set(component, id);
  }
  // A listed component not compiled this time (no source to be had, or its package left out with
  // its extension) still adds its build depends to a root that is made anyway: the root,
  // and every compile cached under its key, stays the same whichever components compile.
  for (const component of listed) {
    if (compiling.includes(component)) continue;
    const { id, depends } = groupOf(component);
    for (const dep of depends) groups.get(id)?.depends.add(dep);
  }
  const roots = new Map<string, BuildRoot>();
  for (const [id, group] of groups) {
    roots.set(id, await buildRoot(ctx, group.suite, [...group.depends]));
  }
  const rootOf = (component: Component) => roots.get(rootIdOf.get(component)!)!;

  // The live task list: every compile is queued up front, each Debian binary shown as such.
  for (const c of [...toolchainChoices.values(), ...choices]) {
    ctx.log.task(
      c.component.name,
      c.choice.use === "source"
        ? { state: "queued", detail: c.choice.source.kind }
        : { state: "prebuilt", detail: "Debian binary" },
    );
  }

  const limit = pLimit(Math.max(1, os.availableParallelism()));
  const toolchains = new Map<string, Promise<ToolchainOutcome>>();
  const toolchainFor = (name: string | undefined): Promise<ToolchainOutcome | undefined> => {
    if (!name) return Promise.resolve(undefined);
    let outcome = toolchains.get(name);
    if (!outcome) {
      const { component, choice } = toolchainChoices.get(name)!;
      outcome = (async () => {
        if (choice.use === "prebuilt") return prebuiltToolchain(ctx, component, choice.reason);
        const own = await toolchainFor(component.build.toolchain);
        return limit(() => compileToolchain(ctx, component, choice.source, rootOf(component), own));
      })();
      toolchains.set(name, outcome);
    }
    return outcome;
  };

  const outcomes = await Promise.all(
    choices.map(async ({ component, choice }): Promise<ComponentOutcome> => {
      if (choice.use === "prebuilt") {
        ctx.log.step("compile", `${component.name}: Debian binary, because ${choice.reason}`);
        return { component, use: "prebuilt", reason: choice.reason };
      }
      const toolchain = await toolchainFor(component.build.toolchain);
      const root = rootOf(component);
      const compiled = await limit(() =>
        compileComponent(ctx, component, choice.source, root, toolchain?.mount),
      );
      return {
        component,
        use: "source",
        source: choice.source,
        root,
        compiled,
        ...(toolchain && { toolchain }),
      };
    }),
  );
  return { components: outcomes, toolchains: await Promise.all(toolchains.values()) };
}

/**
 * Every toolchain the components name, directly or through another toolchain, each after the
 * toolchains it needs. A toolchain that (through others) needs itself is a recipe cycle.
 */
export async function toolchainClosure(
  components: Component[],
  load: (name: string, wantedBy: string) => Promise<Component>,
): Promise<Component[]> {
  const ordered: Component[] = [];
  const done = new Set<string>();
  const visit = async (name: string, wantedBy: string, path: string[]): Promise<void> => {
    if (path.includes(name)) {
      throw new PodbootError(
        `recipe cycle: toolchain ${[...path.slice(path.indexOf(name)), name].join(" needs ")}`,
        `break it: one of these recipes/toolchains/*.yaml must bootstrap from a Debian compiler (build.depends) instead of build.toolchain`,
      );
    }
    if (done.has(name)) return;
    const recipe = await load(name, wantedBy);
    if (recipe.build.toolchain) {
      await visit(recipe.build.toolchain, `toolchains/${name}`, [...path, name]);
    }
    done.add(name);
    ordered.push(recipe);
  };
  for (const component of components) {
    if (component.build.toolchain) {
      await visit(component.build.toolchain, `components/${component.name}`, []);
    }
  }
  return ordered;
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
function prebuiltToolchain(
  ctx: BuildContext,
  component: Component,
  reason: string,
): ToolchainOutcome {
  ctx.log.step("toolchain", `${component.name}: Debian's ${component.package}, because ${reason}`);
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
  ctx: BuildContext,
  component: Component,
  source: ObtainedSource,
  root: BuildRoot,
  own: ToolchainOutcome | undefined,
): Promise<ToolchainOutcome> {
  const compiled = await compileComponent(ctx, component, source, root, own?.mount);
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
 * The components this image needs compiled: those whose package it ships. One whose package
 * comes only with an extension the build leaves out is skipped; any other package that no
 * extension ships is an error, as are two components standing for the same package.
 */
export function componentsForImage(
  listed: Component[],
  shipped: Set<string>,
  leftOut = new Map<string, string>(),
): { components: Component[]; skipped: { component: Component; extension: string }[] } {
  const skipped = listed.flatMap((component) => {
    const extension = shipped.has(component.package) ? undefined : leftOut.get(component.package);
    return extension ? [{ component, extension }] : [];
  });
  const components = listed.filter((c) => !skipped.some((s) => s.component === c));
  checkPackages(components, shipped);
  return { components, skipped };
}

/** Each component stands for a different Debian package, and an extension ships that package. */
function checkPackages(components: Component[], shipped: Set<string>): void {
  const seen = new Map<string, string>();
  for (const component of components) {
    if (!shipped.has(component.package)) {
      throw new PodbootError(
        `component ${component.name} stands for the Debian package ${component.package}, which no extension ships`,
        `add ${component.package} to an extension's packages, or remove ${component.name} from components`,
      );
    }
    const other = seen.get(component.package);
    if (other) {
      throw new PodbootError(
        `components ${other} and ${component.name} both stand for the Debian package ${component.package}`,
        "keep one of them in the recipe's components",
      );
    }
    seen.set(component.package, component.name);
  }
}

/**
 * The initramfs' signature verifier (recipe `signing.verifier`), compiled from source: it runs
 * before any extension is mounted, so it must be static, and no Debian binary can stand in.
 */
export async function buildVerifier(
  ctx: BuildContext,
  recipeDir: string,
  options: { strictSource: boolean },
): Promise<{ outcome: ComponentOutcome; binary: string }> {
  const name = ctx.recipe.signing.verifier;
  const [component] = await loadComponents(path.join(recipeDir, "components"), [name]);
  const choice = await chooseSource(ctx, component!, { strict: options.strictSource });
  if (choice.use !== "source") {
    throw new PodbootError(
      `the verifier ${name} cannot be compiled: ${choice.reason}`,
      `make one of the sources in recipes/components/${name}.yaml reachable, or build without --sign-key`,
    );
  }
  const root = await buildRoot(ctx, component!.build.suite, component!.build.depends);
  const compiled = await compileComponent(ctx, component!, choice.source, root);
  const binary = compiled.files.find((f) => f.path.endsWith(`bin/${name}`)) ?? compiled.files[0]!;
  return {
    outcome: { component: component!, use: "source", source: choice.source, root, compiled },
    binary: path.join(compiled.tree, binary.path),
  };
}
