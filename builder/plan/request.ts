// The first phase of a build: the checked recipe set plus the command line's choices (--with,
// --without, --prebuilt, --kernel, --sign-key, --format) become one BuildRequest: which
// extensions, which kernel, which fragments. Pure, so every refusal here happens before the
// build touches the host, the network or the cache.
import { PodbootError } from "../errors.ts";
import type { ComponentFile } from "../recipe/component.ts";
import type { Recipe, ExtensionSpec } from "../recipe/schema.ts";
import type { FragmentSetting } from "../kernel/config.ts";
import type { Fragment, RecipeSet } from "../recipe/set.ts";
import { checkCodecsCompiled, codecNeeds, codecSettings } from "./codecs.ts";
import { selectExtensions, withExtensionFragments } from "./extensions.ts";

export interface BuildChoices {
  /** Use Debian binaries for every component and Debian's kernel (the fast path). */
  prebuilt?: boolean;
  /** Overrides kernel.source of the recipe (and --prebuilt's choice). */
  kernel?: "build" | "debian";
  strictSource?: boolean;
  with?: string[];
  without?: string[];
  sign?: boolean;
  sysext?: boolean;
}

export interface BuildRequest {
  set: RecipeSet;
  /** The recipe as this build makes it: selected extensions, chosen kernel, added fragments. */
  recipe: Recipe;
  /** Packages of extensions left out (optional ones not asked for, --without), by extension. */
  leftOut: Map<string, string>;
  /** The fragments the kernel is configured with and checked against, in order. */
  kernelFragments: Fragment[];
  /** The kernel options the recipe's codecs need: checked on a prebuilt kernel's config too. */
  codecSettings: FragmentSetting[];
  prebuilt: boolean;
  strictSource: boolean;
  sign: boolean;
  sysext: boolean;
}

export function requestBuild(set: RecipeSet, choices: BuildChoices): BuildRequest {
  const base = set.recipe;
  const kernelSource = choices.kernel ?? (choices.prebuilt ? "debian" : base.kernel.source);
  const extensions = selectExtensions(base.extensions, choices.with ?? [], choices.without ?? []);
  const kernel = withExtensionFragments({ ...base.kernel, source: kernelSource }, extensions);
  const recipe = { ...base, kernel, extensions };
  if (choices.sysext) checkSysextChoice(recipe, base.extensions);
  const names = kernel.source === "build" ? kernel.build.fragments : kernel.debian.fragments;
  const kernelFragments = names.map((name) => set.fragments.get(name)!);
  const needs = codecNeeds(recipe, (name) => base.extensions.findIndex((e) => e.name === name));
  if (kernel.source === "build") {
    checkCodecsCompiled(
      needs,
      kernelFragments.flatMap((f) => f.settings),
      set.locate,
    );
  }
  return {
    set,
    recipe,
    leftOut: new Map(
      base.extensions
        .filter((e) => !extensions.includes(e))
        .flatMap((e) => e.packages.map((name) => [name, e.name] as const)),
    ),
    kernelFragments,
    codecSettings: codecSettings(needs, set.locate),
    prebuilt: choices.prebuilt ?? false,
    strictSource: choices.strictSource ?? false,
    sign: choices.sign ?? false,
    sysext: choices.sysext ?? false,
  };
}

/** The sysext image is made of built extensions: --without must not have left one out. */
function checkSysextChoice(
  recipe: { extensions: ExtensionSpec[]; sysext: Recipe["sysext"] },
  all: ExtensionSpec[],
) {
  const names = recipe.extensions.map((e) => e.name);
  for (const want of recipe.sysext.extensions) {
    if (names.includes(want)) continue;
    throw new PodbootError(
      all.some((e) => e.name === want)
        ? `sysext.extensions names ${want}, which this build leaves out`
        : `sysext.extensions names ${want}, which is not an extension of this recipe`,
      `build it (drop --without ${want}), or use some of: ${names.join(", ")}`,
    );
  }
}

/** The recipe's component files by name (components and toolchains). */
export function componentFiles(set: RecipeSet): Map<string, ComponentFile> {
  return new Map([...set.components, ...set.toolchains].map((f) => [f.component.name, f]));
}
