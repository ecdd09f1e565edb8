// Resolves what each extension ships from the Debian package graph, downloads the exact versions
// and checks every .deb's sha256 against the signed index before anything uses it.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { pathExists } from "fs-extra";
import path from "node:path";
import { trackTemp } from "../cleanup.ts";
import { PodbootError } from "../errors.ts";
import { planExtensions, extensionOrder, type ExtensionPlan } from "../plan/extensions.ts";
import {
  download,
  indexRecords,
  resolveClosure,
  debFileName,
  type IndexRecord,
  type ResolvedPackage,
} from "../tools/apt.ts";
import type { BuildContext } from "./context.ts";

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

export async function resolvePackages(ctx: BuildContext): Promise<ResolvedPackages> {
  const log = ctx.log.stepLog("packages");
  try {
    const inputs = [];
    for (const ext of ctx.recipe.extensions) {
      const closure =
        ext.packages.length > 0 ? await resolveClosure(ctx.apt, ext.packages, log) : [];
      inputs.push({
        name: ext.name,
        packages: ext.packages,
        exclude: ext.exclude,
        closure: closure.map((p) => p.name),
        versions: closure,
      });
    }
    const plans = extensionOrder(planExtensions(inputs));

    const kernelPackage = await resolveKernelPackage(ctx, log);
    const versions = new Map(
      inputs.flatMap((input) => input.versions.map((p) => [p.name, p] as const)),
    );
    const wanted = [
      ...plans.flatMap((plan) => plan.owns.map((name) => versions.get(name)!)),
      kernelPackage,
    ];
    const busybox = wanted.find((p) => p.name === "busybox-static");
    if (!busybox) {
      throw new PodbootError(
        "no extension ships busybox-static",
        "add busybox-static to the base extension",
      );
    }
    const records = new Map((await indexRecords(ctx.apt, wanted, log)).map((r) => [r.name, r]));
    const debs = await fetchVerified(ctx, [...records.values()], log);
    ctx.log.step("packages", `${records.size} packages verified against the signed index`);
    return {
      extensions: plans,
      records,
      kernelPackage: records.get(kernelPackage.name)!,
      busyboxPackage: records.get("busybox-static")!,
      debs,
    };
  } finally {
    await log.close();
  }
}

/** The linux-image package for a prebuilt kernel, or the linux-source package to compile. */
async function resolveKernelPackage(
  ctx: BuildContext,
  log: ReturnType<BuildContext["log"]["stepLog"]>,
): Promise<ResolvedPackage> {
  const { kernel } = ctx.recipe;
  const wanted = kernel.source === "build" ? kernel.build.package : kernel.debian.package;
  const closure = await resolveClosure(ctx.apt, [wanted], log);
  const pattern = kernel.source === "build" ? /^linux-source-[0-9]/ : /^linux-image-[0-9]/;
  const found = closure.find((p) => pattern.test(p.name));
  if (!found) {
    throw new PodbootError(
      kernel.source === "build"
        ? `${wanted} is not a linux-source package`
        : `${wanted} does not lead to a linux-image package`,
      kernel.source === "build"
        ? "set kernel.build.package to a kernel source package such as linux-source-6.12"
        : "set kernel.debian.package to a kernel image such as linux-image-amd64",
    );
  }
  return found;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Downloads what is missing into a temp directory, checks every file (new or cached) against the
 * index's sha256 and only then moves it into the pool. A mismatching cached file is deleted.
 */
async function fetchVerified(
  ctx: BuildContext,
  records: IndexRecord[],
  log: ReturnType<BuildContext["log"]["stepLog"]>,
): Promise<Map<string, string>> {
  const pool = path.join(ctx.cache.root, "debs");
  const incoming = path.join(ctx.cache.root, "tmp", `debs-${process.pid}`);
  await mkdir(pool, { recursive: true });
  await mkdir(incoming, { recursive: true });
  const untrack = trackTemp(incoming);
  // The name `apt-get download` gives a file (an epoch's colon becomes %3a).
  const fileOf = (r: IndexRecord) => debFileName(r.name, r.version, r.architecture);
  try {
    const missing: IndexRecord[] = [];
    for (const record of records) {
      const file = path.join(pool, fileOf(record));
      const present = await pathExists(file);
      if (present && (await sha256File(file)) === record.sha256) continue;
      if (present) {
        ctx.log.warn(
          `cached ${fileOf(record)} does not match the signed index; downloading it again`,
        );
        await rm(file);
      }
      missing.push(record);
    }
    if (missing.length > 0) {
      ctx.log.step("packages", `downloading ${missing.length} packages`);
      await download(ctx.apt, missing, incoming, log);
    }
    for (const record of missing) {
      const got = path.join(incoming, fileOf(record));
      const sum = await sha256File(got).catch(() => "missing");
      if (sum !== record.sha256) {
        throw new PodbootError(
          `${fileOf(record)}: sha256 ${sum} does not match the signed index (${record.sha256})`,
          "the mirror served a different file; retry, or pass --mirror with another mirror",
          { exitCode: 1 },
        );
      }
      await rename(got, path.join(pool, fileOf(record)));
    }
    return new Map(records.map((r) => [r.name, path.join(pool, fileOf(r))]));
  } finally {
    await rm(incoming, { recursive: true, force: true });
    untrack();
  }
}
