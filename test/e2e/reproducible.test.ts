// Reproducibility: the same commit and recipe, built twice from empty step caches in two
// different directories, gives byte-identical ISO, initramfs, extensions and SBOM. (The fast path
// is built: compiling the kernel twice would double CI time. The verified .deb pool is shared, as
// downloaded inputs, not outputs.) On a mismatch the failure shows `podboot diff`'s explanation.
import { execa } from "execa";
import { cp, mkdtemp, readFile, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, expect, it } from "vitest";
import { defaultCacheDir } from "../../builder/cache/store.ts";
import { paced, projectDir } from "./build.ts";

interface Build {
  out: string;
  manifest: {
    iso: { sha256: string };
    extensions: { name: string; sha256: string }[];
  };
}

const builds: Build[] = [];

async function buildIn(work: string, name: string): Promise<Build> {
  const checkout = path.join(work, `checkout-${name}`);
  await execa("git", ["clone", "--quiet", projectDir, checkout]);
  await symlink(path.join(projectDir, "node_modules"), path.join(checkout, "node_modules"));
  const cache = path.join(work, `cache-${name}`);
  await cp(path.join(defaultCacheDir(), "debs"), path.join(cache, "debs"), { recursive: true });
  const out = path.join(work, `out-${name}`);
  const build = await execa(
    "node",
    ["bin/podboot.js", "build", "--prebuilt", "--quiet", "--cache", cache, "--out", out],
    { cwd: checkout, reject: false, all: true },
  );
  if (build.exitCode !== 0) throw new Error(`build ${name} failed:\n${build.all?.slice(-3000)}`);
  return { out, manifest: JSON.parse(await readFile(path.join(out, "manifest.json"), "utf8")) };
}

async function sha256(file: string): Promise<string> {
  const { stdout } = await execa("sha256sum", [file]);
  return stdout.split(" ")[0]!;
}

async function explain(file: string): Promise<string> {
  const diff = await execa(
    "node",
    ["bin/podboot.js", "diff", path.join(builds[0]!.out, file), path.join(builds[1]!.out, file)],
    { cwd: projectDir, reject: false, all: true },
  );
  return diff.all ?? "";
}

beforeAll(
  async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), "podboot-repro-"));
    builds.push(await buildIn(work, "a"));
    builds.push(await buildIn(work, "b"));
  },
  paced(40 * 60_000),
);

it.each(["podboot.iso", "initrd.img", "podboot.cdx.json", "catalog.md"])(
  "%s is byte-identical",
  async (file) => {
    const [a, b] = [
      await sha256(path.join(builds[0]!.out, file)),
      await sha256(path.join(builds[1]!.out, file)),
    ];
    if (a !== b) expect.fail(`${file} differs:\n${await explain(file)}`);
  },
  paced(120_000),
);

it("every extension is byte-identical", () => {
  const [a, b] = builds.map((build) =>
    build.manifest.extensions.map((e) => `${e.name} ${e.sha256}`),
  );
  expect(b).toEqual(a);
});
