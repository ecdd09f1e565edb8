// The build plan: pure functions from the request and what the indexes answered (each
// extension's package closure, each component's source) to everything a build makes — which
// extension ships which package, in what order; which components compile, in which build root
// and with which toolchain; which are Debian's binaries and why. Unit-tested without network.
import { PodbootError } from "../errors.ts";
import type { Component } from "../recipe/component.ts";
import type { ResolvedPackage } from "../tools/apt-root.ts";
import type { SourceChoice } from "../steps/sources.ts";
import { extensionOrder, planExtensions, type ExtensionPlan } from "./extensions.ts";
import type { BuildRequest } from "./request.ts";

export interface PackagePlan {
  /** Extensions in dependency order, each with the packages it owns. */
  extensions: ExtensionPlan[];
  /** The exact version of every package an extension owns, and of the kernel's package. */
  versions: ResolvedPackage[];
  kernelPackage: ResolvedPackage;
  /** Packages the image ships. */
  shipped: Set<string>;
}

/** Each extension's closure (as apt resolves its packages) → who owns what, and the order. */
export function planPackages(
  request: BuildRequest,
  closures: Map<string, ResolvedPackage[]>,
  kernelPackage: ResolvedPackage,
): PackagePlan {
  const inputs = request.recipe.extensions.map((ext) => ({
    name: ext.name,
    packages: ext.packages,
    exclude: ext.exclude,
    closure: (closures.get(ext.name) ?? []).map((p) => p.name),
  }));
  const extensions = extensionOrder(planExtensions(inputs));
  const byName = new Map([...closures.values()].flat().map((p) => [p.name, p] as const));
  const owned = extensions.flatMap((plan) => plan.owns);
  if (!owned.includes("busybox-static")) {
    throw new PodbootError(
      "no extension ships busybox-static",
      "add busybox-static to the base extension",
    );
  }
  return {
    extensions,
    versions: [...owned.map((name) => byName.get(name)!), kernelPackage],
    kernelPackage,
    shipped: new Set(owned),
  };
}

/** What becomes of one component this build: compiled (from which source) or Debian's binary. */
export type ComponentPlan =
  | { component: Component; use: "source"; choice: Extract<SourceChoice, { use: "source" }> }
  | { component: Component; use: "prebuilt"; reason: string };

export interface CompilePlan {
  /** Every listed component that the image needs, compiled or not, in recipe order. */
  components: ComponentPlan[];
  /** Stage 1's busybox (recipe stage1.busybox): compiled, or busybox-static's binary. */
  stage1: ComponentPlan;
  /** Listed components this build does not make (runc without --with docker …), with why. */
  skipped: SkippedComponent[];
  /** The toolchains compiled components need, dependencies first; compiled or Debian's. */
  toolchains: ComponentPlan[];
  /** Build roots by id: one per suite and compiler, with the union of build depends. */
  roots: Map<string, { suite: string; depends: string[] }>;
  /** Which root each compiled component or toolchain builds in. */
  rootOf: Map<string, string>;
}

export interface BuildPlan {
  request: BuildRequest;
  packages: PackagePlan;
  compile: CompilePlan;
}

export function planBuild(
  request: BuildRequest,
  packages: PackagePlan,
  choices: Map<string, SourceChoice>,
): BuildPlan {
  return { request, packages, compile: planCompiles(request, packages.shipped, choices) };
}

/** The components this build compiles or takes from Debian, and the toolchains and roots. */
export function planCompiles(
  request: BuildRequest,
  shipped: Set<string>,
  choices: Map<string, SourceChoice>,
): CompilePlan {
  const listed = request.set.components.map((f) => f.component);
  const { components, skipped } = componentsForImage(listed, shipped, request.leftOut, {
    extensions: new Set(request.recipe.extensions.map((e) => e.name)),
    prebuilt: request.prebuilt,
  });
  const decide = (component: Component): ComponentPlan => {
    if (request.prebuilt) {
      const reason = "the build was asked for prebuilt binaries (--prebuilt, the fast path)";
      return { component, use: "prebuilt", reason };
    }
    const choice = choices.get(component.name);
    if (!choice) throw new Error(`no source choice for ${component.name}`); // a podboot bug
    return choice.use === "source"
      ? { component, use: "source", choice }
      : { component, use: "prebuilt", reason: choice.reason };
  };
  const planned = components.map(decide);
  const stage1 = decide(request.set.stage1Busybox.component);
  // The resolve phase chose a source for exactly the toolchains this build needs.
  const toolchains = request.set.toolchains
    .map((f) => f.component)
    .filter((t) => !request.prebuilt && choices.has(t.name))
    .map(decide);
  // Stage 1's busybox is a C component like the others: it builds in their root.
  const { roots, rootOf } = planRoots(
    [...listed, stage1.component],
    [...planned, stage1],
    toolchains,
  );
  return { components: planned, stage1, skipped, toolchains, roots, rootOf };
}

