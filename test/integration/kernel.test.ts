// The from-source kernel's bad inputs through the real machinery: Debian's linux-source package,
// the cached kernel build root and runc. Each failure must name its cause and leave no kernel in
// the cache. (The good path — a compiled kernel booting — is covered by the e2e tests.)
import { execa } from "execa";
import { cp, mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { PodbootError } from "../../builder/errors.ts";
import { sha256File } from "../../builder/fs/hash.ts";
import type { BuildEnv } from "../../builder/pipeline/env.ts";
import { resolveClosures } from "../../builder/pipeline/resolve.ts";
import { planPackages } from "../../builder/plan/build-plan.ts";
import type { BuildRequest } from "../../builder/plan/request.ts";
import { readFragment } from "../../builder/recipe/set.ts";
import { compileKernel } from "../../builder/steps/kernel/compiled.ts";
import { unpackLinuxSource } from "../../builder/steps/kernel/source-tree.ts";
import { fetchPackages } from "../../builder/steps/packages.ts";
import type { IndexRecord } from "../../builder/tools/apt-cache.ts";
import { projectDir, testEnv } from "./context.ts";

const work = await mkdtemp(path.join(os.tmpdir(), "podboot-kernel-"));
let env: BuildEnv;
let request: BuildRequest;
let source: { record: IndexRecord; deb: string };

const kernelEntries = async () =>
  (await readdir(path.join(env.cache.root, "steps", "kernel")).catch(() => [])).sort();

/** The real fragments plus kernel-config/extra.config holding `extra`. */
async function fragmentsWith(names: string[], extra: string) {
  const dir = await mkdtemp(path.join(work, "kernel-config-"));
  await cp(path.join(projectDir, "kernel-config"), dir, { recursive: true });
  await writeFile(path.join(dir, "extra.config"), extra);
  return Promise.all(names.map((name) => readFragment(dir, name, "test")));
}

const compile = (
  fragments: Awaited<ReturnType<typeof fragmentsWith>>,
  record = source.record,
  deb = source.deb,
) => compileKernel(env, record, deb, fragments, request.recipe.kernel.build.depends);

beforeAll(async () => {
  ({ env, request } = await testEnv(work));
  const { closures, kernelPackage } = await resolveClosures(env, request);
  const packages = await fetchPackages(env, planPackages(request, closures, kernelPackage));
  const record = packages.kernelPackage;
  source = { record, deb: packages.debs.get(record.name)! };
}, 15 * 60_000);

describe("the from-source kernel refuses bad fragments", () => {
  it(
    "a typo'd symbol, an unsatisfiable one and one from another kernel version fail the " +
      "build naming each file:line, before compiling; nothing is cached",
    async () => {
      const fragments = await fragmentsWith(
        ["base", "containers", "virt", "extra"],
        [
          "# three mistakes",
          "CONFIG_MEMGC=y",
          "CONFIG_XEN_BLKDEV_FRONTEND=y",
          "CONFIG_MEMCG_SWAP=y",
          "CONFIG_MEMCG_SWAP_ENABLED=y   # podboot: <5.8",
          "",
        ].join("\n"),
      );
      const before = await kernelEntries();
      const failure = await compile(fragments).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(PodbootError);
      const error = failure as PodbootError;
      expect(error.message).toMatch(/lacks 3 setting\(s\) the fragments require/);
      const where = "kernel-config/extra.config";
      expect(error.detail?.split("\n").map((l) => l.replace(/^.*kernel-config\//, ""))).toEqual([
        "extra.config:2: CONFIG_MEMGC does not exist in Linux 6.12",
        "extra.config:3: CONFIG_XEN_BLKDEV_FRONTEND wanted y, got n; unmet: depends on XEN",
        "extra.config:4: CONFIG_MEMCG_SWAP does not exist in Linux 6.12",
      ]);
      expect(error.detail).toContain(where);
      // The line for older kernels (<5.8) was not applied and not reported.
      expect(error.detail).not.toContain("MEMCG_SWAP_ENABLED");
      expect(await kernelEntries()).toEqual(before);
    },
    10 * 60_000,
  );

  it("a fragment line podboot cannot read is named when the fragment is read", async () => {
    await expect(fragmentsWith(["extra"], "CONFIG_OVERLAY_FS=y\nOVERLAY=y\n")).rejects.toThrow(
      /extra\.config:2: cannot read "OVERLAY=y"/,
    );
  });
});

describe("a corrupt kernel source tarball", () => {
  it(
    "is refused with a one-line reason, and no kernel is cached",
    async () => {
      // A linux-source package whose tarball is cut short, as a broken download would leave it.
      const pkg = path.join(work, "pkg");
      await mkdir(path.join(pkg, "DEBIAN"), { recursive: true });
      await mkdir(path.join(pkg, "usr/src"), { recursive: true });
      await writeFile(
        path.join(pkg, "DEBIAN/control"),
        "Package: linux-source-6.12\nVersion: 6.12.0-0test\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: truncated\n",
      );
      const real = path.join(work, "real");
      await mkdir(real);
      await execa("sh", [
        "-c",
        `dpkg-deb --fsys-tarfile "$1" | tar -xO ./usr/src/linux-source-6.12.tar.xz | head -c 2000000 > "$2"`,
        "sh",
        source.deb,
        path.join(pkg, "usr/src/linux-source-6.12.tar.xz"),
      ]);
      const deb = path.join(work, "truncated.deb");
      await execa("dpkg-deb", ["--build", "-Zgzip", pkg, deb]);

      await expect(
        unpackLinuxSource(deb, path.join(work, "unpacked"), env.log.stepLog("t")),
      ).rejects.toThrow(
        /truncated\.deb: the kernel source tarball is corrupt or truncated \(tar: .*/,
      );

      const before = await kernelEntries();
      const record = { ...source.record, version: "6.12.0-0test", sha256: await sha256File(deb) };
      const shipped = await fragmentsWith(request.recipe.kernel.build.fragments, "");
      await expect(compile(shipped, record, deb)).rejects.toThrow(/corrupt or truncated/);
      expect(await kernelEntries()).toEqual(before);
      expect((await readFile(deb)).length).toBeGreaterThan(0);
    },
    10 * 60_000,
  );
});
