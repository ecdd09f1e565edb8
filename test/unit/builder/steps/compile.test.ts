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
  const script = buildScript(component, "demo-1.0.tar.xz");

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
