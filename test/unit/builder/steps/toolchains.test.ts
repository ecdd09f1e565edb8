import { describe, expect, it } from "vitest";
import { parseComponent, type Component } from "../../../../builder/recipe/component.ts";
import { componentsForImage, toolchainClosure } from "../../../../builder/steps/components.ts";

function recipe(name: string, toolchain?: string): Component {
  return parseComponent(
    [
      `name: ${name}`,
      'version: "1"',
      "license: MIT",
      `package: ${name}`,
      `provides: [usr/lib/${name}/bin/${name}]`,
      "sources: [{ prebuilt: true }]",
      "build:",
      ...(toolchain ? [`  toolchain: ${toolchain}`] : []),
      "  script: make",
    ].join("\n"),
    `${name}.yaml`,
  );
}

function loader(toolchains: Component[]) {
  const loaded: string[] = [];
  const load = async (name: string, wantedBy: string) => {
    loaded.push(`${name} for ${wantedBy}`);
    const found = toolchains.find((t) => t.name === name);
    if (!found) throw new Error(`no toolchain ${name}`);
    return found;
  };
  return { load, loaded };
}

describe("toolchainClosure", () => {
  it("lists each toolchain once, after the toolchain it is compiled with", async () => {
    const { load, loaded } = loader([recipe("go-1.24", "go-1.22"), recipe("go-1.22")]);
    const closure = await toolchainClosure(
      [recipe("skopeo", "go-1.24"), recipe("buildah", "go-1.24"), recipe("conmon")],
      load,
    );
    expect(closure.map((t) => t.name)).toEqual(["go-1.22", "go-1.24"]);
    expect(loaded).toEqual(["go-1.24 for components/skopeo", "go-1.22 for toolchains/go-1.24"]);
  });

  it("is empty when no component names a toolchain", async () => {
    const { load } = loader([]);
    expect(await toolchainClosure([recipe("conmon")], load)).toEqual([]);
  });

  it("refuses a recipe cycle, naming the whole loop", async () => {
    const { load } = loader([recipe("go-a", "go-b"), recipe("go-b", "go-a")]);
    await expect(toolchainClosure([recipe("skopeo", "go-a")], load)).rejects.toThrow(
      "recipe cycle: toolchain go-a needs go-b needs go-a",
    );
  });

  it("refuses a toolchain that is compiled with itself", async () => {
    const { load } = loader([recipe("go-a", "go-a")]);
    await expect(toolchainClosure([recipe("skopeo", "go-a")], load)).rejects.toThrow(
      "recipe cycle: toolchain go-a needs go-a",
    );
  });
});

describe("componentsForImage", () => {
  const conmon = recipe("conmon");
  const runc = recipe("runc");

  it("compiles what the image ships and skips what only a left-out optional extension has", () => {
    const { components, skipped } = componentsForImage(
      [conmon, runc],
      new Set(["conmon"]),
      new Map([["runc", "docker"]]),
    );
    expect(components).toEqual([conmon]);
    expect(skipped).toEqual([{ component: runc, extension: "docker" }]);
  });

  it("compiles it when the optional extension is built", () => {
    const { components, skipped } = componentsForImage([conmon, runc], new Set(["conmon", "runc"]));
    expect(components).toEqual([conmon, runc]);
    expect(skipped).toEqual([]);
  });

  it("still refuses a package no extension lists, naming it", () => {
    expect(() => componentsForImage([conmon, runc], new Set(["conmon"]))).toThrow(
      /component runc stands for the Debian package runc, which no extension ships/,
    );
  });
});
