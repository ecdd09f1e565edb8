// The cold `--prebuilt` row's yardstick, measured in the same run as podboot's figure: mkosi
// (the version the image's suite ships, unpacked from its .deb and run with the host's python3)
// making a zstd cpio of the same Debian packages from the same mirror, with an empty package
// cache. The issue measured 46 s once; this host's pace moves both figures, so the row holds
// them side by side. Where mkosi cannot run here, the row says why and keeps the issue's figure.
import { execa } from "execa";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { hostDebianMirror } from "../builder/host/apt-sources.ts";
import { selectExtensions } from "../builder/plan/extensions.ts";
import { loadRecipe } from "../builder/recipe/load.ts";
import { SilentLogger } from "../builder/report/console.ts";
import { download, resolveClosure, updateLists } from "../builder/tools/apt.ts";
import { prepareAptRoot, type AptRoot } from "../builder/tools/apt-root.ts";

/** The issue's measurement of mkosi 25.3 on this machine, used when mkosi cannot run here. */
export const ISSUE_MKOSI_SECONDS = 46;

export type MkosiBaseline = { seconds: number; version: string } | { skipped: string };

/** The Debian packages a default `--prebuilt` build ships: every default extension's, and the kernel. */
async function defaultPackages(
  recipeFile: string,
): Promise<{ packages: string[]; mirror?: string; suite: string }> {
  const { recipe } = await loadRecipe(recipeFile);
  const packages = selectExtensions(recipe.extensions, []).flatMap((ext) => ext.packages);
  packages.push(recipe.kernel.debian.package);
  return {
    packages: [...new Set(packages)],
    mirror: recipe.debian.mirror,
    suite: recipe.debian.suite,
  };
}

function mkosiConf(suite: string, mirror: string, packages: string[], work: string): string {
  return [
    "[Distribution]",
    "Distribution=debian",
    `Release=${suite}`,
    // One flat source, as podboot reads: no -updates, -security or -debug suites
    `LocalMirror=${mirror}`,
    "",
    "[Output]",
    "Format=cpio",
    "CompressOutput=zstd",
    `OutputDirectory=${path.join(work, "out")}`,
    "",
    "[Build]",
    `WorkspaceDirectory=${path.join(work, "workspace")}`,
    `PackageCacheDirectory=${path.join(work, "packages")}`,
    "",
    "[Content]",
    "Bootable=no",
    `Packages=${packages.join(",")}`,
    "",
  ].join("\n");
}

/**
 * Fetches mkosi from the image's suite, then times one cold `mkosi build` of the same package
 * set: one run (it takes minutes here), downloads included as in podboot's row.
 */
export async function mkosiColdBuild(
  recipeFile: string,
  say: (line: string) => void,
): Promise<MkosiBaseline> {
  const work = await mkdtemp(path.join(os.tmpdir(), "podboot-bench-mkosi-"));
  // apt's output is not kept: a failure's error carries its last lines
  const log = new SilentLogger().stepLog();
  try {
    const wanted = await defaultPackages(recipeFile);
    const mirror = wanted.mirror ?? (await hostDebianMirror());
    const root: AptRoot = {
      dir: path.join(work, "apt"),
      mirror,
      suite: wanted.suite,
      components: ["main"],
    };
    await prepareAptRoot(root);
    await updateLists(root, log, 0);
    const mkosi = (await resolveClosure(root, ["mkosi"], log)).find((p) => p.name === "mkosi");
    if (!mkosi) return { skipped: `${wanted.suite} has no mkosi package` };
    const debs = path.join(work, "debs");
    await mkdir(debs);
    await download(root, [mkosi], debs, log);
    const tree = path.join(work, "mkosi");
    await execa("dpkg-deb", ["-x", path.join(debs, (await readdir(debs))[0]!), tree]);
    const project = path.join(work, "project");
    await mkdir(project);
    await writeFile(
      path.join(project, "mkosi.conf"),
      mkosiConf(wanted.suite, mirror, wanted.packages, work),
    );
    say(
      `mkosi ${mkosi.version}: a cpio of ${wanted.packages.length} packages and their closure, cold…`,
    );
    const started = Date.now();
    const result = await execa("python3", ["-m", "mkosi", "--directory", project, "build"], {
      env: { PYTHONPATH: path.join(tree, "usr", "lib", "python3", "dist-packages") },
      reject: false,
      all: true,
      timeout: 1_800_000,
    });
    const seconds = (Date.now() - started) / 1000;
    if (result.failed) {
      // no python3 (or killed): execa's own message; a failed build: mkosi's last line
      const last = (result.all ?? "").trimEnd().split("\n").at(-1) ?? "";
      const why =
        result.exitCode === undefined
          ? (result.shortMessage ?? "not started")
          : `exit ${result.exitCode}: ${last}`;
      return { skipped: `mkosi ${mkosi.version} failed here (${why.slice(0, 200)})` };
    }
    return { seconds, version: mkosi.version };
  } catch (error) {
    const why = (error as Error).message.split("\n")[0]!.slice(0, 200);
    return { skipped: `mkosi could not be fetched or started: ${why}` };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
