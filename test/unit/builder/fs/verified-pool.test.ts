import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { VerifiedPool } from "../../../../builder/fs/verified-pool.ts";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe("VerifiedPool", () => {
  it("hashes a file once, again only after it changed, and keeps what it knows across opens", async () => {
    const pool = await mkdtemp(path.join(os.tmpdir(), "podboot-pool-"));
    await mkdir(path.join(pool, "ab"));
    const file = path.join(pool, "ab", "source.tar");
    await writeFile(file, "first");
    const verified = await VerifiedPool.open(pool);
    expect(await verified.sha256("ab/source.tar")).toBe(sha("first"));
    await verified.save();
    const saved = JSON.parse(await readFile(path.join(pool, ".verified.json"), "utf8"));
    expect(saved["ab/source.tar"].sha256).toBe(sha("first"));

    // Replaced (a new inode, as a download's rename makes): hashed again, not taken from memory.
    await rm(file);
    await writeFile(file, "second, longer");
    expect(await verified.sha256("ab/source.tar")).toBe(sha("second, longer"));
  });

  it("writes one whole file when several users save at once", async () => {
    const pool = await mkdtemp(path.join(os.tmpdir(), "podboot-pool-"));
    const names = ["a", "b", "c", "d"];
    for (const name of names) await writeFile(path.join(pool, name), name);
    const verified = await VerifiedPool.open(pool);
    await Promise.all(
      names.map(async (name) => {
        await verified.sha256(name);
        await verified.save();
      }),
    );
    const saved = JSON.parse(await readFile(path.join(pool, ".verified.json"), "utf8"));
    expect(Object.keys(saved).sort()).toEqual(names);
  });
});
