import { describe, expect, it } from "vitest";
import {
  dropRules,
  extensionOrder,
  planExtensions,
  selectExtensions,
} from "../../../../builder/plan/extensions.ts";

const base = {
  name: "base",
  packages: ["busybox-static", "libc6"],
  exclude: [],
  closure: ["libc6", "libgcc-s1", "busybox-static"],
};
const runtime = {
  name: "runtime",
  packages: ["crun"],
  exclude: [],
  closure: ["libc6", "libseccomp2", "crun"],
};
const podman = {
  name: "podman",
  packages: ["podman"],
  exclude: ["gnupg"],
  closure: ["libc6", "crun", "libseccomp2", "gnupg", "podman", "libgpgme11"],
};

describe("planExtensions", () => {
  it("gives listed packages to their extension and shared ones to the first that reaches them", () => {
    const plans = planExtensions([base, runtime, podman]);
    expect(plans.find((p) => p.name === "runtime")!.owns).toEqual(["crun", "libseccomp2"]);
    expect(plans.find((p) => p.name === "podman")!.owns).toEqual(["libgpgme11", "podman"]);
  });

  it("derives dependencies from the package graph", () => {
    const plans = planExtensions([base, runtime, podman]);
    expect(plans.find((p) => p.name === "podman")!.dependsOn).toEqual(["base", "runtime"]);
    expect(plans.find((p) => p.name === "base")!.dependsOn).toEqual([]);
  });

  it("leaves excluded packages to nobody and records them", () => {
    const plans = planExtensions([base, runtime, podman]);
    expect(plans.flatMap((p) => p.owns)).not.toContain("gnupg");
    expect(plans.find((p) => p.name === "podman")!.excluded).toEqual(["gnupg"]);
  });

  it("rejects a package listed by two extensions", () => {
    expect(() => planExtensions([base, { ...runtime, packages: ["crun", "libc6"] }])).toThrow(
      /libc6 is listed by both extension base and extension runtime/,
    );
  });

  it("rejects an extension that lists and excludes the same package", () => {
    expect(() => planExtensions([{ ...base, exclude: ["libc6"] }])).toThrow(
      /both lists and excludes package libc6/,
    );
  });

  it("rejects a cycle, naming it", () => {
    const a = { name: "a", packages: ["pa"], exclude: [], closure: ["pa", "pb"] };
    const b = { name: "b", packages: ["pb"], exclude: [], closure: ["pb", "pa"] };
    expect(() => planExtensions([a, b])).toThrow("cycle: a → b (pb) → a (pa)");
  });

  it("a package an extension excludes makes no dependency on the extension that owns it", () => {
    // tools leaves out iptables, which the optional docker extension lists: no tools → docker.
    const tools = {
      name: "tools",
      packages: ["buildah"],
      exclude: ["iptables"],
      closure: ["buildah", "iptables"],
    };
    const docker = {
      name: "docker",
      packages: ["dockerd", "iptables"],
      exclude: [],
      closure: ["dockerd", "iptables"],
    };
    const [t, d] = planExtensions([tools, docker]);
    expect(t!.dependsOn).toEqual([]);
    expect(d!.owns).toEqual(["dockerd", "iptables"]);
  });
});

describe("extensionOrder", () => {
  it("puts every extension after what it depends on and keeps recipe order otherwise", () => {
    const order = extensionOrder([
      { name: "podman", dependsOn: ["runtime", "base"] },
      { name: "overlay", dependsOn: [] },
      { name: "runtime", dependsOn: ["base"] },
      { name: "base", dependsOn: [] },
    ]).map((p) => p.name);
    expect(order).toEqual(["base", "runtime", "podman", "overlay"]);
  });

  it("rejects a dependency on an unknown extension", () => {
    expect(() => extensionOrder([{ name: "a", dependsOn: ["ghost"] }])).toThrow(
      /unknown extension ghost/,
    );
  });
});