/**
 * One build root per suite and compiler: C components share one, Go components another, Rust
 * ones a third, so that the Go libraries' -dev packages never invalidate the C builds' root (and
 * their caches). Each compiled toolchain gets a root of its own; a toolchain that falls back to
 * Debian's binary package is installed into the root of what it compiles instead. A listed
 * component not compiled this time still adds its build depends to a root that is made anyway,
 * so a root (and every compile cached under its key) stays the same whichever components compile.
 */
function planRoots(
  listed: Component[],
  planned: ComponentPlan[],
  toolchains: ComponentPlan[],
): Pick<CompilePlan, "roots" | "rootOf"> {
  const toolchainPlan = new Map(toolchains.map((t) => [t.component.name, t] as const));
  const isToolchain = (c: Component) => toolchainPlan.get(c.name)?.component === c;
  const groupOf = (component: Component) => {
    const name = component.build.toolchain;
    const toolchain = name ? toolchainPlan.get(name) : undefined;
    const fallback =
      toolchain?.use === "prebuilt" && toolchain.component.package
        ? [toolchain.component.package]
        : [];
    // Crates are fetched with cargo over https before an offline build (build.vendor: cargo).
    const vendoring = component.build.vendor === "cargo" ? ["cargo", "ca-certificates"] : [];
    const compiler = name ?? (vendoring.length > 0 ? "cargo" : "C");
    const label = isToolchain(component) ? `toolchain ${component.name}` : `with ${compiler}`;
    return {
      id: `${component.build.suite} ${label}`,
      depends: [...component.build.depends, ...fallback, ...vendoring],
    };
  };
  const compiling = [...toolchains, ...planned]
    .filter((p) => p.use === "source")
    .map((p) => p.component);
  const groups = new Map<string, { suite: string; depends: Set<string> }>();
  const rootOf = new Map<string, string>();
  for (const component of compiling) {
    const { id, depends } = groupOf(component);
    const group = groups.get(id) ?? { suite: component.build.suite, depends: new Set<string>() };
    for (const dep of depends) group.depends.add(dep);
    groups.set(id, group);
    rootOf.set(component.name, id);
  }
  for (const component of listed) {
    if (compiling.includes(component)) continue;
    const { id, depends } = groupOf(component);
    for (const dep of depends) groups.get(id)?.depends.add(dep);
  }
  const roots = new Map<string, { suite: string; depends: string[] }>();
  for (const [id, g] of groups) roots.set(id, { suite: g.suite, depends: [...g.depends] });
  return { roots, rootOf };
}

/** A listed component this build does not make, and why. */
export interface SkippedComponent {
  component: Component;
  reason: string;
}

/**
 * The components this image needs compiled: those whose package it ships, and podboot's own
 * tools whose extension it builds (except with --prebuilt, which takes no compiler: the image
 * then does without them). One whose package or extension comes only with an extension the
 * build leaves out is skipped; any other package that no extension ships is an error (two
 * components for one package are refused with the recipe).
 */
export function componentsForImage(
  listed: Component[],
  shipped: Set<string>,
  leftOut = new Map<string, string>(),
  build: { extensions?: Set<string>; prebuilt?: boolean } = {},
): { components: Component[]; skipped: SkippedComponent[] } {
  const skipped = listed.flatMap((component): SkippedComponent[] => {
    if (component.extension !== undefined) {
      if (build.extensions && !build.extensions.has(component.extension)) {
        return [
          { component, reason: `the ${component.extension} extension is left out of this build` },
        ];
      }
      return build.prebuilt
        ? [{ component, reason: "--prebuilt compiles nothing, and it has no Debian binary" }]
        : [];
    }
    const pkg = component.package!;
    const extension = shipped.has(pkg) ? undefined : leftOut.get(pkg);
    return extension
      ? [
          {
            component,
            reason: `${pkg} comes with the extension ${extension}, which this build leaves out`,
          },
        ]
      : [];
  });
  const components = listed.filter((c) => !skipped.some((s) => s.component === c));
  for (const component of components) {
    if (component.package !== undefined && !shipped.has(component.package)) {
      throw new PodbootError(
        `component ${component.name} stands for the Debian package ${component.package}, which no extension ships`,
        `add ${component.package} to an extension's packages, or remove ${component.name} from components`,
      );
    }
  }
  return { components, skipped };
}
