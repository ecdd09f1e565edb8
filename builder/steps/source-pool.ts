// The cache's pool of component sources: each archive under sources/SHA256/NAME, downloaded only
// when it is not there already, streamed into a temp file that is renamed into place only after
// its sha256 matched. A download that breaks off or arrives short is tried again a bounded
// number of times; nothing partial stays in the pool.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { pathExists } from "fs-extra";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { fromSystemError, PodbootError } from "../errors.ts";
import { replaceAtomically, writeAtomically } from "../fs/atomic.ts";
import { VerifiedPool } from "../fs/verified-pool.ts";
import { packTree } from "../fs/pack-tree.ts";
import type { ObtainedSource } from "./sources.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import { report } from "../report/events.ts";

/** A source that cannot be had here; the next listed source is tried. */
export class Unobtainable extends Error {}

export function poolPath(ctx: BuildEnv, sha256: string, name: string): string {
  return path.join(ctx.cache.root, "sources", sha256, name);
}

/** How often a download that breaks off (or arrives short) is tried before the build stops. */
export const DOWNLOAD_ATTEMPTS = 3;

/**
 * Downloads url into the pool unless a file with the expected sha256 is there already. The
 * download streams into a temp file that is renamed only after its hash matched; one that breaks
 * off or arrives short is tried again, DOWNLOAD_ATTEMPTS times in all.
 */
export async function fetchIntoPool(
  ctx: BuildEnv,
  url: string,
  sha256: string,
  name: string,
): Promise<string> {
  const target = poolPath(ctx, sha256, name);
  const pool = path.join(ctx.cache.root, "sources");
  const verified = await VerifiedPool.open(pool);
  if (
    (await pathExists(target)) &&
    (await verified.sha256(path.relative(pool, target))) === sha256
  ) {
    await verified.save();
    return target;
  }
  await mkdir(path.dirname(target), { recursive: true });
  let failure = "";
  for (let attempt = 1; attempt <= DOWNLOAD_ATTEMPTS; attempt++) {
    failure = await downloadOnce(url, sha256, target);
    if (failure === "") return target;
    if (attempt < DOWNLOAD_ATTEMPTS) {
      report.warn(
        ctx.log,
        `${name} from ${url}: ${failure}; trying again (${attempt + 1} of ${DOWNLOAD_ATTEMPTS})`,
      );
      await sleep(500 * attempt);
    }
  }
  throw new PodbootError(
    `${name} from ${url}: ${failure}, ${DOWNLOAD_ATTEMPTS} times; nothing was kept`,
    "check the network and the server (a proxy or mirror that alters or cuts downloads), or the pinned sha256",
    { exitCode: 1 },
  );
}

/** One try: "" when the file is in place, else what went wrong (the temp file is gone). */
async function downloadOnce(url: string, sha256: string, target: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(15 * 60 * 1000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new Unobtainable(`cannot reach ${new URL(url).host} (${cause})`);
  }
  if (!response.ok || !response.body) throw new Unobtainable(`HTTP ${response.status}`);
  const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream);
  let failure = "";
  await replaceAtomically(target, async (tmp) => {
    const hash = createHash("sha256");
    let bytes = 0;
    body.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    try {
      await pipeline(body, createWriteStream(tmp));
    } catch (error) {
      const system = fromSystemError(error, tmp);
      if (system) throw system;
      failure = `the download broke off after ${bytes} bytes (${(error as Error).message})`;
      throw new Unfinished();
    }
    const got = hash.digest("hex");
    if (got !== sha256) {
      failure = `arrived with sha256 ${got.slice(0, 16)}… (${bytes} bytes), expected ${sha256.slice(0, 16)}…`;
      throw new Unfinished();
    }
  }).catch((error: unknown) => {
    if (!(error instanceof Unfinished)) throw error;
  });
  return failure;
}

/** A download to try again (replaceAtomically has removed its temp file). */
class Unfinished extends Error {}

/** podboot's own source in this checkout, packed reproducibly into the pool. */
export async function obtainLocal(ctx: BuildEnv, dir: string): Promise<ObtainedSource> {
  const archive = await packTree(dir, path.basename(dir)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") throw new Unobtainable(`no directory ${path.relative(".", dir)}`);
    throw error;
  });
  const sha256 = createHash("sha256").update(archive).digest("hex");
  const target = path.join(ctx.cache.root, "sources", sha256, `${path.basename(dir)}.tar`);
  if (!(await pathExists(target))) {
    await mkdir(path.dirname(target), { recursive: true });
    await writeAtomically(target, archive);
  }
  return {
    kind: "local",
    archive: target,
    sha256,
    origin: { path: path.relative(ctx.projectDir, dir) },
  };
}
