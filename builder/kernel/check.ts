// Loading fragments from kernel-config/ and checking a finished .config against them; shared by
// the build (after olddefconfig, or on a prebuilt kernel's config) and `podboot kernel check`.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { PodbootError } from "../errors.ts";
import {
  indexKconfig,
  checkKernelConfig,
  describeMismatches,
  parseFragment,
  parseKernelConfig,
  type FragmentSetting,
  type KconfigIndex,
} from "./config.ts";

export async function loadFragments(dir: string, names: string[]): Promise<FragmentSetting[]> {
  const settings: FragmentSetting[] = [];
  for (const name of names) {
    const file = path.join(dir, `${name}.config`);
    const text = await readFile(file, "utf8").catch(() => {
      throw new PodbootError(
        `no kernel config fragment ${file}`,
        `add it, or remove ${name} from the recipe's kernel fragments (kernel.build.fragments or kernel.debian.fragments)`,
      );
    });
    settings.push(...parseFragment(text, path.relative(process.cwd(), file) || file));
  }
  return settings;
}

/** Throws one error (details in its log tail) when the config lacks what the fragments ask. */
export function requireKernelConfig(
  settings: FragmentSetting[],
  configText: string,
  what: string,
  options: { index?: KconfigIndex; moduleSatisfiesBuiltin?: boolean; fix: string },
): { version: string } {
  const config = parseKernelConfig(configText);
  if (!config.version) {
    throw new PodbootError(
      `${what}: no "Linux/… Kernel Configuration" header, so its version is unknown`,
      "pass a .config written by the kernel's make",
    );
  }
  const mismatches = checkKernelConfig(settings, { ...config, version: config.version }, options);
  if (mismatches.length > 0) {
    const details = describeMismatches(mismatches, config.version);
    throw new PodbootError(
      `${what} (Linux ${config.version}) lacks ${mismatches.length} setting(s) the fragments require: ${details.split("\n")[0]}${mismatches.length > 1 ? " …" : ""}`,
      options.fix,
      { exitCode: 1, detail: details },
    );
  }
  return { version: config.version };
}

/** Reads every Kconfig file of a kernel source tree into an index. */
export async function readKconfigIndex(sourceDir: string): Promise<KconfigIndex> {
  const files: { path: string; text: string }[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && !entry.name.startsWith(".")) await walk(full);
      else if (entry.isFile() && entry.name.startsWith("Kconfig")) {
        files.push({ path: full, text: await readFile(full, "utf8") });
      }
    }
  };
  await walk(sourceDir);
  if (files.length === 0) {
    throw new PodbootError(
      `${sourceDir} has no Kconfig files`,
      "pass the top directory of a kernel source tree with --source",
    );
  }
  return indexKconfig(files);
}
