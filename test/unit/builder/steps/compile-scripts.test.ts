import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { buildScripts } from "../../../../builder/steps/compile-scripts.ts";

// The scripts are constant text: every value (archive, .deb subtree, patches, the recipe's own
// script, what to strip) arrives in PODBOOT_* variables. The compiles of the integration tests
// run them for real in runc; here their shape and syntax.
const plain = buildScripts(false).build;
const { fetch, build: afterFetch } = buildScripts(true);

describe("buildScripts", () => {
  it("is valid sh, stops at the first failing command, and splices in no value", async () => {
    for (const script of [plain, fetch!, afterFetch]) {
      expect(script.split("\n")[0]).toBe("set -eu");
      expect((await execa("sh", ["-n", "-c", script], { reject: false })).exitCode).toBe(0);
    }
    // Nothing a recipe says can appear in the text: only variables are referenced.
    expect(plain).toMatch(/"\$PODBOOT_SOURCE"/);
    expect(plain).toMatch(/"\$PODBOOT_RECIPE_SCRIPT"/);
    expect(buildScripts(false).build).toBe(plain);
  });

  it("unpacks, then patches, then runs the recipe's script with -eu in /build/src, then strips", () => {
    const order = [
      'tar -xf "$PODBOOT_SOURCE" -C /build/src --strip-components=1',
      'tar -xf "$PODBOOT_PATCHES" -C /build/debian',
      "patch --batch --forward --no-backup-if-mismatch ${options:--p1}",
      "cd /build/src",
      "sh -eu /tmp/podboot-recipe.sh",
      'strip --strip-unneeded "$DESTDIR/$file"',
    ].map((line) => plain.indexOf(line));
    expect(order.every((at) => at > -1)).toBe(true);
    expect(order.slice(3)).toEqual([...order.slice(3)].sort((a, b) => a - b));
    expect(order[1]!).toBeLessThan(order[4]!);
    // comments and blank lines of Debian's series are skipped
    expect(plain).toContain("grep -v -e '^#' -e '^[[:space:]]*$'");
  });

  it("takes only the import path's tree out of a .deb (debian-dev), the dot and every level above it stripped", async () => {
    // The script's own depth line, run alone.
    const line = plain.split("\n").find((l) => l.trim().startsWith("depth="))!;
    const depth = await execa("sh", ["-c", `${line}\necho "$depth"`], {
      env: { PODBOOT_SUBDIR: "usr/share/gocode/src/example.org/demo" },
    });
    // ./usr/share/gocode/src/example.org/demo/main.go → main.go: the dot and six directories go
    expect(depth.stdout.trim()).toBe("7");
    expect(plain).toContain('"./$PODBOOT_SUBDIR/"');
  });
});

describe("buildScripts with crates to vendor (build.vendor: cargo)", () => {
  it("unpacks, patches and vendors the crates Cargo.lock pins in the fetch step", () => {
    const unpack = fetch!.indexOf('tar -xf "$PODBOOT_SOURCE"');
    const apply = fetch!.indexOf("patch --batch");
    const vendor = fetch!.indexOf("cargo vendor --locked --versioned-dirs /build/vendor");
    expect(unpack).toBeGreaterThan(-1);
    expect(apply).toBeGreaterThan(unpack);
    expect(vendor).toBeGreaterThan(apply);
    expect(fetch).toContain('> "$CARGO_HOME/config.toml"');
    expect(fetch).not.toContain("podboot-recipe.sh");
  });

  it("then builds in the unpacked tree without unpacking or fetching again", () => {
    expect(afterFetch.split("\n").slice(0, 2)).toEqual(["set -eu", "cd /build/src"]);
    expect(afterFetch).toContain("sh -eu /tmp/podboot-recipe.sh");
    expect(afterFetch).not.toContain("tar -xf");
    expect(afterFetch).not.toContain("cargo vendor");
  });

  it("has no fetch step otherwise", () => {
    expect(buildScripts(false).fetch).toBeUndefined();
  });
});
