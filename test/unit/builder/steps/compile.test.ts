import { describe, expect, it } from "vitest";
import { parseComponent } from "../../../../builder/recipe/component.ts";
import { buildScript } from "../../../../builder/steps/compile.ts";

const component = parseComponent(
  `name: demo
version: "1.0"
license: MIT
package: demo
provides: [usr/bin/demo, usr/libexec/demo/helper]
sources: [{ prebuilt: true }]
build:
  script: |
    make
    make install DESTDIR="$DESTDIR"
`,
  "demo.yaml",
);

describe("buildScript", () => {
  const script = buildScript(component, { archive: "demo-1.0.tar.xz" });

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

describe("buildScript with Debian's patches", () => {
  const script = buildScript(component, {
    archive: "demo_1.0.orig.tar.xz",
    patches: "demo_1.0-1.debian.tar.xz",
  });

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
    expect(buildScript(component, { archive: "demo-1.0.tar.xz" })).not.toContain("patch --batch");
  });
});

describe("buildScript with a Go library package (debian-dev)", () => {
  const script = buildScript(component, {
    archive: "golang-demo-dev_1.0-1_all.deb",
    subdir: "usr/share/gocode/src/example.org/demo",
  });

  it("unpacks only the import path's tree from the .deb's data, with that tree as /build/src", () => {
    // ./usr/share/gocode/src/example.org/demo/main.go → main.go: the dot and six directories go
    expect(script).toContain(
      "dpkg-deb --fsys-tarfile /sources/golang-demo-dev_1.0-1_all.deb | tar -x -C /build/src --strip-components=7 ./usr/share/gocode/src/example.org/demo/",
    );
    expect(script).not.toContain("tar -xf /sources/");
  });
});
