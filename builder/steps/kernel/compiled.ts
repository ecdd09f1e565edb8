// The from-source kernel. Debian's linux-source tarball (its package verified against the signed
// index) is unpacked, configured with `make tinyconfig` + the recipe's kernel-config/ fragments
// (only the lines that apply to this kernel version) + `make olddefconfig`, checked against the
// fragments (fails naming each file:line, wanted, got and the unmet Kconfig dependencies), then
// `make bzImage` runs — configure and compile inside a build container with no network. Cached
// by a key over the source package's sha256, the fragments' text and the build root: an
// unchanged kernel is never rebuilt, and a failed check or compile caches nothing.
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PodbootError } from "../../errors.ts";
import { readKconfigIndex, requireKernelConfig } from "../../kernel/check.ts";
import { appliesTo, parseFragment, renderFragment } from "../../kernel/config.ts";
import type { BuildEnv } from "../../pipeline/env.ts";
import type { Fragment } from "../../recipe/set.ts";
import { fileRef, label, ref, type Ref } from "../../step/inputs.ts";
import { runStep, type StepDefinition, type StepIO } from "../../step/step.ts";
import type { IndexRecord } from "../../tools/apt-cache.ts";
import { engineKey, type Engine } from "../../tools/engine.ts";
import { buildRoot } from "../build-root.ts";
import { readKernelFiles, type BuiltKernel, type KernelFiles } from "./files.ts";
import { kernelTreeVersion, unpackLinuxSource } from "./source-tree.ts";

/** The date the kernel stamps into its version string: fixed, like every compiled component. */
const BUILD_TIMESTAMP = "2000-01-01 00:00:00 UTC";
const PROGRESS_EVERY_MS = 30_000;

type KernelInputs = {
  source: Ref<string>;
  base: "tinyconfig";
  /** [name, text] of each fragment, in order. */
  fragments: [string, string][];
  root: Ref<string>;
  timestamp: string;
  engine: Ref<Engine>;
  package: Ref<string>;
};

type KernelResult = KernelFiles & { seconds: number };

export const kernelCompileStep: StepDefinition<KernelInputs, KernelResult> = {
  kind: "kernel",
  version: 1,
  task: true,
  async produce(inputs, dir, io) {
    const work = path.join(dir, "work");
    const src = path.join(work, "src");
    io.progress(`unpacking ${inputs.package.value}`);
    await unpackLinuxSource(inputs.source.value, src, io.log);
    const version = await kernelTreeVersion(src);
    const settings = inputs.fragments.flatMap(([name, text]) =>
      parseFragment(text, `kernel-config/${name}.config`),
    );
    // Only the lines that apply to this version reach the .config.
    await writeFile(
      path.join(work, "podboot.config"),
      renderFragment(settings.filter((s) => appliesTo(s, version))),
    );
    const names = inputs.fragments.map(([name]) => name).join(", ");
    io.progress(`configuring Linux ${version}: tinyconfig + ${names}`);
    await inContainer(inputs, { dir, work }, io, "kernel-config", [
      "make -s tinyconfig",
      // Later lines win: the fragments override tinyconfig's choices.
      "cat /build/podboot.config >> .config",
      "make -s olddefconfig",
    ]);
    const configText = await readFile(path.join(src, ".config"), "utf8");
    checkConfigured(configText, settings, names, await readKconfigIndex(src));
    const started = Date.now();
    const objects = await compileBzImage(inputs, { dir, work }, io, started);
    await copyFile(path.join(src, "arch/x86/boot/bzImage"), path.join(dir, "vmlinuz"));
    await writeFile(path.join(dir, "config"), configText);
    await copyFile(path.join(work, "release"), path.join(dir, "release"));
    await mkdir(path.join(dir, "modules"));
    await writeFile(path.join(dir, "modules", "load-order"), "");
    await writeFile(
      path.join(dir, "build.json"),
      JSON.stringify({ seconds: Math.round((Date.now() - started) / 1000), objects }) + "\n",
    );
    await rm(work, { recursive: true, force: true });
  },
  async read(dir) {
    const built = JSON.parse(await readFile(path.join(dir, "build.json"), "utf8"));
    return { ...(await readKernelFiles(dir)), seconds: built.seconds as number };
  },
  summary: (result, inputs) => `Linux ${result.release} from ${inputs.package.value}`,
};

