// What the SBOM and the catalog need from each shipped .deb beyond the archive index: the licenses
// its machine-readable copyright file names, and the files it installs under /etc. Read once per
// set of packages and cached.
import { lstat, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import { PodbootError } from "../errors.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import { ref, type Ref } from "../step/inputs.ts";
import { runStep, type StepDefinition } from "../step/step.ts";
import { debDataScan } from "../tools/dpkg-deb.ts";
import type { ResolvedPackages } from "./packages.ts";

export interface PackageInventory {
  /** License expressions of the copyright file's `License:` fields, e.g. "GPL-2+". */
  licenses: string[];
  /** Files under /etc (paths without a leading slash). */
  etc: string[];
}

/** The distinct `License:` values of a DEP-5 copyright file; none when it is not machine-readable. */
export function copyrightLicenses(text: string): string[] {
  if (!/^Format:\s*\S+/m.test(text)) return [];
  const found = [...text.matchAll(/^License:[ \t]*(\S.*)$/gm)].map((m) => m[1]!.trim());
  return [...new Set(found)].sort();
}

/**
 * A package's inventory from what it unpacks: `files` as the .deb lists them ("./etc/hosts"), and
 * the text of its copyright file (undefined when it has none).
 */
export function inventoryOf(files: string[], copyright: string | undefined): PackageInventory {
  return {
    licenses: copyright === undefined ? [] : copyrightLicenses(copyright),
    etc: files.filter((f) => f.startsWith("./etc/")).map((f) => f.slice(2)),
  };
}

/**
 * The inventory of package `name` just unpacked into `tree` (before anything else is unpacked
 * over it), from its listing: what reading the .deb itself gives (a copyright file that is a link
 * in the package has no text of its own).
 */
export async function unpackedInventory(
  name: string,
  files: string[],
  tree: string,
): Promise<PackageInventory> {
  const member = `./usr/share/doc/${name}/copyright`;
  let copyright: string | undefined;
  if (files.includes(member)) {
    const file = path.join(tree, member);
    copyright = (await lstat(file)).isFile() ? await readFile(file, "utf8") : "";
  }
  return inventoryOf(files, copyright);
}

type InventoryInputs = { debs: Ref<{ name: string; deb: string }>[] };

export const inventoryStep: StepDefinition<InventoryInputs, Map<string, PackageInventory>> = {
  kind: "inventory",
  version: 2,
  async produce(inputs, dir) {
    const inventory: Record<string, PackageInventory> = {};
    // Each .deb's data is decompressed to read it (CPU-bound), so one per core, in one pass.
    const limit = pLimit(Math.max(1, os.availableParallelism()));
    const read = async ({ name, deb }: { name: string; deb: string }) => {
      const { files, text } = await debDataScan(deb, `./usr/share/doc/${name}/copyright`);
      return inventoryOf(files, text);
    };
    const found = await Promise.all(inputs.debs.map(({ value }) => limit(() => read(value))));
    inputs.debs.forEach(({ value }, i) => (inventory[value.name] = found[i]!));
    await writeFile(path.join(dir, "inventory.json"), JSON.stringify(inventory, null, 1));
  },
  async read(dir) {
    const parsed = JSON.parse(await readFile(path.join(dir, "inventory.json"), "utf8"));
    return new Map(Object.entries(parsed as Record<string, PackageInventory>));
  },
  summary: (inventory) => `licenses and /etc files of ${inventory.size} packages`,
};

export async function inventoryPackages(
  env: BuildEnv,
  packages: ResolvedPackages,
  names: string[],
): Promise<Map<string, PackageInventory>> {
  const debs = [...new Set(names)].sort().map((name) => {
    const record = packages.records.get(name);
    const deb = packages.debs.get(name);
    if (!record || !deb) {
      throw new PodbootError(`no verified .deb for ${name}`, "this is a podboot bug; report it");
    }
    return ref({ name, deb }, [name, record.sha256]);
  });
  return (await runStep(env, inventoryStep, { debs })).result;
}
