// Checks across the fields of one recipe that a schema cannot express: names that must be
// unique, packages that may be in one extension only, names that must refer to something the
// recipe defines. Each failure names the line of the field at fault.
import { PodbootError } from "../errors.ts";
import type { Locate } from "./load.ts";
import { REQUIRED_EXTENSIONS, type Recipe } from "./schema.ts";

const FIX = "correct the recipe (see docs/recipe.md)";

type Fail = (at: (string | number)[], message: string, fix?: string) => never;

/** One overlay extension on top, and nothing every boot needs marked loadable. */
function checkLayers(recipe: Recipe, fail: Fail): void {
  const overlays = recipe.extensions.filter((e) => e.overlay);
  if (overlays.length !== 1) {
    fail(
      ["extensions"],
      `exactly one extension must carry the overlay (overlay: true); this recipe has ${overlays.length}`,
      "mark the top extension overlay: true, and no other",
    );
  }
  const overlayIndex = recipe.extensions.findIndex((e) => e.overlay);
  if (overlays[0]!.packages.length > 0 || overlays[0]!.optional) {
    fail(
      ["extensions", overlayIndex],
      "the overlay extension holds rootfs-overlay/ only: it lists no packages and cannot be optional",
    );
  }
  for (const [index, extension] of recipe.extensions.entries()) {
    if (extension.loadable && (extension.overlay || REQUIRED_EXTENSIONS.has(extension.name))) {
      fail(
        ["extensions", index, "loadable"],
        `extension ${extension.name} cannot be loadable: every boot needs it`,
        "drop loadable: true from it",
      );
    }
  }
}

/** Settings of one extension that depend on others: its codec's options, dropWithout's names. */
function checkExtensionSettings(recipe: Recipe, names: Set<string>, fail: Fail): void {
  for (const [index, extension] of recipe.extensions.entries()) {
    const codec = extension.compression ?? recipe.compression.squashfs;
    if (extension.xzFilter && codec !== "xz") {
      fail(
        ["extensions", index, "xzFilter"],
        `extension ${extension.name} is packed with ${codec}: xzFilter applies to xz only`,
        "drop xzFilter from it, or set its compression: xz",
      );
    }
    if (extension.zstdLevel !== undefined && codec !== "zstd") {
      fail(
        ["extensions", index, "zstdLevel"],
        `extension ${extension.name} is packed with ${codec}: zstdLevel applies to zstd only`,
        "drop zstdLevel from it, or set its compression: zstd",
      );
    }
    for (const other of Object.keys(extension.dropWithout)) {
      if (other === extension.name || !names.has(other)) {
        fail(
          ["extensions", index, "dropWithout", other],
          other === extension.name
            ? `extension ${other}'s dropWithout names the extension itself`
            : `dropWithout names ${other}, which is not an extension of this recipe`,
          `name another of: ${[...names].filter((n) => n !== extension.name).join(", ")}`,
        );
      }
    }
  }
}

export function checkRecipeFields(
  recipe: Recipe,
  locate: Locate,
  given: (key: string) => boolean,
): void {
  const fail = (at: (string | number)[], message: string, fix = FIX): never => {
    throw new PodbootError(`${locate(at)}: ${message}`, fix);
  };
  const names = new Map<string, number>();
  const owner = new Map<string, string>();
  for (const [index, extension] of recipe.extensions.entries()) {
    const first = names.get(extension.name);
    if (first !== undefined) {
      fail(
        ["extensions", index, "name"],
        `two extensions are named ${extension.name} (the first is extensions[${first}])`,
        "give each extension its own name",
      );
    }
    names.set(extension.name, index);
    for (const [p, pkg] of extension.packages.entries()) {
      const where = ["extensions", index, "packages", p];
      const previous = owner.get(pkg);
      if (previous) {
        fail(
          where,
          `package ${pkg} is listed by both extension ${previous} and extension ${extension.name}`,
          "list each package in one extension only",
        );
      }
      owner.set(pkg, extension.name);
      if (extension.exclude.includes(pkg)) {
        fail(
          where,
          `extension ${extension.name} both lists and excludes package ${pkg}`,
          "remove it from one of the two lists",
        );
      }
    }
  }
  checkLayers(recipe, fail);
  checkExtensionSettings(recipe, new Set(names.keys()), fail);
  if (!owner.has("busybox-static")) {
    fail(
      ["extensions"],
      "no extension lists busybox-static, which stage 1 and the baked images run on",
      "add busybox-static to the base extension's packages",
    );
  }
  // The sysext image's default set is checked when a build asks for the image (--format sysext).
  const sysext = given("sysext") ? recipe.sysext.extensions : [];
  for (const [index, name] of sysext.entries()) {
    if (!names.has(name)) {
      fail(
        ["sysext", "extensions", index],
        `sysext.extensions names ${name}, which is not an extension of this recipe`,
        `name one of: ${[...names.keys()].join(", ")}`,
      );
    }
  }
  const images = new Set<string>();
  for (const [index, image] of recipe.images.entries()) {
    const base = image.name.split("/").at(-1)!.replace(/:.*/, "");
    if (images.has(base)) {
      fail(["images", index, "name"], `two images would be stored as ${base}.tar`, "rename one");
    }
    images.add(base);
  }
}
