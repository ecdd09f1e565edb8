import { describe, expect, it } from "vitest";
import { parseComponent, type Component } from "../../../../builder/recipe/component.ts";
import {
  componentsForImage,
  planCompiles,
  planPackages,
} from "../../../../builder/plan/build-plan.ts";
import type { BuildRequest } from "../../../../builder/plan/request.ts";
import type { SourceChoice } from "../../../../builder/steps/sources.ts";

function recipe(name: string, options: { toolchain?: string; depends?: string[] } = {}): Component {
  return parseComponent(
    [
      `name: ${name}`,
      'version: "1"',
      "license: MIT",
      `package: ${name}`,
      `provides: [usr/lib/${name}/bin/${name}]`,
      "sources: [{ prebuilt: true }]",
      "build:",
      ...(options.toolchain ? [`  toolchain: ${options.toolchain}`] : []),
      `  depends: [${(options.depends ?? []).join(", ")}]`,
      "  script: make",
    ].join("\n"),
    `${name}.yaml`,
  );
}

const file = (component: Component) => ({
  component,
  file: `${component.name}.yaml`,
  locate: () => "",
});

const busybox = recipe("busybox-stage1", { depends: ["musl-tools"] });

function request(components: Component[], toolchains: Component[], prebuilt = false): BuildRequest {
  return {
    set: {
      components: components.map(file),
      toolchains: toolchains.map(file),
      stage1Busybox: file(busybox),
    },
    recipe: { extensions: [] },
    leftOut: new Map([["runc", "docker"]]),
    prebuilt,
  } as unknown as BuildRequest;
}

const source = (kind: string): SourceChoice => ({
  use: "source",
  source: { kind: kind as "git", archive: "/x", sha256: "0", origin: {} },
  skipped: [],
});
const unobtainable: SourceChoice = {
  use: "prebuilt",
  reason: "github.com is unreachable",
  skipped: [],
};

describe("planCompiles", () => {
  const conmon = recipe("conmon", { depends: ["libglib2.0-dev"] });
  const crun = recipe("crun", { depends: ["libseccomp-dev"] });
  const skopeo = recipe("skopeo", { toolchain: "go-1.24", depends: ["libgpgme-dev"] });
  const podman = recipe("podman", { toolchain: "go-1.24", depends: ["libseccomp-dev"] });
  const go = recipe("go-1.24", { depends: ["golang-1.24-go"] });
  const shipped = new Set(["conmon", "crun", "skopeo", "podman"]);

  it("groups the C compiles in one root, the Go ones in another, the toolchain in its own", () => {
    const choices = new Map([
      ["conmon", source("debian-source")],
      ["crun", source("debian-source")],
      ["skopeo", source("debian-source")],
      ["podman", unobtainable],
      ["go-1.24", source("debian-source")],
      ["busybox-stage1", source("debian-source")],
    ]);
    const plan = planCompiles(request([conmon, crun, skopeo, podman], [go]), shipped, choices);
    expect(plan.components.map((c) => `${c.component.name}:${c.use}`)).toEqual([
      "conmon:source",
      "crun:source",
      "skopeo:source",
      "podman:prebuilt",
    ]);
    expect(plan.toolchains.map((t) => `${t.component.name}:${t.use}`)).toEqual(["go-1.24:source"]);
    expect(Object.fromEntries(plan.rootOf)).toEqual({
      conmon: "trixie with C",
      crun: "trixie with C",
      "busybox-stage1": "trixie with C",
      skopeo: "trixie with go-1.24",
      "go-1.24": "trixie toolchain go-1.24",
    });
    // podman falls back to Debian, yet its build depends stay in the Go root, so that root (and
    // every compile cached under it) is the same whether podman's source can be had or not.
    expect(plan.roots.get("trixie with go-1.24")!.depends.sort()).toEqual([
      "libgpgme-dev",
      "libseccomp-dev",
    ]);
    expect(plan.roots.get("trixie with C")!.depends.sort()).toEqual([
      "libglib2.0-dev",
      "libseccomp-dev",
      "musl-tools",
    ]);
  });

  it("compiles stage 1's busybox in the C root, or takes busybox-static's binary", () => {
    const compiled = planCompiles(
      request([conmon], []),
      shipped,
      new Map([
        ["conmon", source("debian-source")],
        ["busybox-stage1", source("debian-source")],
      ]),
    );
    expect(compiled.stage1).toMatchObject({ use: "source" });
    expect(compiled.rootOf.get("busybox-stage1")).toBe("trixie with C");
    const fallback = planCompiles(
      request([conmon], []),
      shipped,
      new Map([
        ["conmon", source("debian-source")],
        ["busybox-stage1", unobtainable],
      ]),
    );
    expect(fallback.stage1).toMatchObject({ use: "prebuilt", reason: "github.com is unreachable" });
    // Its build depends stay in the C root either way: the root (and its cached compiles) is the
    // same whether its source can be had or not.
    expect(fallback.roots.get("trixie with C")!.depends).toContain("musl-tools");
    expect(fallback.rootOf.has("busybox-stage1")).toBe(false);
  });

  it("installs Debian's compiler in the users' root when the toolchain cannot be compiled", () => {
    const choices = new Map([
      ["skopeo", source("debian-source")],
      ["podman", source("git")],
      ["go-1.24", unobtainable],
      ["busybox-stage1", source("debian-source")],
    ]);
    const plan = planCompiles(request([skopeo, podman], [go]), shipped, choices);
    expect(plan.toolchains[0]).toMatchObject({
      use: "prebuilt",
      reason: "github.com is unreachable",
    });
    expect(plan.roots.get("trixie with go-1.24")!.depends).toContain("go-1.24");
    expect(plan.roots.has("trixie toolchain go-1.24")).toBe(false);
  });

  it("compiles nothing and makes no root with --prebuilt", () => {
    const plan = planCompiles(request([conmon, skopeo], [go], true), shipped, new Map());
    expect(plan.components.every((c) => c.use === "prebuilt")).toBe(true);
    expect(plan.stage1.use).toBe("prebuilt");
    expect(plan.toolchains).toEqual([]);
    expect(plan.roots.size).toBe(0);
  });
});

