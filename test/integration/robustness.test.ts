// The build under the conditions users meet that have nothing to do with their recipe: two builds
// (or a prune) on one cache at once, a build killed mid-compile, a mirror that cannot be reached,
// downloads cut mid-way, a full cache disk. Each ends correctly or in one line, with nothing
// partial left in the cache. The caches are private: hard-linked copies of the user's warm
// cache where a warm build is needed (its entries are never written in place, only added and
// renamed, so the copy cannot change the original), or new ones.
import { execa, type ResultPromise } from "execa";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockFile, type LockHolder } from "../../builder/cache/lock.ts";
import { defaultCacheDir } from "../../builder/cache/store.ts";
import { sha256File } from "../../builder/fs/hash.ts";
import { hostDebianMirror } from "../../builder/host/apt-sources.ts";
import { projectDir } from "./context.ts";

const podbootJs = path.join(projectDir, "bin/podboot.js");
const shared = defaultCacheDir();
const work = await mkdtemp(path.join(os.tmpdir(), "podboot-robust-"));

function podboot(args: string[]): ResultPromise<{ reject: false; all: true }> {
  return execa("node", [podbootJs, ...args], { reject: false, all: true });
}

/** A private copy of the user's cache, files hard-linked (seconds, no extra disk). */
async function linkedCache(name: string): Promise<string> {
  const copy = path.join(work, name);
  await execa("cp", ["-al", shared, copy]);
  await rm(path.join(copy, "lock"), { force: true });
  return copy;
}

/** Every entry of the cache's steps/ (kind/key), for before-and-after comparisons. */
async function entries(cache: string): Promise<string[]> {
  const kinds = await readdir(path.join(cache, "steps")).catch(() => [] as string[]);
  const all = await Promise.all(
    kinds.map(async (k) => (await readdir(path.join(cache, "steps", k))).map((e) => `${k}/${e}`)),
  );
  return all.flat().sort();
}

const temps = (cache: string) => readdir(path.join(cache, "tmp")).catch(() => [] as string[]);

/** Resolves when the build's output matches `pattern`. */
function when(build: ResultPromise, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    build.all!.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve();
    });
    build.then(() => reject(new Error(`the build ended before ${pattern}:\n${seen.slice(-2000)}`)));
  });
}

/** The pid named in the cache's lock file, once the build has taken it. */
async function lockHolderPid(cache: string, build: ResultPromise): Promise<number> {
  let ended = false;
  void build.then(() => (ended = true));
  for (;;) {
    const text = await readFile(lockFile(cache), "utf8").catch(() => "");
    if (text) return (JSON.parse(text) as LockHolder).pid;
    if (ended) throw new Error(`the build ended without taking the cache's lock`);
    await sleep(10);
  }
}

beforeAll(async () => {
  // The user's cache warm for the default recipe (a no-op when it is: the e2e tests need it too).
  const warm = await podboot(["build", "--out", path.join(work, "warm"), "--quiet"]);
  expect(warm.exitCode, warm.all).toBe(0);
}, 60 * 60_000);

