import { execa } from "execa";
import { mkdtemp, readFile, readlink, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { CpioWriter, cpioHeader, readNewc } from "../../../../builder/cpio/newc.ts";

async function archive(build: (w: CpioWriter) => Promise<void>): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const writer = new CpioWriter(out, 1_700_000_000);
  await build(writer);
  await writer.finish();
  return Buffer.concat(chunks);
}

describe("cpio newc writer", () => {
  it("writes the 110-byte header with magic 070701 and hex fields", () => {
    const header = cpioHeader({
      ino: 1,
      mode: 0o100644,
      nlink: 1,
      mtime: 16,
      size: 255,
      nameSize: 5,
    });
    expect(header.length).toBe(110);
    expect(header.toString("ascii", 0, 6)).toBe("070701");
    expect(header.toString("ascii", 54, 62)).toBe("000000ff");
  });

  it("pads every entry to 4 bytes and ends with the trailer", async () => {
    const data = await archive(async (w) => {
      await w.add({ type: "file", path: "a", data: Buffer.from("xyz") });
    });
    expect(data.length % 4).toBe(0);
    expect(data.includes(Buffer.from("TRAILER!!!\0"))).toBe(true);
  });

  it("is read back by GNU cpio with files, modes, links and directories intact", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "cpio-test-"));
    const big = path.join(dir, "big.bin");
    await writeFile(big, Buffer.alloc(70_001, 7));
    const data = await archive(async (w) => {
      await w.add({ type: "dir", path: "bin" });
      await w.add({
        type: "file",
        path: "init",
        mode: 0o755,
        data: Buffer.from("#!/bin/sh\necho hi\n"),
      });
      await w.add({ type: "symlink", path: "bin/sh", target: "busybox" });
      await w.add({ type: "file-from-disk", path: "bin/big", source: big, size: 70_001 });
    });
    const into = path.join(dir, "x");
    await execa("mkdir", [into]);
    await execa("cpio", ["-idm", "--quiet"], { cwd: into, input: data });
    expect(await readFile(path.join(into, "init"), "utf8")).toBe("#!/bin/sh\necho hi\n");
    expect((await stat(path.join(into, "init"))).mode & 0o777).toBe(0o755);
    expect(await readlink(path.join(into, "bin/sh"))).toBe("busybox");
    expect((await readFile(path.join(into, "bin/big"))).equals(Buffer.alloc(70_001, 7))).toBe(true);
    expect((await stat(path.join(into, "init"))).mtimeMs).toBe(1_700_000_000_000);
  });

  it("is byte-identical for the same input", async () => {
    const make = () =>
      archive(async (w) => w.add({ type: "file", path: "f", data: Buffer.from("same") }));
    expect((await make()).equals(await make())).toBe(true);
  });
});

describe("cpio newc reader", () => {
  it("reads back what the writer wrote: paths, modes, times and data", async () => {
    const data = await archive(async (w) => {
      await w.add({ type: "dir", path: "etc" });
      await w.add({ type: "file", path: "etc/odd", mode: 0o600, data: Buffer.from("abcde") });
      await w.add({ type: "symlink", path: "etc/link", target: "odd" });
    });
    const members = readNewc(data);
    expect(members.map((m) => [m.path, m.mode.toString(8), m.mtime])).toEqual([
      ["etc", "40755", 1_700_000_000],
      ["etc/odd", "100600", 1_700_000_000],
      ["etc/link", "120777", 1_700_000_000],
    ]);
    expect(members[1]!.data.toString()).toBe("abcde");
    expect(members[2]!.data.toString()).toBe("odd");
  });

  it("reads archives concatenated as an initramfs is (stage 1, then the extensions)", async () => {
    const first = await archive(async (w) => {
      await w.add({ type: "file", path: "init", data: Buffer.from("#!/bin/sh\n") });
    });
    const second = await archive(async (w) => {
      await w.add({ type: "file", path: "podboot/extensions/base.sqfs", data: Buffer.from("x") });
    });
    const members = readNewc(Buffer.concat([first, Buffer.alloc(8), second]));
    expect(members.map((m) => m.path)).toEqual(["init", "podboot/extensions/base.sqfs"]);
  });

  it("refuses what is not newc, and a truncated archive", async () => {
    expect(() => readNewc(Buffer.from("not an archive".repeat(10)))).toThrow(/not a newc cpio/);
    const data = await archive(async (w) => {
      await w.add({ type: "file", path: "f", data: Buffer.alloc(1000, 1) });
    });
    expect(() => readNewc(data.subarray(0, 500))).toThrow(/f: the archive is truncated/);
  });
});
