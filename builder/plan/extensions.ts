// Pure planning of extensions: which Debian package each extension owns and which extensions it
// depends on, both derived from the package graph rather than written by hand.
//
// A package is owned by the extension that lists it; a package reached only through dependencies
// is owned by the first extension (recipe order) whose closure reaches it. An extension depends on
// every other extension owning a package in its closure. Excluded packages are owned by nobody.
import { PodbootError } from "../errors.ts";

export interface ExtensionInput {
  name: string;
  packages: string[];
  exclude: string[];
  /** Every package apt would install for `packages`, including themselves. */
  closure: string[];
}

export interface ExtensionPlan {
  name: string;
  owns: string[];
  dependsOn: string[];
  /** For each extension depended on, one of its packages this one needs. */
  via: Record<string, string>;
  excluded: string[];
}

export function planExtensions(inputs: ExtensionInput[]): ExtensionPlan[] {
  const owner = new Map<string, string>();
  for (const input of inputs) {
    for (const pkg of input.packages) {
      const previous = owner.get(pkg);
      if (previous && previous !== input.name) {
        throw new PodbootError(
          `package ${pkg} is listed by both extension ${previous} and extension ${input.name}`,
          "list each package in one extension only",
        );
      }
      owner.set(pkg, input.name);
    }
  }
  const excludedEverywhere = (pkg: string) => inputs.some((input) => input.exclude.includes(pkg));
  for (const input of inputs) {
    for (const pkg of input.closure) {
      if (!owner.has(pkg) && !excludedEverywhere(pkg)) owner.set(pkg, input.name);
    }
  }
  for (const input of inputs) {
    for (const pkg of input.packages) {
      if (input.exclude.includes(pkg)) {
        throw new PodbootError(
          `extension ${input.name} both lists and excludes package ${pkg}`,
          "remove it from one of the two lists",
        );
      }
    }
  }
  const plans = inputs.map((input) => {
    // One package per dependency, to name it when the dependencies form a cycle. A package the
    // extension excludes is one it does not need, so it makes no dependency.
    const via = new Map<string, string>();
    for (const pkg of input.closure) {
      const by = owner.get(pkg);
      if (by && by !== input.name && !input.exclude.includes(pkg) && !via.has(by)) {
        via.set(by, pkg);
      }
    }
    return {
      name: input.name,
      owns: input.closure.filter((pkg) => owner.get(pkg) === input.name).sort(),
      dependsOn: [...via.keys()].sort(),
      via: Object.fromEntries(via),
      excluded: input.closure.filter((pkg) => !owner.has(pkg)).sort(),
    };
  });
  extensionOrder(plans);
  return plans;
}

/**
 * Dependency order: every extension after all it depends on; ties keep recipe order.
 * A cycle is an error naming the extensions in it.
 */
export function extensionOrder<
  T extends { name: string; dependsOn: string[]; via?: Record<string, string> },
