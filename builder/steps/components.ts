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
import { compileComponent, type CompiledComponent } from "./compile.ts";
import type { BuildContext } from "./context.ts";
import { chooseSource, type ObtainedSource } from "./sources.ts";

export type ComponentOutcome =
  | {
      component: Component;
      use: "source";
      source: ObtainedSource;
      root: BuildRoot;
      compiled: CompiledComponent;
    }
  | { component: Component; use: "prebuilt"; reason: string };

export interface ComponentOptions {
  /** Use Debian binaries for every component (the fast path). */
  prebuilt: boolean;
  /** An unobtainable source is an error instead of a fall-through. */
  strictSource: boolean;
  /** The Debian packages the image's extensions ship. */
  shipped: Set<string>;
}

export async function buildComponents(
  ctx: BuildContext,
  recipeDir: string,
  options: ComponentOptions,
): Promise<ComponentOutcome[]> {
  const components = await loadComponents(
    path.join(recipeDir, "components"),
    ctx.recipe.components,
  );
  checkPackages(components, options.shipped);
  if (options.prebuilt) {
    return components.map((component) => ({
      component,
      use: "prebuilt",
      reason: "the build was asked for prebuilt binaries (--prebuilt, the fast path)",
    }));
  }

  const choices = [];
  for (const component of components) {
    choices.push({
      component,
      choice: await chooseSource(ctx, component, { strict: options.strictSource }),
    });
  }

  const suites = new Map<string, Set<string>>();
  for (const { component, choice } of choices) {
    if (choice.use !== "source") continue;
    const deps = suites.get(component.build.suite) ?? new Set<string>();
    for (const dep of component.build.depends) deps.add(dep);
    suites.set(component.build.suite, deps);
  }
  const roots = new Map<string, BuildRoot>();
  for (const [suite, deps] of suites) roots.set(suite, await buildRoot(ctx, suite, [...deps]));

  const limit = pLimit(Math.max(1, os.availableParallelism()));
  return Promise.all(
    choices.map(({ component, choice }) =>
      limit(async (): Promise<ComponentOutcome> => {
        if (choice.use === "prebuilt") {
          ctx.log.step("compile", `${component.name}: Debian binary, because ${choice.reason}`);
          return { component, use: "prebuilt", reason: choice.reason };
        }
        const root = roots.get(component.build.suite)!;
        const compiled = await compileComponent(ctx, component, choice.source, root);
        return { component, use: "source", source: choice.source, root, compiled };
      }),
    ),
  );
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