describe("one cache, two users", () => {
  it(
    "two builds at once: one waits, naming the other; both finish with the same ISO",
    async () => {
      const cache = await linkedCache("two-builds");
      // A warm build can finish before a second one even asks for the lock, so the overlap is
      // made, not left to timing: the first is paused while it holds the lock, and resumed once
      // the second has said it waits.
      const a = podboot(["build", "--out", path.join(work, "a"), "--cache", cache]);
      const holder = await lockHolderPid(cache, a);
      process.kill(holder, "SIGSTOP");
      const b = podboot(["build", "--out", path.join(work, "b"), "--cache", cache]);
      try {
        await when(b, /waiting for the cache /);
      } finally {
        process.kill(holder, "SIGCONT");
      }
      const [ra, rb] = await Promise.all([a, b]);
      expect(ra.exitCode, ra.all).toBe(0);
      expect(rb.exitCode, rb.all).toBe(0);
      const waited = [ra, rb].filter((r) =>
        /waiting for the cache .*: it is in use by pid \d+ \(podboot build, since /.test(r.all!),
      );
      expect(waited).toHaveLength(1);
      expect(await sha256File(path.join(work, "a", "podboot.iso"))).toBe(
        await sha256File(path.join(work, "b", "podboot.iso")),
      );
      expect(await temps(cache)).toEqual([]);
    },
    20 * 60_000,
  );

  it(
    "podboot cache prune --all during a build waits for it; the build's entries stay whole",
    async () => {
      const cache = await linkedCache("prune");
      const build = podboot(["build", "--out", path.join(work, "pruned"), "--cache", cache]);
      await when(build, /packages verified/);
      const prune = await podboot(["cache", "prune", "--all", "--cache", cache]);
      const built = await build;
      expect(built.exitCode, built.all).toBe(0);
      expect(prune.exitCode, prune.all).toBe(0);
      expect(prune.all).toMatch(/waiting for the cache .*in use by pid \d+ \(podboot build/);
      // The build finished before prune began: its ISO was complete, and prune then emptied all.
      expect((await readFile(path.join(work, "pruned", "podboot.iso"))).length).toBeGreaterThan(0);
      expect(await readdir(cache)).toEqual([]);
    },
    20 * 60_000,
  );
});

describe("a killed build", () => {
  it(
    "SIGTERM mid-compile ends it within 5 s: no build container left, the cache as it was",
    async () => {
      const cache = await linkedCache("killed");
      // Without its cached kernel, the build compiles one in a runc container for minutes.
      await rm(path.join(cache, "steps", "kernel"), { recursive: true });
      const before = await entries(cache);
      const build = podboot(["build", "--out", path.join(work, "killed"), "--cache", cache]);
      await when(build, /kernel +compiling bzImage/);
      await sleep(3000);
      const sent = Date.now();
      build.kill("SIGTERM");
      const result = await build;
      expect(Date.now() - sent).toBeLessThan(5000);
      expect(result.exitCode).toBe(143);
      expect(result.all).toMatch(/podboot: interrupted \(SIGTERM\); temporary files removed/);
      const runc = await execa("runc", ["--root", path.join(cache, "runc"), "list", "-q"]);
      expect(runc.stdout.trim()).toBe("");
      const compilers = await execa("pgrep", ["-f", `${cache}.*kernel`], { reject: false });
      expect(compilers.stdout.trim()).toBe("");
      expect(await entries(cache)).toEqual(before);
      expect(await temps(cache)).toEqual([]);
      await expect(readFile(path.join(cache, "lock"))).rejects.toThrow();
    },
    20 * 60_000,
  );
});

/** An HTTP proxy in front of the host's mirror; `cut(url, n)` says how many bytes of the nth
 * request for url to send before dropping the connection (undefined: all of it). */
async function cuttingProxy(cut: (url: string, nth: number) => number | undefined) {
  const mirror = (await hostDebianMirror()).replace(/\/$/, "");
  const counts = new Map<string, number>();
  const server: Server = createServer(async (req, res) => {
    const url = req.url ?? "";
    const nth = (counts.get(url) ?? 0) + 1;
    counts.set(url, nth);
    const upstream = await fetch(`${mirror}${url}`).catch(() => null);
    if (!upstream) return void res.writeHead(502).end();
    const body = Buffer.from(await upstream.arrayBuffer());
    const keep = upstream.ok ? cut(url, nth) : undefined;
    res.writeHead(upstream.status, { "content-length": String(body.length) });
    if (keep === undefined) return void res.end(body);
    res.write(body.subarray(0, keep), () => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, counts };
}

/** A small recipe (busybox and the C library, Debian's kernel) next to the real components. */
async function smallRecipe(): Promise<string> {
  const dir = await mkdtemp(path.join(work, "small-"));
  const text = await readFile(path.join(projectDir, "recipes/podboot.yaml"), "utf8");
  const small = text
    .replace(
      /^extensions:\n[\s\S]*?\n(?=# Compiled from source)/m,
      [
        "extensions:",
        "  - name: base",
        "    packages: [busybox-static, libc6]",
        "  - name: overlay",
        "    overlay: true",
        "",
        "",
      ].join("\n"),
    )
    .replace(/^components:\n(?: {2}- .*\n)+/m, "components: []\n")
    .replace(/^images:\n(?: {2}.*\n|\n)*/m, "");
  await writeFile(path.join(dir, "small.yaml"), small);
  await execa("ln", [
    "-s",
    path.join(projectDir, "recipes/components"),
    path.join(dir, "components"),
  ]);
  return path.join(dir, "small.yaml");
}

describe("the network", () => {
  it(
    "a mirror that cannot be reached is named, with how to set another",
    async () => {
      const cache = path.join(work, "unreachable-cache");
      const result = await podboot([
        "build",
        "--prebuilt",
        "--out",
        path.join(work, "unreachable"),
        "--cache",
        cache,
        "--mirror",
        "http://127.0.0.1:9/debian",
      ]);
      expect(result.exitCode).toBe(1);
      expect(result.all!.trim().split("\n").at(-1)).toMatch(
        /^podboot: the Debian mirror http:\/\/127\.0\.0\.1:9\/debian cannot be reached for trixie \(apt: .*\) — check the network, or use another mirror: --mirror URL, debian\.mirror in the recipe, or the host's apt sources/,
      );
      expect(await temps(cache)).toEqual([]);
    },
    5 * 60_000,
  );

  it(
    "package downloads cut mid-way are tried again; cut every time, refused in one line, nothing partial kept",
    async () => {
      const recipe = await smallRecipe();
      // busybox-static is cut on its first two requests, libc6 on every one.
      const proxy = await cuttingProxy((url, nth) =>
        /busybox-static_.*\.deb$/.test(url) && nth <= 2
          ? 5000
          : /libc6_.*\.deb$/.test(url)
            ? 5000
            : undefined,
      );
      try {
        const cache = path.join(work, "cut-cache");
        const result = await podboot([
          "build",
          recipe,
          "--prebuilt",
          "--out",
          path.join(work, "cut"),
          "--cache",
          cache,
          "--mirror",
          proxy.url,
        ]);
        expect(result.exitCode, result.all).toBe(1);
        expect(result.all!.trim().split("\n").at(-1)).toMatch(
          /^podboot: 1 package\(s\) could not be downloaded whole from http:\/\/127\.0\.0\.1:\d+ after 3 tries \(libc6_.*\.deb: .*\); nothing partial was kept — check the network or the mirror/,
        );
        const pool = (await readdir(path.join(cache, "debs"))).filter((f) => f.endsWith(".deb"));
        expect(pool.some((f) => f.startsWith("busybox-static_"))).toBe(true);
        expect(pool.some((f) => f.startsWith("libc6_"))).toBe(false);
        for (const deb of pool) {
          // Everything in the pool is whole: dpkg can read it.
          expect(
            (await execa("dpkg-deb", ["-f", path.join(cache, "debs", deb), "Package"])).exitCode,
          ).toBe(0);
        }
        expect(await temps(cache)).toEqual([]);
      } finally {
        proxy.server.close();
      }
    },
    10 * 60_000,
  );
});

describe("a full cache disk", () => {
  let mount = "";
  afterAll(async () => {
    if (mount) await execa("umount", [mount], { reject: false });
  });

  it(
    "stops the build in one line with nothing half-written; after room is made, the next build succeeds",
    async () => {
      mount = path.join(work, "small-disk");
      await mkdir(mount);
      // Room for the apt lists (and apt's binary caches) and 24 MiB more: they are copied in, so
      // the space runs out while the packages are downloaded.
      const du = await execa("du", ["-sm", path.join(shared, "apt")]);
      const aptMiB = Number(du.stdout.split("\t")[0]);
      await execa("mount", ["-t", "tmpfs", "-o", `size=${aptMiB + 24}m`, "tmpfs", mount]);
      const cache = path.join(mount, "cache");
      await mkdir(cache);
      await execa("cp", ["-a", path.join(shared, "apt"), path.join(cache, "apt")]);
      const recipe = await smallRecipe();
      const args = [
        "build",
        recipe,
        "--prebuilt",
        "--out",
        path.join(work, "full"),
        "--cache",
        cache,
      ];
      const full = await podboot(args);
      expect(full.exitCode, full.all).toBe(1);
      expect(full.all!.trim().split("\n").at(-1)).toMatch(
        /^podboot: no space left on device.* — free some space.*--cache on a larger filesystem/,
      );
      expect(await temps(cache)).toEqual([]);
      const pool = await readdir(path.join(cache, "debs")).catch(() => [] as string[]);
      // Only whole packages, and the record of their hashes.
      for (const deb of pool.filter((f) => f !== ".verified.json")) {
        expect(deb.endsWith(".deb")).toBe(true);
      }
      await execa("mount", ["-o", "remount,size=2g", mount]);
      const again = await podboot(args);
      expect(again.exitCode, again.all).toBe(0);
    },
    15 * 60_000,
  );
});
