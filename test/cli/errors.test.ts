// Bad input through the real command line: one line naming the cause and the fix, a non-zero
// exit, and nothing written to the output directory.
import { execa } from "execa";
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { recipeDir } from "./recipes.ts";

const projectDir = path.resolve(import.meta.dirname, "../..");
const podboot = (args: string[], env: Record<string, string> = {}) =>
  execa("node", [path.join(projectDir, "bin/podboot.js"), ...args], {
    reject: false,
    all: true,
    env: { ...process.env, ...env },
  });

async function buildWith(recipeText: string) {
  const dir = await recipeDir({ "bad.yaml": recipeText });
  const recipe = path.join(dir, "bad.yaml");
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

  it("a variant extending a recipe that is not there: exit 2, one line, nothing written", async () => {
    const { result, written, recipe } = await buildWith("extends: missing.yaml\nname: variant\n");
    expect(result.exitCode).toBe(2);
    expect(result.all).toBe(
      `podboot: ${recipe}:1:10: extends: missing.yaml cannot be read (no file ${path.join(path.dirname(recipe), "missing.yaml")}) — point extends at an existing recipe, relative to the variant's directory`,
    );
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

describe("podboot under the bench's PODBOOT_REQUIRE_BUNDLE=1", () => {
  it("refuses a bundle older than builder/ in one line, exit 2, instead of running tsx", async () => {
    // A copy of the entry point in a tree of its own, so the checkout's dist/ is never touched.
    const tree = await mkdtemp(path.join(os.tmpdir(), "podboot-bundle-"));
    await mkdir(path.join(tree, "bin"));
    await mkdir(path.join(tree, "dist"));
    await mkdir(path.join(tree, "builder"));
    await copyFile(path.join(projectDir, "bin/podboot.js"), path.join(tree, "bin/podboot.js"));
    await writeFile(path.join(tree, "dist/.stamp"), "");
    await utimes(path.join(tree, "dist/.stamp"), new Date(0), new Date(0));
    await writeFile(path.join(tree, "builder/cli.ts"), "export {};\n");
    const result = await execa("node", [path.join(tree, "bin/podboot.js"), "--version"], {
      reject: false,
      all: true,
      env: { ...process.env, PODBOOT_REQUIRE_BUNDLE: "1" },
    });
    expect(result.exitCode).toBe(2);
    expect(result.all).toBe(
      "podboot: dist/ is older than builder/ (a source changed after npm run compile) — run npm run compile, and leave builder/ alone while the bench runs",
    );
  });
});

describe("podboot --version", () => {
  it("prints package.json's version", async () => {
    const pkg = JSON.parse(await readFile(path.join(projectDir, "package.json"), "utf8"));
    const result = await podboot(["--version"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(pkg.version);
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
    const dir = await recipeDir({ "sysext.yaml": good });
    const recipe = path.join(dir, "sysext.yaml");
    const out = path.join(dir, "out");
    const result = await podboot([
      "build",
      recipe,
      "--out",
      out,
      "--format",
      "sysext",
      "--without",
      "tools,rootless",
    ]);
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(
      /^podboot: sysext\.extensions names rootless, which this build leaves out — build it \(drop --without rootless\), or use some of: base, system, .*overlay$/,
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

describe("podboot release with bad input", () => {
  it("no signing key: one line naming the key file and how to make one; nothing built or written", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-release-"));
    // The default key is podboot.key in the working directory (here an empty one).
    const result = await execa("node", [path.join(projectDir, "bin/podboot.js"), "release"], {
      cwd: dir,
      reject: false,
      all: true,
      env: { ...process.env, PODBOOT_SIGN_KEY: "" },
    });
    expect(result.exitCode).toBe(2);
    const key = path.join(dir, "podboot.key");
    expect(result.all).toBe(
      `podboot: cannot read the secret key ${key} — create one with \`podboot keygen -s ${key} -p ${path.join(dir, "podboot.pub")}\``,
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it("a damaged key given by $PODBOOT_SIGN_KEY: exit 2 naming the damage, nothing written", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-release-"));
    const key = path.join(dir, "release.key");
    await writeFile(key, "untrusted comment: not a key\nAAAA\n");
    const result = await podboot(["release", "--out", path.join(dir, "release")], {
      PODBOOT_SIGN_KEY: key,
    });
    expect(result.exitCode).toBe(2);
    expect(result.all).toBe(
      `podboot: ${key}: the secret key is truncated or damaged (3 bytes, expected 158) — get an intact copy of the secret key`,
    );
    expect(await readdir(dir)).toEqual(["release.key"]);
  });

  it("a recipe that bakes no image cannot be boot-tested: exit 2 before building", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-release-"));
    const key = path.join(dir, "release.key");
    expect(
      (await podboot(["keygen", "-s", key, "-p", path.join(dir, "release.pub")])).exitCode,
    ).toBe(0);
    const recipes = await recipeDir({
      "noimage.yaml": good.replace(/^images:\n(?: {2}.*\n|\n)*/m, ""),
    });
    const recipe = path.join(recipes, "noimage.yaml");
    const out = path.join(dir, "release");
    const result = await podboot(["release", recipe, "--out", out, "--sign-key", key]);
    expect(result.exitCode).toBe(2);
    expect(result.all).toBe(
      "podboot: the recipe bakes no image, so the release's boot test would have nothing to run — add one under images: in the recipe, or pass --no-boot-test",
    );
    expect((await readdir(dir)).sort()).toEqual(["release.key", "release.pub"]);
  });
});

describe("podboot build --engine with an engine that cannot run containers", () => {
  it("docker not installed or its daemon not answering: exit 2, one line naming docker, nothing written", async (test) => {
    const info = await execa("docker", ["info"], { reject: false, all: true });
    const notInstalled = (info as { code?: string }).code === "ENOENT";
    // docker works here: there is nothing bad to show.
    if (!notInstalled && info.exitCode === 0) test.skip();
    const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-cli-"));
    const out = path.join(dir, "out");
    const result = await podboot(["build", "--engine", "docker", "--out", out]);
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(
      notInstalled
        ? /^podboot: --engine docker: docker is not installed — install it \(apt-get install docker\.io\) or build with the default engine, --engine runc$/
        : /^podboot: --engine docker: `docker info` fails, so docker cannot run build containers: .+ — start the docker daemon \(systemctl start docker\) or use --engine runc$/,
    );
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });
});

describe("podboot build: extensions it cannot add or leave out", () => {
  it.each([
    {
      what: "--with an extension the recipe does not have as optional: the choices",
      flags: ["--with", "kubectl,dockr"],
      line: "podboot: --with dockr: the recipe has no extension dockr — the optional extensions are: kubectl, docker",
    },
    {
      what: "--without an extension every image needs: what can be left out",
      flags: ["--without", "tools,overlay"],
      line: "podboot: --without overlay: overlay carries podboot's own init and configuration — the extensions that can be left out are: system, runtime, network, rootless, tools",
    },
    {
      what: "--with docker on the prebuilt kernel: its fragment needs the compiled kernel",
      flags: ["--with", "docker", "--prebuilt"],
      line: "podboot: docker needs kernel options (xtables in kernel-config/) that podboot adds only to the kernel it compiles — build with the compiled kernel: drop --prebuilt, or pass --kernel build",
    },
  ])("$what: exit 2, one line, nothing written", async ({ flags, line }) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-cli-"));
    const out = path.join(dir, "out");
    const result = await podboot(["build", ...flags, "--out", out]);
    expect(result.exitCode).toBe(2);
    expect(result.all).toBe(line);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });
});
