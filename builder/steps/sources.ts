// Obtains a component's source: the first listed source that can be had wins. An unobtainable
// source (not in the index, HTTP 404, host unreachable) falls through to the next one with a
// warning (an error under --strict-source); a source that arrives with the wrong sha256 is never
// used and stops the build. Every archive lands in a content-addressed pool under the cache.
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { pathExists } from "fs-extra";
import path from "node:path";
import { trackTemp } from "../cleanup.ts";
import { PodbootError } from "../errors.ts";
import { sourceKind, type Component, type ComponentSource } from "../recipe/component.ts";
import { indexRecords, sourceRecords } from "../tools/apt-cache.ts";
import { git as runGit } from "../tools/git.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import { report, type StepLog } from "../report/events.ts";
import { sha256File } from "../fs/hash.ts";
import { fetchIntoPool, obtainLocal, Unobtainable } from "./source-pool.ts";
import {
  hostOf,
  isUnreachable,
  rememberedUnreachable,
  rememberUnreachable,
} from "./unreachable.ts";

export interface ObtainedSource {
  kind: "debian-source" | "debian-dev" | "git" | "url" | "local";
  /** The source archive (a tarball, or a .deb for debian-dev) in the cache's pool. */
  archive: string;
  /** For a .deb: the directory inside it that is the source tree. */
  subdir?: string;
  sha256: string;
  /** Where it came from, for the manifest: package/version/suite, url, commit … */
  origin: Record<string, string>;
  /** Debian's packaging tarball whose debian/patches/series is applied before the build. */
  patches?: { archive: string; sha256: string };
}

export type SourceChoice =
  | { use: "source"; source: ObtainedSource; skipped: string[] }
  | { use: "prebuilt"; reason: string; skipped: string[] };

export async function chooseSource(
  ctx: BuildEnv,
  component: Component,
  options: {
    strict: boolean;
    /** The component recipe's directory (local sources). */ dir?: string;
  },
): Promise<SourceChoice> {
  const skipped: string[] = [];
  const log = ctx.log.stepLog(`source-${component.name}`);
  try {
    for (const source of component.sources) {
      const kind = sourceKind(source);
      if (kind === "prebuilt") {
        const reason =
          skipped.length > 0
            ? `no listed source could be obtained (${skipped.join("; ")})`
            : "the component recipe prefers the Debian binary";
        return { use: "prebuilt", reason, skipped };
      }
      try {
        return { use: "source", source: await obtain(ctx, source, log, options.dir), skipped };
      } catch (error) {
        if (!(error instanceof Unobtainable)) throw error;
        const what = `${kind} ${describeSource(source)}: ${error.message}`;
        log.write(`unobtainable: ${what}\n`);
        if (options.strict) {
          throw new PodbootError(
            `${component.name}: source ${what}`,
            "drop --strict-source to fall through to the next listed source, or make this one reachable",
          );
        }
        report.warn(ctx.log, `${component.name}: ${what}; trying the next listed source`);
        skipped.push(what);
      }
    }
    throw new PodbootError(
      `${component.name}: none of its sources can be obtained (${skipped.join("; ")})`,
      `add a reachable source or \`- prebuilt: true\` to recipes/components/${component.name}.yaml`,
    );
  } finally {
    await log.close();
  }
}

export function describeSource(source: ComponentSource): string {
  if ("debian-source" in source) {
    const s = source["debian-source"];
    return `${s.package} ${s.version} (${s.suite})`;
  }
  if ("debian-dev" in source) {
    const s = source["debian-dev"];
    return `${s.package} ${s.version} (${s.suite}) ${s.path}`;
  }
  if ("git" in source) return `${source.git.url} at ${source.git.commit.slice(0, 12)}`;
  if ("local" in source) return `${source.local.path} (in this checkout)`;
  if ("url" in source) return source.url.url;
  return "Debian binary";
}

async function obtain(
  ctx: BuildEnv,
  source: ComponentSource,
  log: StepLog,
  dir: string | undefined,
): Promise<ObtainedSource> {
  if ("local" in source) {
    if (!dir) throw new Error("a local source needs the component recipe's directory"); // a bug
    return obtainLocal(ctx, path.join(dir, source.local.path));
  }
  if ("debian-source" in source) return obtainDebianSource(ctx, source["debian-source"], log);
  if ("debian-dev" in source) return obtainDebianDev(ctx, source["debian-dev"], log);
  if ("git" in source) return obtainGit(ctx, source.git, log);
  if ("url" in source) {
    const { url, sha256 } = source.url;
    const archive = await fetchIntoPool(ctx, url, sha256, path.basename(new URL(url).pathname));
    return { kind: "url", archive, sha256, origin: { url } };
  }
  throw new Error("prebuilt is not a source");
}

