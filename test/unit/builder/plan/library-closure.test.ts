import { describe, expect, it } from "vitest";
import type { ElfInfo } from "../../../../builder/elf/read.ts";
import { libraryClosure, type StagedFile } from "../../../../builder/plan/library-closure.ts";

const exe = (path: string, needed: string[] = []): StagedFile => ({
  path,
  size: 100,
  elf: { kind: "executable", needed, runpath: [] },
});
const lib = (path: string, needed: string[] = [], extra: Partial<ElfInfo> = {}): StagedFile => ({
  path,
  size: 1000,
  elf: { kind: "library", needed, runpath: [], ...extra },
});
const link = (path: string, target: string): StagedFile => ({
  path,
  size: target.length,
  link: target,
});
const data = (path: string): StagedFile => ({ path, size: 10 });
const L = "usr/lib/x86_64-linux-gnu";

describe("libraryClosure", () => {
  const base = {
    name: "base",
    keep: [`${L}/libgcc_s.so.1`],
    files: [
      exe(`${L}/libc.so.6`, ["ld-linux-x86-64.so.2"]),
      lib(`${L}/ld-linux-x86-64.so.2`),
      lib(`${L}/libm.so.6`, ["libc.so.6"]),
      lib(`${L}/libmvec.so.1`, ["libm.so.6"]),
      lib(`${L}/libgcc_s.so.1`, ["libc.so.6"]),
      lib(`${L}/gconv/IBM1390.so`, ["libc.so.6"]),
      exe("usr/bin/busybox"),
      link("lib", "usr/lib"),
      data("etc/passwd"),
    ],
  };
  const podman = {
    name: "podman",
    keep: [],
    files: [
      exe("usr/bin/podman", ["libgpgme.so.11", "libc.so.6"]),
      link(`${L}/libgpgme.so.11`, "libgpgme.so.11.33.2"),
      lib(`${L}/libgpgme.so.11.33.2`, ["libassuan.so.9", "libc.so.6"]),
      lib(`${L}/libassuan.so.9`, ["libc.so.6"]),
      lib(`${L}/libcrypto.so.3`, ["libc.so.6"]),
      link(`${L}/libcrypto.so`, "libcrypto.so.3"),
      lib(`${L}/libssl.so.3`, ["libcrypto.so.3"]),
      // a plugin loaded by its path (dlopen): kept, and what it links with it
      lib(`${L}/xtables/libxt_RETURN.so`, ["libxtables.so.12"]),
      lib(`${L}/libxtables.so.12`, ["libc.so.6"]),
    ],
  };

  it("keeps what programs load, through links and other libraries, and leaves out the rest", () => {
    const { unused, neededBy } = libraryClosure([base, podman]);
    expect(
      unused
        .get("base")!
        .map((f) => f.path)
        .sort(),
    ).toEqual([`${L}/libm.so.6`, `${L}/libmvec.so.1`]);
    // A library only another unused library needs goes too, and the links leading to it.
    expect(
      unused
        .get("podman")!
        .map((f) => f.path)
        .sort(),
    ).toEqual([`${L}/libcrypto.so`, `${L}/libcrypto.so.3`, `${L}/libssl.so.3`]);
    expect(neededBy.get(`${L}/libassuan.so.9`)).toBe(`${L}/libgpgme.so.11.33.2`);
    expect(neededBy.get(`${L}/libgpgme.so.11.33.2`)).toBe("usr/bin/podman");
  });

  it("keeps a library a keep rule names though nothing links it (dlopen)", () => {
    const { unused } = libraryClosure([base, podman]);
    expect(unused.get("base")!.map((f) => f.path)).not.toContain(`${L}/libgcc_s.so.1`);
  });

  it("keeps libraries outside the linker's directories (plugins, gconv modules) and what they need", () => {
    const { neededBy } = libraryClosure([base, podman]);
    expect(neededBy.get(`${L}/libxtables.so.12`)).toBe(`${L}/xtables/libxt_RETURN.so`);
  });

  it("finds libraries in a RUNPATH, $ORIGIN included", () => {
    const app = {
      name: "app",
      keep: [],
      files: [
        {
          ...exe("usr/lib/app/bin/app", ["libapp.so"]),
          elf: {
            kind: "executable" as const,
            needed: ["libapp.so", "libc.so.6"],
            runpath: ["$ORIGIN/../lib"],
          },
        },
        lib("usr/lib/app/lib/libapp.so", ["libc.so.6"]),
      ],
    };
    expect(libraryClosure([base, app]).unused.get("app")).toEqual([]);
  });

  it("fails the build naming the program, the library and the extension when a library is missing", () => {
    const broken = {
      name: "network",
      keep: [],
      files: [exe("usr/sbin/nft", ["libnftables.so.1", "libc.so.6"])],
    };
    expect(() => libraryClosure([base, broken])).toThrow(
      "usr/sbin/nft (extension network) needs libnftables.so.1, which no extension of this build ships",
    );
  });

  it("takes a later extension's file over an earlier one's of the same path", () => {
    const shadow = { name: "top", keep: [], files: [exe(`${L}/libm.so.6`, ["libc.so.6"])] };
    // The top extension's libm is a program here (it has an interpreter): kept; base's copy is
    // shadowed and left as it is.
    const { unused } = libraryClosure([base, shadow]);
    expect(unused.get("top")).toEqual([]);
    expect(unused.get("base")!.map((f) => f.path)).not.toContain(`${L}/libm.so.6`);
  });
});
