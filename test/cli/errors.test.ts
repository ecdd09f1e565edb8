// Bad input through the real command line: one line naming the cause and the fix, a non-zero
// exit, and nothing written to the output directory.
import { execa } from "execa";
import { mkdtemp, readdir, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const projectDir = path.resolve(import.meta.dirname, "../..");
const podboot = (args: string[], env: Record<string, string> = {}) =>
  execa("node", [path.join(projectDir, "bin/podboot.js"), ...args], {
    reject: false,
    all: true,
    env: { ...process.env, ...env },
  });

async function buildWith(recipeText: string) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-cli-"));
  const recipe = path.join(dir, "bad.yaml");
  await writeFile(recipe, recipeText);
  const out = path.join(dir, "out");
  const result = await podboot(["build", recipe, "--out", out, "--cache", path.join(dir, "cache")]);
  const written = await readdir(out).catch(() => []);
  return { result, written, recipe };
}

const good = (await import("node:fs")).readFileSync(
  path.join(projectDir, "recipes/podboot.yaml"),
  "utf8",
);

describe("podboot build with bad input", () => {
  it("malformed YAML: exit 2, file:line:col, nothing written", async () => {
    const { result, written, recipe } = await buildWith("name: podboot\nversion: [0.1\n");
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(
      new RegExp(`^podboot: ${recipe}:\\d+:\\d+: malformed YAML: .* — fix the YAML syntax`),
    );
    expect(result.all!.trim().split("\n")).toHaveLength(1);
    expect(written).toEqual([]);
  });

  it("unknown key: exit 2 with the key's position", async () => {
    const { result, written } = await buildWith(good.replace("iso:\n", "isos: {}\niso:\n"));
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(
      /bad\.yaml:\d+:1: \(top level\): unknown key isos — correct the recipe/,
    );
    expect(written).toEqual([]);
  });

  it("unknown Debian package: exit 2 naming the package", async () => {
    const { result, written } = await buildWith(
      good.replace(
        "packages: [crun, conmon, catatonit]",
        "packages: [crun, conmon, no-such-package-podboot]",
      ),
    );
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(
      /unknown package no-such-package-podboot in Debian trixie — check the name/,
    );
    expect(written.filter((f) => f !== "logs")).toEqual([]);
  }, 120_000);

  it("missing recipe file: exit 2 with the fix", async () => {
    const result = await podboot(["build", "/nonexistent/recipe.yaml"]);
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(
      /cannot read recipe \/nonexistent\/recipe\.yaml — pass an existing recipe/,
    );
  });

  it("a bad flag value: exit 2", async () => {
    const result = await podboot(["boot", "--memory", "lots"]);
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(/--memory takes a positive whole number, got lots/);
  });
});

describe("podboot check-host", () => {
  it("with tools missing and --no-install, prints the exact apt-get line and exits 2", async () => {
    // A PATH holding only node: every host tool looks missing.
    const bin = await mkdtemp(path.join(os.tmpdir(), "podboot-path-"));
    await symlink(process.execPath, path.join(bin, "node"));
    const result = await execa(
      path.join(bin, "node"),
      [path.join(projectDir, "bin/podboot.js"), "check-host", "--no-install"],
      {
        reject: false,
        all: true,
        env: { ...process.env, PATH: bin },
      },
    );
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(
      /missing host packages: .*squashfs-tools.* — run as root: apt-get install -y --no-install-recommends .*squashfs-tools/,
    );
  });

  it("reports all present on a prepared host", async () => {
    const result = await podboot(["check-host", "--no-install"]);
    expect(result.all).toContain("host tools: all present");
    expect(result.exitCode).toBe(0);
  });
});

describe("podboot build --format sysext with bad input", () => {
  it("sysext.extensions naming an extension the recipe does not build: exit 2, nothing written", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-cli-"));
    const recipe = path.join(dir, "sysext.yaml");
    await writeFile(recipe, `${good}\nsysext:\n  extensions: [podman, nope]\n`);
    const out = path.join(dir, "out");
    const result = await podboot(["build", recipe, "--out", out, "--format", "sysext"]);
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(
      /^podboot: sysext\.extensions names nope, which the recipe does not build — use some of: base, system, .*overlay$/,
    );
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });
});

describe("podboot size with bad input", () => {
  it("a directory without a build: one line naming it and how to make one, nothing written", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-size-"));
    const result = await podboot(["size", "--out", dir]);
    expect(result.exitCode).toBe(2);
    expect(result.all).toBe(
      `podboot: no build in ${dir} (manifest.json or initrd.img is missing) — run \`podboot build\` first, or pass --out with the directory of a build`,
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it("--top that is not a positive whole number", async () => {
    const result = await podboot(["size", "--top", "0"]);
    expect(result.exitCode).toBe(2);
    expect(result.all).toBe(
      "podboot: --top takes a positive whole number, got 0 — pass e.g. --top 20",
    );
  });
});