function checkConfigured(
  configText: string,
  settings: ReturnType<typeof parseFragment>,
  names: string,
  index: Awaited<ReturnType<typeof readKconfigIndex>>,
): void {
  requireKernelConfig(settings, configText, `the kernel configured from ${names}`, {
    index,
    fix: "fix the fragment lines listed above (kernel-config/), or enable what they depend on",
  });
  if (/^CONFIG_MODULES=y$/m.test(configText)) {
    throw new PodbootError(
      "the configured kernel has CONFIG_MODULES=y, but podboot builds everything into the kernel",
      "ask for =y instead of =m in kernel-config/ and keep `# CONFIG_MODULES is not set` in base.config",
    );
  }
}

/** `make bzImage`, reporting the number of objects every 30 s; returns that number. */
async function compileBzImage(
  inputs: KernelInputs,
  dirs: { dir: string; work: string },
  io: StepIO,
  started: number,
): Promise<number> {
  let objects = 0;
  let lastReport = Date.now();
  const progress = (line: string) => {
    if (!/^\s+(CC|AS|LD|AR)\s/.test(line)) return;
    objects++;
    if (Date.now() - lastReport < PROGRESS_EVERY_MS) return;
    lastReport = Date.now();
    const elapsed = Math.round((Date.now() - started) / 1000);
    const clock = `${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, "0")}`;
    io.progress(`compiling: ${objects} objects, ${clock} elapsed`);
  };
  io.progress(`compiling bzImage with ${os.availableParallelism()} jobs (log: ${io.log.path})`);
  // The release string (with CONFIG_LOCALVERSION) exists once the build has synced the config.
  await inContainer(
    inputs,
    dirs,
    io,
    "kernel-make",
    ['make -j"$JOBS" bzImage', "cp include/config/kernel.release /build/release"],
    progress,
  );
  return objects;
}

function inContainer(
  inputs: KernelInputs,
  dirs: { dir: string; work: string },
  io: StepIO,
  hostname: string,
  script: string[],
  onLine?: (line: string) => void,
): Promise<void> {
  return inputs.engine.value.run(
    {
      rootfs: inputs.root.value,
      args: ["/bin/sh", "-c", ["set -eu", "cd /build/src", ...script].join("\n")],
      env: {
        PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        HOME: "/build",
        LC_ALL: "C.UTF-8",
        TZ: "UTC",
        JOBS: String(os.availableParallelism()),
        KBUILD_BUILD_TIMESTAMP: inputs.timestamp,
        KBUILD_BUILD_USER: "podboot",
        KBUILD_BUILD_HOST: "podboot",
        KBUILD_BUILD_VERSION: "1",
      },
      cwd: "/",
      hostname,
      binds: [{ source: dirs.work, destination: "/build", readonly: false }],
    },
    {
      scratch: dirs.dir,
      rootKey: inputs.root.key as string,
      log: io.log,
      fix: `read ${io.log.path}; the kernel fragments are in kernel-config/`,
      onLine,
    },
  );
}

export async function compileKernel(
  env: BuildEnv,
  record: IndexRecord,
  deb: string,
  fragments: Fragment[],
  depends: string[],
): Promise<BuiltKernel> {
  const root = await buildRoot(env, env.apt.suite, depends);
  const what = `${record.name} ${record.version}`;
  env.log.emit({ type: "task", task: "kernel", state: "queued", detail: what });
  const run = await runStep(env, kernelCompileStep, {
    source: fileRef(deb, record.sha256),
    base: "tinyconfig",
    fragments: fragments.map((f): [string, string] => [f.name, f.text]),
    root: ref(root.rootfs, root.key),
    timestamp: BUILD_TIMESTAMP,
    engine: ref(env.engine, engineKey(env.engine)),
    package: label(what),
  });
  const names = fragments.map((f) => f.name);
  const toolchain = root.toolchain.map((p) => `${p.name} ${p.version}`).join(", ");
  const { seconds, ...files } = run.result;
  return {
    origin: "build",
    ...files,
    cacheHit: run.cacheHit,
    fragments: names,
    compileSeconds: seconds,
    provenance:
      `compiled from source: ${what} (verified against the signed archive index), make ` +
      `tinyconfig + kernel-config/{${names.join(",")}}.config, bzImage built in a ` +
      `${env.engine.name} build container (Debian ${root.suite}: ${toolchain})`,
  };
}
