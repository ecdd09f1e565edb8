import { describe, expect, it } from "vitest";
import { parseComponent, type Component } from "../../../../builder/recipe/component.ts";
import { buildScripts } from "../../../../builder/steps/compile.ts";

/** A component recipe "demo": `fields` are extra top-level lines, `build` the build section's. */
function demo(provides: string, build: string, fields = ""): Component {
  return parseComponent(
    `name: demo
version: "1.0"
license: MIT
package: demo
provides: [${provides}]
sources: [{ prebuilt: true }]
${fields}build:
${build}
`,
    "demo.yaml",
  );
}

const component = demo(
  "usr/bin/demo, usr/libexec/demo/helper",
  `  script: |
    make
    make install DESTDIR="$DESTDIR"`,
);

describe("buildScripts", () => {
  const script = buildScripts(component, { archive: "demo-1.0.tar.xz" }).build;

  it("stops at the first failing command", () => {
    expect(script.split("\n")[0]).toBe("set -eu");
  });

  it("unpacks the read-only source into /build/src and runs the recipe there", () => {
    expect(script).toContain("tar -xf /sources/demo-1.0.tar.xz -C /build/src --strip-components=1");
    expect(script.indexOf("cd /build/src")).toBeLessThan(script.indexOf("make install"));
  });

  it("strips each provided file after the recipe's script", () => {
    expect(script).toContain('strip --strip-unneeded "$DESTDIR/usr/libexec/demo/helper"');
    expect(script.indexOf("strip --strip-unneeded")).toBeGreaterThan(
      script.indexOf("make install"),
    );
  });
});

describe("buildScripts with Debian's patches", () => {
  const script = buildScripts(component, {
    archive: "demo_1.0.orig.tar.xz",
    patches: "demo_1.0-1.debian.tar.xz",
  }).build;

  it("applies debian/patches/series in order, after unpacking and before the recipe", () => {
    expect(script).toContain("tar -xf /sources/demo_1.0-1.debian.tar.xz -C /build/debian");
    const unpack = script.indexOf("tar -xf /sources/demo_1.0.orig.tar.xz");
    const apply = script.indexOf("patch --batch --forward");
    expect(unpack).toBeGreaterThan(-1);
    expect(apply).toBeGreaterThan(unpack);
    expect(apply).toBeLessThan(script.indexOf("make install"));
    // comments and blank lines of the series are skipped; a patch's own -pN option is kept
    expect(script).toContain("grep -v -e '^#' -e '^[[:space:]]*$'");
    expect(script).toContain("${options:--p1}");
  });

  it("is absent when no patches are given", () => {
    expect(buildScripts(component, { archive: "demo-1.0.tar.xz" }).build).not.toContain(
      "patch --batch",
    );
  });
});

describe("buildScripts with a Go library package (debian-dev)", () => {
  const script = buildScripts(component, {
    archive: "golang-demo-dev_1.0-1_all.deb",
    subdir: "usr/share/gocode/src/example.org/demo",
  }).build;

  it("unpacks only the import path's tree from the .deb's data, with that tree as /build/src", () => {
    // ./usr/share/gocode/src/example.org/demo/main.go → main.go: the dot and six directories go
    expect(script).toContain(
      "dpkg-deb --fsys-tarfile /sources/golang-demo-dev_1.0-1_all.deb | tar -x -C /build/src --strip-components=7 ./usr/share/gocode/src/example.org/demo/",
    );
    expect(script).not.toContain("tar -xf /sources/");
  });
});

describe("buildScripts with build.vendor: cargo", () => {
  const rust = demo(
    "usr/bin/demo",
    "  vendor: cargo\n  script: cargo build --release --offline --locked",
  );
  const { fetch, build } = buildScripts(rust, {
    archive: "demo-1.0.tar.gz",
    patches: "demo_1.0-1.debian.tar.xz",
  });

  it("unpacks, patches and vendors the crates Cargo.lock pins in the fetch step", () => {
    expect(fetch).toBeDefined();
    const unpack = fetch!.indexOf("tar -xf /sources/demo-1.0.tar.gz");
    const apply = fetch!.indexOf("patch --batch");
    const vendor = fetch!.indexOf("cargo vendor --locked --versioned-dirs /build/vendor");
    expect(unpack).toBeGreaterThan(-1);
    expect(apply).toBeGreaterThan(unpack);
    expect(vendor).toBeGreaterThan(apply);
    expect(fetch).toContain('> "$CARGO_HOME/config.toml"');
    expect(fetch).not.toContain("cargo build");
  });

  it("builds in the already unpacked tree without unpacking or fetching again", () => {
    expect(build.split("\n").slice(0, 2)).toEqual(["set -eu", "cd /build/src"]);
    expect(build).toContain("cargo build --release --offline --locked");
    expect(build).not.toContain("tar -xf");
    expect(build).not.toContain("cargo vendor");
    expect(build).toContain('strip --strip-unneeded "$DESTDIR/usr/bin/demo"');
  });

  it("has no fetch step without build.vendor", () => {
    expect(buildScripts(component, { archive: "demo-1.0.tar.xz" }).fetch).toBeUndefined();
  });
});

describe("buildScripts with artifacts", () => {
  const withArtifact = demo("usr/bin/demo", "  script: make", "artifacts: [usr/bin/demo-remote]\n");

  it("strips the artifacts like the shipped files", () => {
    const { build } = buildScripts(withArtifact, { archive: "demo-1.0.tar.xz" });
    expect(build).toContain('strip --strip-unneeded "$DESTDIR/usr/bin/demo"');
    expect(build).toContain('strip --strip-unneeded "$DESTDIR/usr/bin/demo-remote"');
  });
});