describe("selectExtensions (--with)", () => {
  const recipe = [
    { name: "base", optional: false },
    { name: "kubectl", optional: true },
    { name: "docker", optional: true },
    { name: "overlay", optional: false },
  ];

  it("leaves optional extensions out unless asked for, keeping recipe order", () => {
    expect(selectExtensions(recipe, []).map((e) => e.name)).toEqual(["base", "overlay"]);
    expect(selectExtensions(recipe, ["docker", "kubectl"]).map((e) => e.name)).toEqual([
      "base",
      "kubectl",
      "docker",
      "overlay",
    ]);
  });

  it("an unknown name or a default extension is an error listing the optional ones", () => {
    expect(() => selectExtensions(recipe, ["nope"])).toThrow(
      "--with nope: the recipe has no extension nope",
    );
    expect(() => selectExtensions(recipe, ["base"])).toThrow(
      "--with base: base is built by default (it is not an optional extension)",
    );
    try {
      selectExtensions(recipe, ["nope"]);
    } catch (error) {
      expect((error as { fix: string }).fix).toBe("the optional extensions are: kubectl, docker");
    }
  });
});

describe("selectExtensions (--without)", () => {
  const recipe = [
    { name: "base", optional: false, packages: ["busybox-static", "libc6"] },
    { name: "tools", optional: false, packages: ["buildah", "skopeo"] },
    { name: "rootless", optional: false, packages: ["passt"] },
    { name: "podman", optional: false, packages: ["podman"] },
    { name: "docker", optional: true, packages: ["docker.io"] },
    { name: "overlay", optional: false, overlay: true },
  ];
  const names = (list: { name: string }[]) => list.map((e) => e.name);

  it("leaves default extensions out, with --with alongside", () => {
    expect(names(selectExtensions(recipe, [], ["tools", "rootless"]))).toEqual([
      "base",
      "podman",
      "overlay",
    ]);
    expect(names(selectExtensions(recipe, ["docker"], ["tools"]))).toEqual([
      "base",
      "rootless",
      "podman",
      "docker",
      "overlay",
    ]);
  });

  it("refuses what every image needs, an optional or unknown name, listing what can go", () => {
    const refusal = (name: string) => {
      try {
        selectExtensions(recipe, [], [name]);
      } catch (error) {
        return `${(error as Error).message} — ${(error as { fix: string }).fix}`;
      }
      throw new Error("expected a refusal");
    };
    const canGo = "the extensions that can be left out are: tools, rootless";
    expect(refusal("overlay")).toBe(
      `--without overlay: overlay carries podboot's own init and configuration — ${canGo}`,
    );
    expect(refusal("base")).toBe(
      `--without base: base holds busybox-static, which every podboot image needs — ${canGo}`,
    );
    expect(refusal("podman")).toBe(
      `--without podman: podman holds podman, which every podboot image needs — ${canGo}`,
    );
    expect(refusal("docker")).toMatch(/docker is optional, so it is left out unless asked for/);
    expect(refusal("nope")).toBe(`--without nope: the recipe has no extension nope — ${canGo}`);
  });
});

describe("dropRules", () => {
  const podmanSpec = {
    drop: ["usr/libexec/podman/quadlet"],
    dropWithout: { rootless: ["usr/libexec/podman/rootlessport"] },
  };
  it("adds an extension's dropWithout globs only when that extension is not built", () => {
    const built = [{ name: "base" }, { name: "podman" }];
    expect(dropRules(["usr/share/doc/**"], podmanSpec, built)).toEqual([
      "usr/share/doc/**",
      "usr/libexec/podman/quadlet",
      "usr/libexec/podman/rootlessport",
    ]);
    expect(dropRules(["usr/share/doc/**"], podmanSpec, [...built, { name: "rootless" }])).toEqual([
      "usr/share/doc/**",
      "usr/libexec/podman/quadlet",
    ]);
  });
});
