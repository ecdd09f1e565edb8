// The kernel: compiled from source (kernel-build.ts) or, on the fast path, Debian's prebuilt image
// package, from which vmlinuz and only the modules the recipe names (plus their dependencies) are
// taken, decompressed so busybox insmod can load them.
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { cacheKey } from "../cache/store.ts";
import { PodbootError } from "../errors.ts";
import { loadFragments, requireKernelConfig } from "../kernel/check.ts";
import {
  moduleLoadOrder,
  modinfoDepends,
  normalizeModuleName,
  type ModuleInfo,
} from "../plan/modules.ts";
import { decompressInPlace } from "../tools/compress.ts";
import { extractDeb } from "../tools/dpkg-deb.ts";
import type { BuildContext } from "./context.ts";
import type { IndexRecord } from "../tools/apt.ts";
import { compileKernel, kernelFiles } from "./kernel-build.ts";
import type { ResolvedPackages } from "./packages.ts";

export interface BuiltKernel {
  origin: "build" | "debian";
  release: string;
  vmlinuz: string;
  /** Size of vmlinuz in bytes. */
  size: number;
  /** Directory with NAME.ko files and `load-order`. */
  modulesDir: string;
  modules: string[];
  config: string;
  cacheHit: boolean;
  /** The fragments the kernel was checked against. */
  fragments: string[];
  /** Where the kernel came from, for the manifest. */
  provenance: string;
  /** How long the from-source kernel took to compile (when it was compiled). */
  compileSeconds?: number;
}

const FORMAT = 2;

export async function prepareKernel(
  ctx: BuildContext,
  packages: ResolvedPackages,
): Promise<BuiltKernel> {
  const record = packages.kernelPackage;
  const deb = packages.debs.get(record.name)!;
  return ctx.recipe.kernel.source === "build"
    ? compileKernel(ctx, record, deb)
    : prebuiltKernel(ctx, record, deb);
}

async function prebuiltKernel(
  ctx: BuildContext,
  record: IndexRecord,
  deb: string,
): Promise<BuiltKernel> {
  const spec = ctx.recipe.kernel.debian;
  const key = cacheKey({ format: FORMAT, deb: record.sha256, modules: spec.modules });
  const log = ctx.log.stepLog("kernel");
  try {
    const { dir, hit } = await ctx.cache.getOrCreate("kernel", key, async (tmp) => {
      const unpacked = path.join(tmp, "unpacked");
      await extractDeb(deb, unpacked, log);
      const boot = path.join(unpacked, "boot");
      const vmlinuz = (await readdir(boot)).find((f) => f.startsWith("vmlinuz-"));
      if (!vmlinuz)
        throw new PodbootError(
          `${record.name} has no /boot/vmlinuz`,
          "pick a linux-image package in kernel.debian.package",
        );
      const release = vmlinuz.slice("vmlinuz-".length);
      const moduleRoot = path.join(unpacked, "usr/lib/modules", release);
      const files = new Map<string, string>();
      const walk = async (dir: string) => {
        for (const entry of await readdir(dir, { withFileTypes: true })) {
          const full = path.join(dir, entry.name);
          if (entry.isDirectory()) await walk(full);
          else if (/\.ko(\.xz|\.zst)?$/.test(entry.name))
            files.set(normalizeModuleName(entry.name.replace(/\.ko(\.xz|\.zst)?$/, "")), full);
        }
      };
      await walk(path.join(moduleRoot, "kernel"));
      const builtin = new Set(
        (await readFile(path.join(moduleRoot, "modules.builtin"), "utf8"))
          .split("\n")
          .filter(Boolean)
          .map((line) => normalizeModuleName(path.basename(line).replace(/\.ko$/, ""))),
      );
      // Decompress lazily: only modules reached from the recipe's list are read.
      const modulesDir = path.join(tmp, "modules");
      await mkdir(modulesDir);
      const known = new Map<string, ModuleInfo>();
      const load = async (name: string): Promise<ModuleInfo | undefined> => {
        const source = files.get(name);
        if (!source) return undefined;
        const target = path.join(
          modulesDir,
          `${name}.ko${path.extname(source) === ".ko" ? "" : path.extname(source)}`,
        );
        await copyFile(source, target);
        const plain = await decompressInPlace(target, log);
        const info = { name, depends: modinfoDepends(await readFile(plain)) };
        known.set(name, info);
        return info;
      };
      const softNames = new Set<string>();
      const pending = spec.modules.map(normalizeModuleName);
      while (pending.length > 0) {
        const name = pending.pop()!;
        if (known.has(name) || builtin.has(name)) continue;
        const info = await load(name);
        if (info) pending.push(...info.depends.map(normalizeModuleName));
        else softNames.add(name);
      }
      let order: string[];
      try {
        order = moduleLoadOrder(spec.modules, known, builtin, softNames);
      } catch (error) {
        throw new PodbootError(
          `kernel ${release}: ${(error as Error).message}`,
          "remove it from kernel.debian.modules or pick another kernel",
        );
      }
      await writeFile(path.join(modulesDir, "load-order"), order.map((m) => `${m}\n`).join(""));
      await copyFile(path.join(boot, vmlinuz), path.join(tmp, "vmlinuz"));
      await copyFile(path.join(boot, `config-${release}`), path.join(tmp, "config"));
      await writeFile(path.join(tmp, "release"), release);
      await rm(unpacked, { recursive: true });
    });
    const release = await readFile(path.join(dir, "release"), "utf8");
    // The prebuilt kernel must have what the fragments ask for (a module counts: it is loaded).
    requireKernelConfig(
      await loadFragments(path.join(ctx.projectDir, "kernel-config"), spec.fragments),
      await readFile(path.join(dir, "config"), "utf8"),
      `${record.name} ${record.version}`,
      {
        moduleSatisfiesBuiltin: true,
        fix: "pick a kernel package that has them (kernel.debian.package), or drop the fragment from kernel.debian.fragments",
      },
    );
    const modules = (await readFile(path.join(dir, "modules", "load-order"), "utf8"))
      .split("\n")
      .filter(Boolean);
    ctx.log.step(
      "kernel",
      `Debian ${release} with ${modules.length} modules${hit ? " (cached)" : ""}`,
    );
    return {
      origin: "debian",
      release,
      ...(await kernelFiles(dir)),
      modules,
      cacheHit: hit,
      fragments: spec.fragments,
      provenance: `Debian binary package from ${ctx.apt.suite} (${record.name} ${record.version}), verified against the signed archive index`,
    };
  } finally {
    await log.close();
  }
}