>(plans: T[]): T[] {
  const byName = new Map(plans.map((plan) => [plan.name, plan]));
  const ordered: T[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (plan: T, trail: string[]) => {
    if (state.get(plan.name) === "done") return;
    if (state.get(plan.name) === "visiting") {
      const names = [...trail.slice(trail.indexOf(plan.name)), plan.name];
      // "a → b (pkg) → a (other)": each step names a package that makes it.
      const cycle = names
        .map((name, i) => {
          const pkg = i > 0 ? byName.get(names[i - 1]!)?.via?.[name] : undefined;
          return pkg ? `${name} (${pkg})` : name;
        })
        .join(" → ");
      throw new PodbootError(
        `extensions depend on each other in a cycle: ${cycle}`,
        "list the shared packages in the extension that should sit below the others",
      );
    }
    state.set(plan.name, "visiting");
    for (const dep of plan.dependsOn) {
      const target = byName.get(dep);
      if (!target) {
        throw new PodbootError(
          `extension ${plan.name} depends on unknown extension ${dep}`,
          "define it in the recipe",
        );
      }
      visit(target, [...trail, plan.name]);
    }
    state.set(plan.name, "done");
    ordered.push(plan);
  };
  for (const plan of plans) visit(plan, []);
  return ordered;
}

/** Packages without which a podboot image is not one: stage 1's busybox, and podman. */
const ESSENTIAL = ["busybox-static", "podman"];

type Selectable = { name: string; optional: boolean; overlay?: boolean; packages?: string[] };

/** Why `--without` cannot leave this extension out, or undefined when it can. */
function whyKept(extension: Selectable): string | undefined {
  if (extension.optional) return "is optional, so it is left out unless asked for with --with";
  if (extension.overlay) return "carries podboot's own init and configuration";
  const essential = (extension.packages ?? []).filter((p) => ESSENTIAL.includes(p));
  if (essential.length > 0)
    return `holds ${essential.join(" and ")}, which every podboot image needs`;
  return undefined;
}

/**
 * The extensions a build makes: every one not marked optional, plus the optional ones asked for
 * (--with), minus default ones left out (--without), in recipe order. A name that does not exist
 * or cannot be added or left out is an error listing the ones that can.
 */
export function selectExtensions<T extends Selectable>(
  extensions: T[],
  wanted: string[],
  unwanted: string[] = [],
): T[] {
  const optional = extensions.filter((e) => e.optional).map((e) => e.name);
  for (const name of wanted) {
    if (!optional.includes(name)) {
      const known = extensions.some((e) => e.name === name);
      throw new PodbootError(
        known
          ? `--with ${name}: ${name} is built by default (it is not an optional extension)`
          : `--with ${name}: the recipe has no extension ${name}`,
        optional.length > 0
          ? `the optional extensions are: ${optional.join(", ")}`
          : "the recipe has no optional extensions; drop --with",
      );
    }
  }
  const removable = extensions.filter((e) => !whyKept(e)).map((e) => e.name);
  for (const name of unwanted) {
    if (removable.includes(name)) continue;
    const extension = extensions.find((e) => e.name === name);
    throw new PodbootError(
      extension
        ? `--without ${name}: ${name} ${whyKept(extension)}`
        : `--without ${name}: the recipe has no extension ${name}`,
      `the extensions that can be left out are: ${removable.join(", ") || "none"}`,
    );
  }
  return extensions.filter(
    (e) => (!e.optional || wanted.includes(e.name)) && !unwanted.includes(e.name),
  );
}

/**
 * The kernel settings with the fragments the built extensions need added to the compiled
 * kernel's. The prebuilt Debian kernel has such options as modules podboot does not load, so an
 * extension that needs fragments requires the compiled kernel.
 */
export function withExtensionFragments<
  K extends { source: "build" | "debian"; build: { fragments: string[] } },
>(kernel: K, extensions: { name: string; fragments: string[] }[]): K {
  const needing = extensions.filter((e) => e.fragments.length > 0);
  if (needing.length === 0) return kernel;
  const extra = needing.flatMap((e) => e.fragments);
  if (kernel.source === "debian") {
    const names = needing.map((e) => e.name).join(", ");
    throw new PodbootError(
      `${names} needs kernel options (${[...new Set(extra)].join(", ")} in kernel-config/) that podboot adds only to the kernel it compiles`,
      "build with the compiled kernel: drop --prebuilt, or pass --kernel build",
    );
  }
  const fragments = [...new Set([...kernel.build.fragments, ...extra])];
  return { ...kernel, build: { ...kernel.build, fragments } };
}

/**
 * One extension's drop globs in a build: the recipe's, its own, and those of each `dropWithout`
 * entry whose extension the build leaves out (podman's rootlessport when rootless is not built).
 */
export function dropRules(
  recipeDrop: string[],
  extension: { drop: string[]; dropWithout: Record<string, string[]> },
  built: { name: string }[],
): string[] {
  const names = new Set(built.map((e) => e.name));
  const absent = Object.entries(extension.dropWithout).filter(([name]) => !names.has(name));
  return [...recipeDrop, ...extension.drop, ...absent.flatMap(([, globs]) => globs)];
}
