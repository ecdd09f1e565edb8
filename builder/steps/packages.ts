// The Debian packages an image ships: their signed index records, and each .deb downloaded into
// the cache's pool and checked against the index's sha256 before anything uses it. A download
// that breaks off is tried again a bounded number of times; nothing unverified enters the pool.
import { mkdir, rename, rm } from "node:fs/promises";
import { pathExists } from "fs-extra";
import path from "node:path";
import { trackTemp } from "../cleanup.ts";
import { fromSystemError, PodbootError } from "../errors.ts";
import { sha256File } from "../fs/hash.ts";
import { VerifiedPool } from "../fs/verified-pool.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import type { ExtensionPlan } from "../plan/extensions.ts";
import type { PackagePlan } from "../plan/build-plan.ts";
import { report, togetherIn, type StepLog } from "../report/events.ts";
import { download, debFileName } from "../tools/apt.ts";
import { indexRecords, type IndexRecord } from "../tools/apt-cache.ts";

export interface ResolvedPackages {
  /** Extensions in dependency order, each with the packages it owns. */
  extensions: ExtensionPlan[];
  /** Index records of every package used (extensions and kernel). */
  records: Map<string, IndexRecord>;
  /** The kernel image (kernel.source debian) or the kernel source package (build). */
  kernelPackage: IndexRecord;
  busyboxPackage: IndexRecord;
  /** Path of each verified .deb, by package name. */
  debs: Map<string, string>;
}

/** How often a package download is tried before the build stops. */
export const PACKAGE_ATTEMPTS = 3;

export async function fetchPackages(env: BuildEnv, plan: PackagePlan): Promise<ResolvedPackages> {
  const log = env.log.stepLog("packages");
  try {
    const records = new Map(
      (await indexRecords(env.apt, plan.versions, log)).map((r) => [r.name, r]),
    );
    const debs = await fetchVerified(env, [...records.values()], log);
    report.step(env.log, "packages", `${records.size} packages verified against the signed index`);
    return {
      extensions: plan.extensions,
      records,
      kernelPackage: records.get(plan.kernelPackage.name)!,
      busyboxPackage: records.get("busybox-static")!,
      debs,
    };
  } finally {
    await log.close();
  }
}

/**
 * How many apt processes download at once. Each fetches its files one after another, and for
 * Debian's many small packages the wait per file is most of the time: a cold build's 86
 * packages (204 MB) took 5.4 s in one process, 3.6 s in two and 3.2 s in three.
 */
const DOWNLOAD_STREAMS = 3;

/**
 * Splits the records into at most `count` groups dealt round-robin, largest first: each group
 * gets one of the few large packages and an equal share of the small ones.
 */
export function downloadGroups<T extends { size: number }>(records: T[], count: number): T[][] {
  const groups: T[][] = Array.from({ length: Math.min(count, records.length) }, () => []);
  [...records]
    .sort((a, b) => b.size - a.size)
    .forEach((record, i) => groups[i % groups.length]!.push(record));
  return groups;
}

/**
 * Downloads what is missing into a temp directory, checks every file (new or cached) against the
 * index's sha256 and only then moves it into the pool. A mismatching cached file is deleted.
 */
async function fetchVerified(
  env: BuildEnv,
  records: IndexRecord[],
  log: StepLog,
): Promise<Map<string, string>> {
  const pool = path.join(env.cache.root, "debs");
  const incoming = path.join(env.cache.root, "tmp", `debs-${process.pid}`);
  const untrack = trackTemp(incoming);
  // The name `apt-get download` gives a file (an epoch's colon becomes %3a).
  const fileOf = (r: IndexRecord) => debFileName(r.name, r.version, r.architecture);
  try {
    await mkdir(pool, { recursive: true });
    await mkdir(incoming, { recursive: true });
    let missing: IndexRecord[] = [];
    const verified = await VerifiedPool.open(pool);
    for (const record of records) {
      const file = path.join(pool, fileOf(record));
      const present = await pathExists(file);
      if (present && (await verified.sha256(fileOf(record))) === record.sha256) continue;
      if (present) {
        report.warn(
          env.log,
          `cached ${fileOf(record)} does not match the signed index; downloading it again`,
        );
        await rm(file);
      }
      missing.push(record);
    }
    for (let attempt = 1; missing.length > 0; attempt++) {
      report.step(env.log, "packages", `downloading ${missing.length} packages`);
      const failures = await Promise.all(
        downloadGroups(missing, DOWNLOAD_STREAMS).map((group) => {
          const own = togetherIn(log);
          return download(env.apt, group, incoming, own)
            .then(
              () => undefined,
              (error: unknown) => error as Error,
            )
            .finally(() => own.close());
        }),
      );
      const failure = failures.find((f) => fromSystemError(f)) ?? failures.find(Boolean);
      const arrived: IndexRecord[] = [];
      for (const record of missing) {
        const got = path.join(incoming, fileOf(record));
        if ((await sha256File(got).catch(() => "missing")) !== record.sha256) {
          await rm(got, { force: true });
          continue;
        }
        await rename(got, path.join(pool, fileOf(record)));
        verified.forget(fileOf(record));
        arrived.push(record);
      }
      missing = missing.filter((r) => !arrived.includes(r));
      if (missing.length === 0) break;
      if (attempt >= PACKAGE_ATTEMPTS || fromSystemError(failure)) {
        throw refusedDownload(env, missing.map(fileOf), failure);
      }
      report.warn(
        env.log,
        `${missing.length} packages did not arrive whole; trying again (${attempt + 1} of ${PACKAGE_ATTEMPTS})`,
      );
    }
    await verified.save();
    return new Map(records.map((r) => [r.name, path.join(pool, fileOf(r))]));
  } catch (error) {
    throw fromSystemError(error) ?? error;
  } finally {
    await rm(incoming, { recursive: true, force: true });
    untrack();
  }
}

function refusedDownload(env: BuildEnv, files: string[], failure: Error | undefined): Error {
  if (failure && (fromSystemError(failure) || /no space left/i.test(failure.message))) {
    return fromSystemError(failure) ?? failure;
  }
  if (failure instanceof PodbootError && /does not match the signed index/.test(failure.message)) {
    return failure;
  }
  const why =
    failure instanceof PodbootError ? (failure.detail ?? failure.message) : failure?.message;
  const last = (why ?? "arrived with the wrong sha256").trim().split("\n").at(-1);
  return new PodbootError(
    `${files.length} package(s) could not be downloaded whole from ${env.apt.mirror} after ${PACKAGE_ATTEMPTS} tries (${files.slice(0, 3).join(", ")}${files.length > 3 ? " …" : ""}: ${last}); nothing partial was kept`,
    "check the network or the mirror (a proxy that cuts downloads?), or pass --mirror with another mirror",
    { exitCode: 1 },
  );
}
