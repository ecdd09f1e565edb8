import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadRecipe, parseRecipe } from "../../../../builder/recipe/load.ts";
import { recipeSchema } from "../../../../builder/recipe/schema.ts";

const minimal = `name: demo
version: 1.2.3
kernel:
  source: debian
extensions:
  - name: base
    packages: [busybox-static]
iso:
  label: DEMO
`;

function errorOf(text: string): string {
  try {
    parseRecipe(text, "r.yaml");
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected the recipe to be rejected");
}

describe("parseRecipe", () => {
  it("accepts the shipped recipe", async () => {
    const text = await readFile(
      new URL("../../../../recipes/podboot.yaml", import.meta.url),
      "utf8",
    );
    const recipe = parseRecipe(text, "recipes/podboot.yaml");
    expect(recipe.name).toBe("podboot");
    expect(recipe.extensions.map((e) => e.name)).toContain("podman");
  });

  it("fills defaults", () => {
    const recipe = parseRecipe(minimal, "r.yaml");
    expect(recipe.debian.suite).toBe("trixie");
    expect(recipe.compression.squashfs).toBe("xz");
    expect(recipe.extensions[0]!.exclude).toEqual([]);
    expect(recipe.kernel.debian.package).toBe("linux-image-amd64");
    expect(recipe.kernel.build).toMatchObject({
      package: "linux-source-6.12",
      fragments: ["base", "containers", "virt"],
    });
  });

  it("compiles the kernel unless the recipe picks Debian's", () => {
    const recipe = parseRecipe(
      minimal.replace("  source: debian\n", "  cmdline: quiet\n"),
      "r.yaml",
    );
    expect(recipe.kernel.source).toBe("build");
  });

  it("reports malformed YAML with file:line:col", () => {
    expect(errorOf("name: demo\nversion: [1.2\n")).toMatch(/^r\.yaml:\d+:\d+: malformed YAML/);
  });

  it("reports an unknown key at the key's position", () => {
    const message = errorOf(minimal.replace("iso:\n", "colour: blue\niso:\n"));
    expect(message).toBe("r.yaml:8:1: (top level): unknown key colour");
  });

  it("reports an unknown key inside an extension", () => {
    const message = errorOf(
      minimal.replace(
        "    packages: [busybox-static]",
        "    packages: [busybox-static]\n    pacakges: [x]",
      ),
    );
    expect(message).toMatch(/^r\.yaml:8:5: extensions\.0: unknown key pacakges/);
  });

  it("names the field and what is expected for a bad value", () => {
    const message = errorOf(minimal.replace("label: DEMO", "label: demo iso"));
    expect(message).toMatch(/^r\.yaml:9:10: iso\.label: .*upper-case/);
  });

  it("names a missing required field", () => {
    expect(errorOf(minimal.replace("version: 1.2.3\n", ""))).toMatch(/^r\.yaml:1:1: version: /);
  });

  it("checks package names", () => {
    expect(errorOf(minimal.replace("busybox-static]", "Busybox Static]"))).toMatch(
      /extensions\.0\.packages\.0: a Debian package name/,
    );
  });

  it("takes an extension's own squashfs codec, and names a wrong one", () => {
    const withCodec = (codec: string) =>
      minimal.replace(
        "    packages: [busybox-static]",
        `    packages: [busybox-static]\n    compression: ${codec}`,
      );
    const recipe = parseRecipe(withCodec("zstd"), "r.yaml");
    expect(recipe.extensions[0]!.compression).toBe("zstd");
    expect(recipe.compression.squashfs).toBe("xz");
    expect(parseRecipe(minimal, "r.yaml").extensions[0]!.compression).toBeUndefined();
    expect(errorOf(withCodec("brotli"))).toMatch(/^r\.yaml:8:18: extensions\.0\.compression: /);
  });

  it("takes dropWithout: globs by extension name, none by default", () => {
    const withRule = minimal.replace(
      "    packages: [busybox-static]",
      "    packages: [busybox-static]\n    dropWithout:\n      extra: [usr/bin/x]",
    );
    expect(parseRecipe(withRule, "r.yaml").extensions[0]!.dropWithout).toEqual({
      extra: ["usr/bin/x"],
    });
    expect(parseRecipe(minimal, "r.yaml").extensions[0]!.dropWithout).toEqual({});
  });

  it("the shipped recipe keeps what every boot and first run read in zstd, the rest in xz", async () => {
    const text = await readFile(
      new URL("../../../../recipes/podboot.yaml", import.meta.url),
      "utf8",
    );
    const recipe = parseRecipe(text, "recipes/podboot.yaml");
    const codec = (name: string) =>
      recipe.extensions.find((e) => e.name === name)!.compression ?? recipe.compression.squashfs;
    const everyBoot = ["base", "system", "runtime", "network", "podman", "overlay"];
    expect(everyBoot.map(codec)).toEqual(everyBoot.map(() => "zstd"));
    expect(["rootless", "tools"].map(codec)).toEqual(["xz", "xz"]);
    // tools (loadable, the longest to pack) is packed without trying xz's x86 filter as well
    expect(recipe.extensions.filter((e) => e.xzFilter).map((e) => [e.name, e.xzFilter])).toEqual([
      ["tools", "none"],
    ]);
    // the two largest every boot reads are packed harder, in larger blocks
    const packing = recipe.extensions
      .filter((e) => e.zstdLevel ?? e.blockSize)
      .map((e) => [e.name, e.zstdLevel, e.blockSize]);
    expect(packing).toEqual([
      ["network", 18, 524288],
      ["podman", 18, 524288],
    ]);
  });
});

describe("loadRecipe: a variant that extends another recipe", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "podboot-recipe-"));
    await writeFile(path.join(dir, "base.yaml"), `${minimal}components: [conmon]\n`);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function variant(text: string, name = "variant.yaml"): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  }

  async function loadError(file: string): Promise<string> {
    const error = await loadRecipe(file).then(
      () => undefined,
      (e: Error) => e,
    );
    if (!error) throw new Error("expected the recipe to be rejected");
    return error.message;
  }

  it("takes the base's fields and replaces the top-level ones it gives", async () => {
    const file = await variant("extends: base.yaml\nname: other\ncomponents: [crun, podman-4.3]\n");
    const { recipe, sha256 } = await loadRecipe(file);
    expect(recipe.name).toBe("other");
    expect(recipe.components).toEqual(["crun", "podman-4.3"]);
    expect(recipe.iso.label).toBe("DEMO");
    expect(recipe.extensions.map((e) => e.name)).toEqual(["base"]);
    // The base is part of what the manifest's recipe hash covers.
    const before = sha256;
    await writeFile(path.join(dir, "base.yaml"), minimal.replace("DEMO", "DEMO2"));
    expect((await loadRecipe(file)).sha256).not.toBe(before);
  });

  it("reports a variant's mistake in the variant, and the base's in the base", async () => {
    const bad = await variant("extends: base.yaml\nname: Other\n");
    expect(await loadError(bad)).toMatch(new RegExp(`^${bad}:2:7: name: `));
    await writeFile(path.join(dir, "base.yaml"), minimal.replace("version: 1.2.3\n", ""));
    const good = await variant("extends: base.yaml\nname: other\n", "good.yaml");
    expect(await loadError(good)).toMatch(/base\.yaml:1:1: version: /);
  });

  it("refuses a missing base and a cycle, naming the files", async () => {
    const missing = await variant("extends: nope.yaml\nname: other\n");
    expect(await loadError(missing)).toMatch(
      /variant\.yaml:1:10: extends: nope\.yaml cannot be read \(no file .*nope\.yaml\)/,
    );
    await writeFile(path.join(dir, "base.yaml"), `extends: variant.yaml\n${minimal}`);
    const cycle = await variant("extends: base.yaml\nname: other\n");
    expect(await loadError(cycle)).toMatch(
      /base\.yaml:1:10: extends: \S*variant\.yaml → \S*base\.yaml → \S*variant\.yaml is a cycle/,
    );
  });

  it("loads the shipped podman 4.3 variant", async () => {
    const { recipe } = await loadRecipe(
      path.resolve(fileURLToPath(new URL("../../../../recipes/podman-4.3.yaml", import.meta.url))),
    );
    expect(recipe.name).toBe("podboot-podman4");
    expect(recipe.components).toContain("podman-4.3");
    expect(recipe.components).not.toContain("podman");
    expect(recipe.extensions.map((e) => e.name)).toContain("podman");
  });
});

describe("recipes/schema.json", () => {
  it("matches the zod schema (run `npm run schema` after changing it)", async () => {
    const committed = JSON.parse(
      await readFile(new URL("../../../../recipes/schema.json", import.meta.url), "utf8"),
    );
    expect(committed).toEqual(z.toJSONSchema(recipeSchema, { io: "input" }));
  });
});
