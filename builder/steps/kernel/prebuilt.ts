// The fast path's kernel: Debian's prebuilt image package, from which vmlinuz and only the
// modules the recipe names (plus what they depend on) are taken, decompressed so busybox insmod
// can load them. Its config must still have what the recipe's fragments ask for.
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { PodbootError } from "../../errors.ts";
import { walkTree } from "../../fs/tree.ts";
import { requireKernelConfig } from "../../kernel/check.ts";
import type { BuildEnv } from "../../pipeline/env.ts";
import {
  moduleLoadOrder,
  modinfoDepends,
  normalizeModuleName,
  type ModuleInfo,
} from "../../plan/modules.ts";
import type { BuildRequest } from "../../plan/request.ts";
import type { StepLog } from "../../report/events.ts";
import { fileRef, label, type Ref } from "../../step/inputs.ts";
import { runStep, type StepDefinition } from "../../step/step.ts";
import type { IndexRecord } from "../../tools/apt-cache.ts";
import { decompressInPlace } from "../../tools/compress.ts";
import { extractDeb } from "../../tools/dpkg-deb.ts";
import { readKernelFiles, type BuiltKernel, type KernelFiles } from "./files.ts";

type PrebuiltInputs = {
  deb: Ref<string>;
  modules: string[];
  package: Ref<string>;
};

const MODULE_FILE = /\.ko(\.xz|\.zst)?$/;

export const prebuiltKernelStep: StepDefinition<PrebuiltInputs, KernelFiles> = {
  kind: "kernel",
  version: 2,
  async produce(inputs, dir, io) {
    const unpacked = path.join(dir, "unpacked");
    await extractDeb(inputs.deb.value, unpacked, io.log);
    const boot = path.join(unpacked, "boot");
    const vmlinuz = (await readdir(boot)).find((f) => f.startsWith("vmlinuz-"));
    if (!vmlinuz) {
      throw new PodbootError(
        `${inputs.package.value} has no /boot/vmlinuz`,
        "pick a linux-image package in kernel.debian.package",
      );
    }
    const release = vmlinuz.slice("vmlinuz-".length);
    const moduleRoot = path.join(unpacked, "usr/lib/modules", release);
    const order = await pickModules(moduleRoot, inputs.modules, path.join(dir, "modules"), io.log);
    await writeFile(path.join(dir, "modules", "load-order"), order.map((m) => `${m}\n`).join(""));
    await copyFile(path.join(boot, vmlinuz), path.join(dir, "vmlinuz"));
    await copyFile(path.join(boot, `config-${release}`), path.join(dir, "config"));
    await writeFile(path.join(dir, "release"), release);
    await rm(unpacked, { recursive: true });
  },
  read: (dir) => readKernelFiles(dir),
  summary: (result) => `Debian ${result.release} with ${result.modules.length} modules`,
};

/**
 * Copies the wanted modules and everything they depend on (per modinfo) into `into`,
 * decompressed, and returns their load order. Only modules reached from the list are read.
 */
async function pickModules(
  moduleRoot: string,
  wanted: string[],
  into: string,
  log: StepLog,
): Promise<string[]> {
  const files = new Map<string, string>();
  for (const entry of await walkTree(path.join(moduleRoot, "kernel"))) {
    if (entry.type !== "file" || !MODULE_FILE.test(entry.path)) continue;
    const name = normalizeModuleName(path.basename(entry.path).replace(MODULE_FILE, ""));
    files.set(name, path.join(moduleRoot, "kernel", entry.path));
  }
  const builtin = new Set(
    (await readFile(path.join(moduleRoot, "modules.builtin"), "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((line) => normalizeModuleName(path.basename(line).replace(/\.ko$/, ""))),
  );
  await mkdir(into);
  const known = new Map<string, ModuleInfo>();
  const softNames = new Set<string>();
  const pending = wanted.map(normalizeModuleName);
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (known.has(name) || builtin.has(name)) continue;
    const source = files.get(name);
    if (!source) {
      softNames.add(name);
      continue;
    }
    const suffix = path.basename(source).slice(path.basename(source).indexOf(".ko"));
    const target = path.join(into, `${name}${suffix}`);
    await copyFile(source, target);
    const plain = await decompressInPlace(target, log);
    const info = { name, depends: modinfoDepends(await readFile(plain)) };
    known.set(name, info);
    pending.push(...info.depends.map(normalizeModuleName));
  }
  try {
    return moduleLoadOrder(wanted, known, builtin, softNames);
  } catch (error) {
    throw new PodbootError(
      `kernel ${path.basename(moduleRoot)}: ${(error as Error).message}`,
      "remove it from kernel.debian.modules or pick another kernel",
    );
  }
}

export async function prebuiltKernel(
  env: BuildEnv,
  record: IndexRecord,
  deb: string,
  request: Pick<BuildRequest, "kernelFragments" | "codecSettings">,
  modules: string[],
): Promise<BuiltKernel> {
  const fragments = request.kernelFragments;
  const run = await runStep(env, prebuiltKernelStep, {
    deb: fileRef(deb, record.sha256),
    modules,
    package: label(record.name),
  });
  // The prebuilt kernel must have what the fragments and the recipe's codecs ask for (a module
  // counts: it is loaded).
  requireKernelConfig(
    [...fragments.flatMap((f) => f.settings), ...request.codecSettings],
    await readFile(run.result.config, "utf8"),
    `${record.name} ${record.version}`,
    {
      moduleSatisfiesBuiltin: true,
      fix: "pick a kernel package that has them (kernel.debian.package), or drop the fragment from kernel.debian.fragments",
    },
  );
  return {
    origin: "debian",
    ...run.result,
    cacheHit: run.cacheHit,
    fragments: fragments.map((f) => f.name),
    provenance: `Debian binary package from ${env.apt.suite} (${record.name} ${record.version}), verified against the signed archive index`,
  };
}