async function obtainDebianSource(
  ctx: BuildEnv,
  wanted: { package: string; version: string; suite: string; patches: boolean },
  log: StepLog,
): Promise<ObtainedSource> {
  const root = await ctx.aptRoots.get(wanted.suite, "deb-src");
  const records = await sourceRecords(root, wanted.package, log);
  const record = records.find((r) => r.version === wanted.version);
  if (!record) {
    const listed = records.map((r) => r.version).join(", ") || "none";
    throw new Unobtainable(`not in the ${wanted.suite} Sources index (it lists: ${listed})`);
  }
  const orig = record.files.filter((f) => /\.orig\.tar\.[a-z0-9]+$/.test(f.name));
  if (orig.length !== 1) {
    throw new Unobtainable(`expected one orig tarball, the index lists ${orig.length}`);
  }
  const file = orig[0]!;
  const fromPool = (name: string) =>
    `${ctx.apt.mirror.replace(/\/$/, "")}/${record.directory}/${name}`;
  const archive = await fetchIntoPool(ctx, fromPool(file.name), file.sha256, file.name);
  let patches: ObtainedSource["patches"];
  const debianFile = record.files.find((f) => /\.debian\.tar\.[a-z0-9]+$/.test(f.name));
  if (wanted.patches) {
    if (!debianFile)
      throw new Unobtainable("patches asked for, but the index lists no .debian.tar");
    patches = {
      archive: await fetchIntoPool(
        ctx,
        fromPool(debianFile.name),
        debianFile.sha256,
        debianFile.name,
      ),
      sha256: debianFile.sha256,
    };
  }
  return {
    kind: "debian-source",
    archive,
    sha256: file.sha256,
    origin: {
      package: wanted.package,
      version: wanted.version,
      suite: wanted.suite,
      file: file.name,
      ...(patches && debianFile && { patches: debianFile.name, patchesSha256: patches.sha256 }),
      verifiedBy: `the signed ${wanted.suite} Sources index`,
    },
    ...(patches && { patches }),
  };
}

/**
 * A Go library package's .deb, verified against the signed Packages index; its tree under
 * /usr/share/gocode/src/PATH is the source (Debian ships Go libraries as source, commands included).
 */
async function obtainDebianDev(
  ctx: BuildEnv,
  wanted: { package: string; version: string; suite: string; path: string },
  log: StepLog,
): Promise<ObtainedSource> {
  const root = await ctx.aptRoots.get(wanted.suite, "deb");
  const [record] = await indexRecords(
    root,
    [{ name: wanted.package, version: wanted.version }],
    log,
  ).catch((error: unknown) => {
    // apt-cache fails with "No packages found" for a name the index lacks (a missing version of a
    // known package is empty output): that is unobtainable. Any other failure is apt's, and says so.
    if (error instanceof PodbootError && /No packages found/.test(error.detail ?? "")) return [];
    throw error;
  });
  if (!record?.sha256) {
    throw new Unobtainable(
      `${wanted.package} ${wanted.version} is not in the ${wanted.suite} Packages index`,
    );
  }
  const url = `${root.mirror.replace(/\/$/, "")}/${record.filename}`;
  const name = path.basename(record.filename);
  const archive = await fetchIntoPool(ctx, url, record.sha256, name);
  return {
    kind: "debian-dev",
    archive,
    subdir: `usr/share/gocode/src/${wanted.path}`,
    sha256: record.sha256,
    origin: {
      package: wanted.package,
      version: wanted.version,
      suite: wanted.suite,
      file: name,
      path: wanted.path,
      verifiedBy: `the signed ${wanted.suite} Packages index`,
    },
  };
}

/** A pinned commit of a git repository, exported as a tar (git archive) into the pool. */
async function obtainGit(
  ctx: BuildEnv,
  wanted: { url: string; commit: string; tag?: string },
  log: StepLog,
): Promise<ObtainedSource> {
  const name = `${path.basename(wanted.url).replace(/\.git$/, "")}-${wanted.commit}.tar`;
  const target = path.join(ctx.cache.root, "sources", "git", name);
  const origin = { url: wanted.url, commit: wanted.commit, ...(wanted.tag && { tag: wanted.tag }) };
  if (await pathExists(target)) {
    return { kind: "git", archive: target, sha256: await sha256File(target), origin };
  }
  await mkdir(path.dirname(target), { recursive: true });
  const work = await mkdtemp(path.join(ctx.cache.root, "tmp-git-"));
  const untrack = trackTemp(work);
  const git = (args: string[], cwd = work) => runGit(args, { log, cwd });
  const host = hostOf(wanted.url);
  const remembered = ctx.refresh ? undefined : await rememberedUnreachable(ctx.cache.root, host);
  if (remembered) {
    await rm(work, { recursive: true, force: true });
    untrack();
    throw new Unobtainable(
      `cannot fetch (${host} unreachable since ${remembered.since.slice(11, 16)} UTC: ${remembered.why}; --refresh asks again)`,
    );
  }
  try {
    await git(["init", "--quiet", "--bare", "repo.git"]);
    try {
      await git(["fetch", "--quiet", "--depth=1", wanted.url, wanted.commit], `${work}/repo.git`);
    } catch {
      // Servers that refuse fetching a bare commit id still serve the whole history.
      try {
        await git(
          ["fetch", "--quiet", wanted.url, "+refs/*:refs/remotes/origin/*"],
          `${work}/repo.git`,
        );
      } catch (error) {
        const why = ((error as PodbootError).detail ?? "").split("\n").at(-1) ?? "";
        if (isUnreachable(why)) await rememberUnreachable(ctx.cache.root, host, why);
        throw new Unobtainable(`cannot fetch (${why})`);
      }
    }
    const type = await git(["cat-file", "-t", wanted.commit], `${work}/repo.git`).catch(() => "");
    if (type.trim() !== "commit") {
      throw new PodbootError(
        `${wanted.url} has no commit ${wanted.commit}`,
        "pin a commit that exists in that repository",
        { exitCode: 1 },
      );
    }
    const prefix = name.replace(/\.tar$/, "/");
    const tmpTar = path.join(work, "source.tar");
    await git(
      ["archive", "--format=tar", `--prefix=${prefix}`, "-o", tmpTar, wanted.commit],
      `${work}/repo.git`,
    );
    await rename(tmpTar, target);
    return { kind: "git", archive: target, sha256: await sha256File(target), origin };
  } finally {
    await rm(work, { recursive: true, force: true });
    untrack();
  }
}
