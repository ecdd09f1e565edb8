import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  componentSchema,
  loadComponents,
  parseComponent,
  sourceKind,
} from "../../../../builder/recipe/component.ts";

const componentsDir = new URL("../../../../recipes/components/", import.meta.url);

const minimal = `name: demo
version: "1.0"
license: MIT
package: demo
provides: [usr/bin/demo]
sources:
  - url: { url: "https://example.org/demo-1.0.tar.gz", sha256: "${"a".repeat(64)}" }
build:
  script: make
`;

function errorOf(text: string): string {
  try {
    parseComponent(text, "c.yaml");
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected the component recipe to be rejected");
}

describe("component recipes", () => {
  it("every shipped component recipe is valid and named after its file", async () => {
    const names = (await readdir(componentsDir))
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => f.replace(/\.yaml$/, ""));
    expect(names).toEqual(expect.arrayContaining(["catatonit", "conmon", "crun"]));
    const components = await loadComponents(componentsDir.pathname, names);
    for (const component of components) {
      expect(component.sources.length).toBeGreaterThan(0);
      // Every component that replaces a shipped binary can fall back to the verified Debian one;
      // the initramfs' static verifier has no Debian equivalent, and podman-4.3 exists to prove
      // podman compiles from source (its package's binary in the image's suite is podman 5).
      // podboot's own tools (extension:, not package:) have no Debian binary either.
      if (component.package && component.name !== "minisign" && component.name !== "podman-4.3") {
        expect(sourceKind(component.sources.at(-1)!)).toBe("prebuilt");
      }
    }
  });

  it("fills defaults: trixie build suite, no extra depends", () => {
    const component = parseComponent(minimal, "c.yaml");
    expect(component.build).toEqual({ suite: "trixie", depends: [], script: "make" });
    expect(sourceKind(component.sources[0]!)).toBe("url");
    expect(component.artifacts).toEqual([]);
  });

  it("takes artifacts delivered next to the image, paths under usr/ only", () => {
    const withArtifacts = (paths: string) =>
      parseComponent(minimal.replace("build:", `artifacts: [${paths}]\nbuild:`), "c.yaml");
    expect(withArtifacts("usr/bin/podman-remote").artifacts).toEqual(["usr/bin/podman-remote"]);
    expect(() => withArtifacts("/tmp/podman-remote")).toThrow(
      /artifacts\.0: a path under usr\/ such as usr\/bin\/conmon/,
    );
  });

  it("rejects a git source pinned by tag only, naming the line", () => {
    const text = minimal.replace(
      /sources:\n.*\n/,
      "sources:\n  - git: { url: https://example.org/x.git, commit: v1.0 }\n",
    );
    expect(errorOf(text)).toMatch(/^c\.yaml:7:\d+: sources\.0/);
  });

  it("rejects unknown keys and paths outside usr/", () => {
    expect(errorOf(`${minimal}extra: 1\n`)).toMatch(/unknown key extra/);
    expect(errorOf(minimal.replace("usr/bin/demo", "/bin/demo"))).toMatch(
      /c\.yaml:5:\d+: provides\.0: a path under usr\//,
    );
  });

  it("a missing component recipe names the file and the available ones", async () => {
    await expect(loadComponents(componentsDir.pathname, ["nope"])).rejects.toThrow(
      /no component recipe .*nope\.yaml/,
    );
  });

  it("a recipe whose name differs from its file name is refused", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-comp-"));
    await writeFile(path.join(dir, "other.yaml"), minimal);
    await expect(loadComponents(dir, ["other"])).rejects.toThrow(
      /name is demo, but the file is named other\.yaml/,
    );
  });
});

describe("Go components and toolchains", () => {
  const toolchainsDir = new URL("../../../../recipes/toolchains/", import.meta.url);

  it("every toolchain recipe is valid and falls back to Debian's compiler package", async () => {
    const names = (await readdir(toolchainsDir)).map((f) => f.replace(/\.yaml$/, ""));
    expect(names).toContain("go-1.24");
    for (const toolchain of await loadComponents(toolchainsDir.pathname, names)) {
      expect(sourceKind(toolchain.sources.at(-1)!)).toBe("prebuilt");
      // its programs' directory goes first on PATH in the components' containers
      expect(toolchain.provides.every((p) => p.includes("/bin/"))).toBe(true);
    }
  });

  it("accepts a debian-dev source and a toolchain", () => {
    const text = minimal
      .replace(
        /sources:\n.*\n/,
        "sources:\n  - debian-dev: { package: golang-demo-dev, version: 1.0-1, path: example.org/demo }\n",
      )
      .replace("build:\n", "build:\n  toolchain: go-1.24\n");
    const component = parseComponent(text, "c.yaml");
    expect(sourceKind(component.sources[0]!)).toBe("debian-dev");
    expect(component.sources[0]).toEqual({
      "debian-dev": {
        package: "golang-demo-dev",
        version: "1.0-1",
        suite: "trixie",
        path: "example.org/demo",
      },
    });
    expect(component.build.toolchain).toBe("go-1.24");
  });

  it("rejects a debian-dev path that is not a Go import path", () => {
    const text = minimal.replace(
      /sources:\n.*\n/,
      "sources:\n  - debian-dev: { package: golang-demo-dev, version: 1.0-1, path: ../../etc }\n",
    );
    expect(errorOf(text)).toMatch(/a Go import path/);
  });
});

describe("recipes/component.schema.json", () => {
  it("matches the zod schema (run `npm run schema` after changing it)", async () => {
    const onDisk = JSON.parse(
      await readFile(new URL("../../../../recipes/component.schema.json", import.meta.url), "utf8"),
    );
    expect(onDisk).toEqual(z.toJSONSchema(componentSchema, { io: "input" }));
  });
});
