// What the SBOM and the catalog need from each shipped .deb beyond the archive index: the licenses
// its machine-readable copyright file names, and the files it installs under /etc. Read once per
// set of packages and cached.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { cacheKey } from "../cache/store.ts";
import { PodbootError } from "../errors.ts";
import { debDataToTar } from "../tools/dpkg-deb.ts";
import type { BuildContext } from "./context.ts";
import type { ResolvedPackages } from "./packages.ts";

export interface PackageInventory {
  /** License expressions of the copyright file's `License:` fields, e.g. "GPL-2+". */
  licenses: string[];
  /** Files under /etc (paths without a leading slash). */
  etc: string[];
}

const FORMAT = 1;

/** The distinct `License:` values of a DEP-5 copyright file; none when it is not machine-readable. */
export function copyrightLicenses(text: string): string[] {
  if (!/^Format:\s*\S+/m.test(text)) return [];
  const found = [...text.matchAll(/^License:[ \t]*(\S.*)$/gm)].map((m) => m[1]!.trim());
  return [...new Set(found)].sort();
}

async function debFiles(deb: string): Promise<string[]> {
  const listing = await debDataToTar(deb, ["-t"]);
  return listing.stdout.split("\n").filter((line) => line && !line.endsWith("/"));
}

export async function inventoryPackages(
  ctx: BuildContext,
  packages: ResolvedPackages,
  names: string[],
): Promise<Map<string, PackageInventory>> {
  const wanted = [...new Set(names)].sort().map((name) => {
    const record = packages.records.get(name);
    const deb = packages.debs.get(name);
    if (!record || !deb) {
      throw new PodbootError(`no verified .deb for ${name}`, "this is a podboot bug; report it");
    }
    return { name, sha256: record.sha256, deb };
  });
  const key = cacheKey({ format: FORMAT, debs: wanted.map((w) => [w.name, w.sha256]) });
  const { dir } = await ctx.cache.getOrCreate("inventory", key, async (tmp) => {
    const inventory: Record<string, PackageInventory> = {};
    for (const { name, deb } of wanted) {
      const files = await debFiles(deb);
      const copyright = `./usr/share/doc/${name}/copyright`;
      const licenses = files.includes(copyright)
        ? copyrightLicenses((await debDataToTar(deb, ["-xO", copyright])).stdout)
        : [];
      inventory[name] = {
        licenses,
        etc: files.filter((f) => f.startsWith("./etc/")).map((f) => f.slice(2)),
      };
    }
    await writeFile(path.join(tmp, "inventory.json"), JSON.stringify(inventory, null, 1));
  });
  const parsed = JSON.parse(await readFile(path.join(dir, "inventory.json"), "utf8")) as Record<
    string,
    PackageInventory
  >;
  return new Map(Object.entries(parsed));
}
