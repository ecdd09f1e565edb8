import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { parseElf, readElf } from "../../../../builder/elf/read.ts";

// The host's own programs and libraries are real ELF files to read.
describe("readElf", () => {
  it("reads an executable's needed libraries", async () => {
    const ls = await readElf("/bin/ls");
    expect(ls?.kind).toBe("executable");
    expect(ls?.needed).toContain("libc.so.6");
  });

  it("reads a library's soname and what it needs", async () => {
    const lib = await readElf("/usr/lib/x86_64-linux-gnu/libz.so.1");
    expect(lib).toMatchObject({ kind: "library", soname: "libz.so.1" });
    expect(lib?.needed).toContain("libc.so.6");
  });

  it("counts libc, which has an interpreter, as an executable", async () => {
    expect((await readElf("/usr/lib/x86_64-linux-gnu/libc.so.6"))?.kind).toBe("executable");
  });

  it("says undefined for what is not a 64-bit ELF file", async () => {
    expect(parseElf(Buffer.from("#!/bin/sh\necho hello\n"))).toBeUndefined();
    expect(parseElf(await readFile("/etc/hostname"))).toBeUndefined();
    expect(parseElf(Buffer.alloc(10))).toBeUndefined();
  });
});
