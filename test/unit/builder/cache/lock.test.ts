import { execa } from "execa";
import { mkdtemp, readdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  lockCache,
  lockFile,
  LockTimeout,
  type LockHolder,
} from "../../../../builder/cache/lock.ts";

const tmpCache = () => mkdtemp(path.join(os.tmpdir(), "podboot-lock-"));

describe("lockCache", () => {
  it("lets one holder in; the next waits, is told who holds it, and gets it on release", async () => {
    const cache = await tmpCache();
    const first = await lockCache(cache, "podboot build");
    const told: LockHolder[] = [];
    const second = lockCache(cache, "podboot cache prune", { onWait: (h) => told.push(h) });
    await sleep(700);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ pid: process.pid, command: "podboot build" });
    await first.release();
    const lock = await second;
    await lock.release();
    expect(await readdir(cache)).toEqual([]);
  });

  it("gives up after timeoutMs, naming the holder", async () => {
    const cache = await tmpCache();
    const held = await lockCache(cache, "podboot build");
    const waiting = lockCache(cache, "podboot build", { timeoutMs: 400 });
    await expect(waiting).rejects.toBeInstanceOf(LockTimeout);
    await expect(waiting).rejects.toThrow(`pid ${process.pid} (podboot build`);
    await held.release();
  });

  it("takes over the lock of a holder that died without releasing it", async () => {
    const cache = await tmpCache();
    const dead = await execa("sh", ["-c", "echo $$"]);
    const stale: LockHolder = {
      pid: Number(dead.stdout),
      host: hostname(),
      command: "podboot build",
      since: "",
    };
    await writeFile(lockFile(cache), JSON.stringify(stale));
    const lock = await lockCache(cache, "podboot build", { timeoutMs: 2000 });
    await lock.release();
  });

  it("respects a lock held from another machine (a shared cache): it cannot tell it is stale", async () => {
    const cache = await tmpCache();
    const remote: LockHolder = { pid: 1, host: "elsewhere", command: "podboot build", since: "" };
    await writeFile(lockFile(cache), JSON.stringify(remote));
    await expect(lockCache(cache, "podboot build", { timeoutMs: 400 })).rejects.toThrow(
      /locked by pid 1 \(podboot build/,
    );
  });
});
