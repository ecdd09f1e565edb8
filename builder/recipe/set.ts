// Everything a build will read, loaded and checked before anything is fetched, written or
// installed: the recipe and its `extends` chain, every component and toolchain recipe it names
// (and the toolchains those name), stage 1's busybox, the signing verifier, every kernel fragment
// and the overlay.
// Mistakes that span fields or files (a package in two extensions, a missing fragment, a
// toolchain that needs itself) are refused here with the location of the offending line.
// `podboot check` is this function; `podboot build` calls it first.
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { PodbootError } from "../errors.ts";
import { parseFragment, type FragmentSetting } from "../kernel/config.ts";
import { readComponentFile, type ComponentFile } from "./component.ts";
import { loadRecipe, type Locate } from "./load.ts";
import type { Recipe } from "./schema.ts";
import { checkRecipeFields } from "./cross-checks.ts";

export interface Fragment {
  name: string;
  file: string;
  text: string;
  settings: FragmentSetting[];
}

export interface RecipeSet {
  file: string;
  /**
   * Where components/ and toolchains/ are looked up: the directory of the recipe file that
   * gives `components` (a variant elsewhere that keeps its base's list uses the base's).
   */
  dir: string;
  sha256: string;
  recipe: Recipe;
  locate: Locate;
  /** The recipe's components, in its order. */
  components: ComponentFile[];
  /** Every toolchain the components need, directly or through another, dependencies first. */
  toolchains: ComponentFile[];
  /** signing.verifier: compiled into the initramfs of signed builds. */
  verifier: ComponentFile;
  /** stage1.busybox: compiled as the initramfs' busybox (Debian's binary with --prebuilt). */
  stage1Busybox: ComponentFile;
  /** Every kernel fragment the recipe names anywhere. */
  fragments: Map<string, Fragment>;
  /** rootfs-overlay/ (its `init` is stage 1). */
  overlayDir: string;
}

export async function loadRecipeSet(file: string, projectDir: string): Promise<RecipeSet> {
  const loaded = await loadRecipe(file);
  const { recipe, locate } = loaded;
  checkRecipeFields(recipe, locate, loaded.given);
  const dir = path.dirname(loaded.fieldFile("components"));
  const components = await loadListed(dir, recipe, locate);
  const toolchains = await toolchainClosure(dir, components);
  const verifier = await readComponentFile(
    path.join(path.dirname(loaded.fieldFile("signing")), "components"),
    recipe.signing.verifier,
    locate(["signing", "verifier"]),
  );
  const stage1Busybox = await readComponentFile(
    path.join(path.dirname(loaded.fieldFile("stage1")), "components"),
    recipe.stage1.busybox,
    locate(["stage1", "busybox"]),
  );
  const fragments = await loadFragmentFiles(path.join(projectDir, "kernel-config"), recipe, locate);
  const overlayDir = path.join(projectDir, "rootfs-overlay");
  await access(path.join(overlayDir, "init")).catch(() => {
    throw new PodbootError(
      `${path.relative(".", overlayDir)}/init is missing: stage 1 of the boot`,
      "restore rootfs-overlay/ from the podboot checkout",
    );
  });
  return {
    ...loaded,
    dir,
    components,
    toolchains,
    verifier,
    stage1Busybox,
    fragments,
    overlayDir,
  };
}

async function loadListed(dir: string, recipe: Recipe, locate: Locate): Promise<ComponentFile[]> {
  const loaded: ComponentFile[] = [];
  const byPackage = new Map<string, ComponentFile>();
  for (const [index, name] of recipe.components.entries()) {
    const at = locate(["components", index]);
    if (recipe.components.indexOf(name) !== index) {
      throw new PodbootError(`${at}: components: ${name} is listed twice`, "list it once");
    }
    const file = await readComponentFile(path.join(dir, "components"), name, at);
    const { package: pkg, extension } = file.component;
    if (extension !== undefined && !recipe.extensions.some((e) => e.name === extension)) {
      throw new PodbootError(
        `${file.locate(["extension"])}: extension: ${extension} is not an extension of the recipe`,
        `name one of: ${recipe.extensions.map((e) => e.name).join(", ")}`,
      );
    }
    const other = pkg === undefined ? undefined : byPackage.get(pkg);
    if (other) {
      throw new PodbootError(
        `${file.locate(["package"])}: components ${other.component.name} and ${name} both stand for the Debian package ${file.component.package}`,
        "keep one of them in the recipe's components",
      );
    }
    if (pkg !== undefined) byPackage.set(pkg, file);
    loaded.push(file);
  }
  return loaded;
}

/**
 * Every toolchain the components name, directly or through another toolchain, each after the
 * toolchains it needs. A toolchain that (through others) needs itself is refused at the line
 * that closes the cycle.
 */
async function toolchainClosure(
  dir: string,
  components: ComponentFile[],
): Promise<ComponentFile[]> {
  const ordered: ComponentFile[] = [];
  const done = new Set<string>();
  const visit = async (name: string, wantedAt: string, chain: string[]): Promise<void> => {
    if (chain.includes(name)) {
      const cycle = [...chain.slice(chain.indexOf(name)), name].join(" needs ");
      throw new PodbootError(
        `${wantedAt}: toolchain cycle: ${cycle}`,
        "one of these recipes/toolchains/*.yaml must bootstrap from a Debian compiler (build.depends) instead of build.toolchain",
      );
    }
    if (done.has(name)) return;
    const file = await readComponentFile(path.join(dir, "toolchains"), name, wantedAt, "toolchain");
    const next = file.component.build.toolchain;
    if (next) await visit(next, file.locate(["build", "toolchain"]), [...chain, name]);
    done.add(name);
    ordered.push(file);
  };
  for (const file of components) {
    const name = file.component.build.toolchain;
    if (name) await visit(name, file.locate(["build", "toolchain"]), []);
  }
  return ordered;
}

async function loadFragmentFiles(
  dir: string,
  recipe: Recipe,
  locate: Locate,
): Promise<Map<string, Fragment>> {
  const named: [string, string][] = [
    ...recipe.kernel.build.fragments.map((f, i) => [
      f,
      locate(["kernel", "build", "fragments", i]),
    ]),
    ...recipe.kernel.debian.fragments.map((f, i) => [
      f,
      locate(["kernel", "debian", "fragments", i]),
    ]),
    ...recipe.extensions.flatMap((e, ei) =>
      e.fragments.map((f, i) => [f, locate(["extensions", ei, "fragments", i])]),
    ),
  ] as [string, string][];
  const fragments = new Map<string, Fragment>();
  for (const [name, at] of named) {
    if (!fragments.has(name)) fragments.set(name, await readFragment(dir, name, at));
  }
  return fragments;
}

/** kernel-config/NAME.config, parsed (a line it cannot read is an error naming file:line). */
export async function readFragment(dir: string, name: string, namedAt: string): Promise<Fragment> {
  const file = path.join(dir, `${name}.config`);
  const text = await readFile(file, "utf8").catch(() => {
    throw new PodbootError(
      `${namedAt}: no kernel config fragment ${path.relative(".", file)}`,
      "add it to kernel-config/, or remove the name from the recipe",
    );
  });
  const settings = parseFragment(text, path.relative(".", file) || file);
  return { name, file, text, settings };
}
