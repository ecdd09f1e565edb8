// What a kernel step leaves in its cache entry, from source or Debian's: vmlinuz, the config, the
// release string and modules/ (NAME.ko files and their load-order; empty for the compiled kernel,
// which has everything built in).
import { readFile, stat } from "node:fs/promises";
import path from "node:path";

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

export type KernelFiles = Pick<
  BuiltKernel,
  "release" | "vmlinuz" | "size" | "modulesDir" | "modules" | "config"
>;

export async function readKernelFiles(dir: string): Promise<KernelFiles> {
  const vmlinuz = path.join(dir, "vmlinuz");
  const modulesDir = path.join(dir, "modules");
  return {
    release: (await readFile(path.join(dir, "release"), "utf8")).trim(),
    vmlinuz,
    size: (await stat(vmlinuz)).size,
    modulesDir,
    modules: (await readFile(path.join(modulesDir, "load-order"), "utf8"))
      .split("\n")
      .filter(Boolean),
    config: path.join(dir, "config"),
  };
}