describe("componentsForImage", () => {
  const conmon = recipe("conmon");
  const runc = recipe("runc");

  it("compiles what the image ships and skips what only a left-out extension has", () => {
    const { components, skipped } = componentsForImage(
      [conmon, runc],
      new Set(["conmon"]),
      new Map([["runc", "docker"]]),
    );
    expect(components).toEqual([conmon]);
    expect(skipped).toEqual([
      {
        component: runc,
        reason: "runc comes with the extension docker, which this build leaves out",
      },
    ]);
  });

  it("still refuses a package no extension lists, naming it", () => {
    expect(() => componentsForImage([conmon, runc], new Set(["conmon"]))).toThrow(
      /component runc stands for the Debian package runc, which no extension ships/,
    );
  });
});

describe("planPackages", () => {
  const req = {
    recipe: {
      extensions: [
        { name: "base", packages: ["busybox-static", "libc6"], exclude: [] },
        { name: "podman", packages: ["podman"], exclude: ["gnupg"] },
      ],
    },
  } as unknown as BuildRequest;
  const v = (name: string) => ({ name, version: "1" });

  it("gives each package to one extension, orders them, and adds the kernel's package", () => {
    const plan = planPackages(
      req,
      new Map([
        ["base", [v("busybox-static"), v("libc6")]],
        ["podman", [v("podman"), v("libc6"), v("gnupg"), v("libgpgme11")]],
      ]),
      v("linux-source-6.12"),
    );
    expect(plan.extensions.map((e) => [e.name, e.owns, e.dependsOn])).toEqual([
      ["base", ["busybox-static", "libc6"], []],
      ["podman", ["libgpgme11", "podman"], ["base"]],
    ]);
    expect(plan.versions.map((p) => p.name)).toEqual([
      "busybox-static",
      "libc6",
      "libgpgme11",
      "podman",
      "linux-source-6.12",
    ]);
    expect(plan.shipped.has("gnupg")).toBe(false);
  });
});
