// The from-source kernel. Debian's linux-source tarball (its package verified against the signed
// index) is unpacked, configured with `make tinyconfig` + the recipe's kernel-config/ fragments
// (only the lines that apply to this kernel version) + `make olddefconfig`, checked against the
// fragments (fails naming each file:line, wanted, got and the unmet Kconfig dependencies), then
// `make bzImage` runs — configure and compile inside a runc build container with no network.
// Cached by a key over the source package's sha256, the fragments' text and the build root (the
// toolchain): an unchanged kernel is never rebuilt, and a failed check or compile caches nothing.
import { copyFile, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { cacheKey } from "../cache/store.ts";
import { PodbootError } from "../errors.ts";
import { loadFragments, readKconfigIndex, requireKernelConfig } from "../kernel/check.ts";
import { appliesTo, renderFragment } from "../kernel/config.ts";
import type { IndexRecord } from "../tools/apt.ts";
import type { StepLog } from "../log.ts";
import { debDataToTar } from "../tools/dpkg-deb.ts";
import { engineKey } from "../tools/engine.ts";
import { lastLines } from "../tools/run.ts";
import { buildRoot } from "./build-root.ts";
import type { BuildContext } from "./context.ts";
import type { BuiltKernel } from "./kernel.ts";

const FORMAT = 1;
/** The date the kernel stamps into its version string: fixed, like every compiled component. */
const BUILD_TIMESTAMP = "2000-01-01 00:00:00 UTC";
const PROGRESS_EVERY_MS = 30_000;

/** Unpacks the kernel tree of a linux-source .deb (a tarball inside the package) into dir. */
export async function unpackLinuxSource(deb: string, dir: string, log: StepLog): Promise<void> {
  await mkdir(dir, { recursive: true });
  log.write(`$ dpkg-deb --fsys-tarfile ${deb} | tar -xO usr/src/linux-source-*.tar.xz | tar -xJ\n`);
  // The streams are ~150 MB: only stderr is kept in memory (for the error message).
  const result = await debDataToTar(
    deb,
    ["-xO", "--wildcards", "./usr/src/linux-source-*.tar.xz"],
    { reject: false, streamOutput: true },
  ).pipe("tar", ["-xJ", "-C", dir, "--strip-components=1"], {
    reject: false,
    buffer: { stdout: false, stderr: true },
  });
  const failed = [result, ...result.pipedFrom].find((step) => step.exitCode !== 0);
  if (failed) {
    const why = lastLines(String(failed.stderr ?? ""), 3)
      .replace(/\s+/g, " ")
      .trim();
    log.write(`${why}\n`);
    throw new PodbootError(
      `${path.basename(deb)}: the kernel source tarball is corrupt or truncated (${failed.command.split(" ")[0]}: ${why || `exit ${failed.exitCode}`})`,
      "delete the cached package (podboot cache prune --all) and build again, or try another mirror with --mirror",
      { exitCode: 1 },
    );
  }
}

/** The files of a kernel cache entry (from source or Debian's): vmlinuz, modules/ and config. */
export async function kernelFiles(
  dir: string,
): Promise<{ vmlinuz: string; size: number; modulesDir: string; config: string }> {
  const vmlinuz = path.join(dir, "vmlinuz");
  return {
    vmlinuz,
    size: (await stat(vmlinuz)).size,
    modulesDir: path.join(dir, "modules"),
    config: path.join(dir, "config"),
  };
}

/** VERSION.PATCHLEVEL.SUBLEVEL from the top Makefile of a kernel tree. */
export async function kernelTreeVersion(dir: string): Promise<string> {
  const makefile = await readFile(path.join(dir, "Makefile"), "utf8").catch(() => "");
  const field = (name: string) =>
    new RegExp(`^${name}\\s*=\\s*([0-9]+)\\s*$`, "m").exec(makefile)?.[1];
  const [version, patchlevel, sublevel] = [
    field("VERSION"),
    field("PATCHLEVEL"),
    field("SUBLEVEL"),
  ];
  if (!version || !patchlevel) {
    throw new PodbootError(
      `${dir} is not a kernel source tree (no VERSION/PATCHLEVEL in its Makefile)`,
      "set kernel.build.package to a linux-source package",
    );
  }
  return `${version}.${patchlevel}.${sublevel ?? 0}`;
}

export async function compileKernel(
  ctx: BuildContext,
  record: IndexRecord,
  deb: string,
): Promise<BuiltKernel> {
  const spec = ctx.recipe.kernel.build;
  const fragmentsDir = path.join(ctx.projectDir, "kernel-config");
  // Read (and syntax-check) the fragments before anything slow happens.
  const settings = await loadFragments(fragmentsDir, spec.fragments);
  const fragmentTexts = await Promise.all(
    spec.fragments.map(async (name) => [
      name,
      await readFile(path.join(fragmentsDir, `${name}.config`), "utf8"),
    ]),
  );
  const root = await buildRoot(ctx, ctx.apt.suite, spec.depends);
  const key = cacheKey({
    format: FORMAT,
    source: record.sha256,
    base: "tinyconfig",
    fragments: fragmentTexts,
    root: root.key,
    timestamp: BUILD_TIMESTAMP,
    engine: engineKey(ctx.engine),
  });
  const log = ctx.log.stepLog("kernel");
  const started = Date.now();
  try {
    ctx.log.task("kernel", { state: "queued", detail: `${record.name} ${record.version}` });
    const { dir, hit } = await ctx.cache.getOrCreate("kernel", key, async (tmp) => {
      ctx.log.task("kernel", { state: "running" });
      const work = path.join(tmp, "work");
      const src = path.join(work, "src");
      ctx.log.step("kernel", `unpacking ${record.name} ${record.version}`);
      await unpackLinuxSource(deb, src, log);
      const version = await kernelTreeVersion(src);
      // Only the lines that apply to this version reach the .config.
      await writeFile(
        path.join(work, "podboot.config"),
        renderFragment(settings.filter((s) => appliesTo(s, version))),
      );
      const container = async (hostname: string, script: string, onLine?: (l: string) => void) =>
        ctx.engine.run(
          {
            rootfs: root.rootfs,
            args: ["/bin/sh", "-c", `set -eu\ncd /build/src\n${script}`],
            env: {
              PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
              HOME: "/build",
              LC_ALL: "C.UTF-8",
              TZ: "UTC",
              JOBS: String(os.availableParallelism()),
              KBUILD_BUILD_TIMESTAMP: BUILD_TIMESTAMP,
              KBUILD_BUILD_USER: "podboot",
              KBUILD_BUILD_HOST: "podboot",
              KBUILD_BUILD_VERSION: "1",
            },
            cwd: "/",
            hostname,
            binds: [{ source: work, destination: "/build", readonly: false }],
          },
          {
            scratch: tmp,
            rootKey: root.key,
            log,
            fix: `read ${log.path}; the kernel fragments are in kernel-config/`,
            onLine,
          },
        );

      ctx.log.step(
        "kernel",
        `configuring Linux ${version}: tinyconfig + ${spec.fragments.join(", ")}`,
      );
      await container(
        "kernel-config",
        [
          "make -s tinyconfig",
          // Later lines win: the fragments override tinyconfig's choices.
          "cat /build/podboot.config >> .config",
          "make -s olddefconfig",
        ].join("\n"),
      );
      const configText = await readFile(path.join(src, ".config"), "utf8");
      requireKernelConfig(
        settings,
        configText,
        `the kernel configured from ${spec.fragments.join(", ")}`,
        {
          index: await readKconfigIndex(src),
          fix: "fix the fragment lines listed above (kernel-config/), or enable what they depend on",
        },
      );
      if (/^CONFIG_MODULES=y$/m.test(configText)) {
        throw new PodbootError(
          "the configured kernel has CONFIG_MODULES=y, but podboot builds everything into the kernel",
          "ask for =y instead of =m in kernel-config/ and keep `# CONFIG_MODULES is not set` in base.config",
        );
      }

      let objects = 0;
      let lastReport = Date.now();
      const progress = (line: string) => {
        if (!/^\s+(CC|AS|LD|AR)\s/.test(line)) return;
        objects++;
        if (Date.now() - lastReport < PROGRESS_EVERY_MS) return;
        lastReport = Date.now();
        const elapsed = Math.round((Date.now() - started) / 1000);
        ctx.log.step(
          "kernel",
          `compiling: ${objects} objects, ${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, "0")} elapsed`,
        );
      };
      ctx.log.step(
        "kernel",
        `compiling bzImage with ${os.availableParallelism()} jobs (log: ${log.path})`,
      );
      // The release string (with CONFIG_LOCALVERSION) exists once the build has synced the config.
      await container(
        "kernel-make",
        'make -j"$JOBS" bzImage\ncp include/config/kernel.release /build/release',
        progress,
      );

      await copyFile(path.join(src, "arch/x86/boot/bzImage"), path.join(tmp, "vmlinuz"));
      await writeFile(path.join(tmp, "config"), configText);
      await copyFile(path.join(work, "release"), path.join(tmp, "release"));
      await mkdir(path.join(tmp, "modules"));
      await writeFile(path.join(tmp, "modules", "load-order"), "");
      await writeFile(
        path.join(tmp, "build.json"),
        JSON.stringify({ seconds: Math.round((Date.now() - started) / 1000), objects }) + "\n",
      );
      await rm(work, { recursive: true, force: true });
    });
    const release = (await readFile(path.join(dir, "release"), "utf8")).trim();
    const built = JSON.parse(await readFile(path.join(dir, "build.json"), "utf8")) as {
      seconds: number;
    };
    const toolchain = root.toolchain.map((p) => `${p.name} ${p.version}`).join(", ");
    ctx.log.task("kernel", { state: hit ? "cached" : "done" });
    ctx.log.step(
      "kernel",
      `Linux ${release} from ${record.name} ${record.version}${hit ? " (cached)" : ` compiled in ${built.seconds} s`}`,
    );
    return {
      origin: "build",
      release,
      ...(await kernelFiles(dir)),
      modules: [],
      cacheHit: hit,
      fragments: spec.fragments,
      compileSeconds: built.seconds,
      provenance:
        `compiled from source: ${record.name} ${record.version} (verified against the signed ` +
        `archive index), make tinyconfig + kernel-config/{${spec.fragments.join(",")}}.config, ` +
        `bzImage built in a ${ctx.engine.name} build container (Debian ${root.suite}: ${toolchain})`,
    };
  } catch (error) {
    ctx.log.task("kernel", { state: "failed" });
    throw error;
  } finally {
    await log.close();
  }
}
