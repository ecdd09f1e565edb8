import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseRecipe } from "../../../../builder/recipe/load.ts";
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
});

describe("recipes/schema.json", () => {
  it("matches the zod schema (run `npm run schema` after changing it)", async () => {
    const committed = JSON.parse(
      await readFile(new URL("../../../../recipes/schema.json", import.meta.url), "utf8"),
    );
    expect(committed).toEqual(z.toJSONSchema(recipeSchema, { io: "input" }));
  });
});
