// The build's failure paths through the real command line: no root, a mirror that serves
// tampered packages, a full disk and Ctrl-C. Each must end with one line naming the cause and
// the fix, a non-zero exit, and nothing half-written in out/ or the cache.
import { execa } from "execa";
import { copyFile, link, mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { defaultCacheDir } from "../../builder/cache/store.ts";
import { hostDebianMirror } from "../../builder/host/apt-sources.ts";

const projectDir = path.resolve(import.meta.dirname, "../..");
const podbootJs = path.join(projectDir, "bin/podboot.js");
const sharedCache = defaultCacheDir();

async function tempDir(name: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `podboot-${name}-`));
}

/** Files in out/ other than the step logs. */
async function writtenTo(out: string): Promise<string[]> {
  return (await readdir(out).catch(() => [] as string[])).filter((f) => f !== "logs");
}

async function cacheTemps(cache: string): Promise<string[]> {
  return readdir(path.join(cache, "tmp")).catch(() => [] as string[]);
}

/** An HTTP proxy in front of the host's Debian mirror that passes each body through `tamper`. */
async function tamperingProxy(
  tamper: (url: string, body: Buffer) => Buffer,
): Promise<{ url: string; close: () => void }> {
  const mirror = (await hostDebianMirror()).replace(/\/$/, "");
  const proxy = createServer(async (req, res) => {
    const upstream = await fetch(`${mirror}${req.url}`).catch(() => null);
    if (!upstream) return void res.writeHead(502).end();
    const body = Buffer.from(await upstream.arrayBuffer());
    res.writeHead(upstream.status).end(upstream.ok ? tamper(req.url ?? "", body) : body);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`,
    close: () => proxy.close(),
  };
}

describe("podboot build failures", () => {
  it("without root: exit 2 before anything is written", async () => {
    const out = await tempDir("noroot");
    const result = await execa(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "node",
        podbootJs,
        "build",
        "--out",
        out,
      ],
      { reject: false, all: true, env: { ...process.env, HOME: "/tmp" } },
    );
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(/^podboot: podboot build needs root .* — run it as root/m);
    expect(await writtenTo(out)).toEqual([]);
  });

  it(
    "a mirror serving a tampered package: the cached copy is refetched, apt refuses it, exit 1",
    async () => {
      // A proxy in front of the real mirror that flips the last byte of every .deb it serves.
      const { url: proxyUrl, close } = await tamperingProxy((url, body) => {
        if (url.endsWith(".deb") && body.length > 0) body[body.length - 1]! ^= 0xff;
        return body;
      });
      try {
        // A private cache whose pool holds every package except busybox-static, which is corrupt.
        const cache = await tempDir("tamper-cache");
        await mkdir(path.join(cache, "debs"));
        let corrupted = "";
        for (const deb of await readdir(path.join(sharedCache, "debs"))) {
          const from = path.join(sharedCache, "debs", deb);
          const to = path.join(cache, "debs", deb);
          if (deb.startsWith("busybox-static_")) {
            await copyFile(from, to);
            const bytes = await readFile(to);
            bytes[100]! ^= 0xff;
            await writeFile(to, bytes);
            corrupted = to;
          } else {
            await link(from, to);
          }
        }
        const out = await tempDir("tamper-out");
        const result = await execa(
          "node",
          [podbootJs, "build", "--out", out, "--cache", cache, "--mirror", proxyUrl],
          { reject: false, all: true },
        );
        expect(result.exitCode).toBe(1);
        expect(result.all).toMatch(/cached busybox-static_.* does not match the signed index/);
        expect(result.all!.trim().split("\n").at(-1)).toMatch(
          /^podboot: busybox-static_.*\.deb from .* does not match the signed index \(hash sum mismatch\); nothing was kept — the mirror served a corrupted or tampered file/,
        );
        expect(await readdir(path.join(cache, "debs"))).not.toContain(path.basename(corrupted));
        expect(await writtenTo(out)).toEqual([]);
        expect(await cacheTemps(cache)).toEqual([]);
      } finally {
        close();
      }
    },
    10 * 60_000,
  );

  it("a mirror serving an altered (badly signed) index: exit 1, nothing used", async () => {
    // Changes one character of the signed text of every InRelease file.
    const { url, close } = await tamperingProxy((path, body) =>
      path.endsWith("/InRelease")
        ? Buffer.from(body.toString().replace("Origin: D", "Origin: X"))
        : body,
    );
    try {
      const cache = await tempDir("badsig-cache");
      const out = await tempDir("badsig-out");
      const result = await execa(
        "node",
        [podbootJs, "build", "--out", out, "--cache", cache, "--mirror", url],
        { reject: false, all: true },
      );
      expect(result.exitCode).toBe(1);
      expect(result.all!.trim().split("\n").at(-1)).toMatch(
        /^podboot: the trixie index from .* does not carry a valid signature of debian-archive-keyring; nothing was used — /,
      );
      expect(await writtenTo(out)).toEqual([]);
      expect(await readdir(path.join(cache, "debs")).catch(() => [])).toEqual([]);
    } finally {
      close();
    }
  }, 120_000);

  it(
    "a full output disk: exit 1 saying so, no partial file in out/",
    async () => {
      const out = await tempDir("fulldisk");
      await execa("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", out]);
      try {
        const result = await execa("node", [podbootJs, "build", "--out", out], {
          reject: false,
          all: true,
        });
        expect(result.exitCode).toBe(1);
        expect(result.all!.trim().split("\n").at(-1)).toMatch(
          /^podboot: no space left on device.* — free some space.*--out \/ --cache on a larger filesystem/,
        );
        expect(await writtenTo(out)).toEqual([]);
      } finally {
        await execa("umount", [out]);
      }
    },
    20 * 60_000,
  );

  it(
    "Ctrl-C during the build: exit 130, temporary files removed, nothing in out/ or the cache",
    async () => {
      // An empty cache, so the build is downloading packages when it is interrupted.
      const cache = await tempDir("interrupt-cache");
      const out = await tempDir("interrupt");
      const build = execa("node", [podbootJs, "build", "--out", out, "--cache", cache], {
        reject: false,
        all: true,
      });
      await new Promise<void>((resolve) => {
        build.all!.on("data", (chunk: Buffer) => {
          if (/indexes of trixie updated/.test(chunk.toString())) setTimeout(resolve, 3000);
        });
      });
      build.kill("SIGINT");
      const result = await build;
      expect(result.exitCode).toBe(130);
      expect(result.all).toMatch(/podboot: interrupted \(SIGINT\); temporary files removed/);
      expect(await writtenTo(out)).toEqual([]);
      expect(await cacheTemps(cache)).toEqual([]);
      // Only complete, verified packages ever enter the pool.
      const pool = await readdir(path.join(cache, "debs")).catch(() => [] as string[]);
      expect(pool.filter((f) => !f.endsWith(".deb") && f !== ".verified.json")).toEqual([]);
    },
    20 * 60_000,
  );
});
