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
      // a plugin loaded by its path (dlopen) by a program that ships: kept
      exe("usr/sbin/xtables-nft-multi", ["libxtables.so.12", "libc.so.6"]),
      lib(`${L}/xtables/libxt_RETURN.so`, ["libxtables.so.12"]),
      lib(`${L}/libxtables.so.12`, ["libc.so.6"]),
      // a plugin of a library nothing keeps (OpenSSL's engines load into libcrypto): left out
      lib(`${L}/engines-3/padlock.so`, ["libcrypto.so.3", "libc.so.6"]),
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
    ).toEqual([
      `${L}/engines-3/padlock.so`,
      `${L}/libcrypto.so`,
      `${L}/libcrypto.so.3`,
      `${L}/libssl.so.3`,
    ]);
    expect(neededBy.get(`${L}/libassuan.so.9`)).toBe(`${L}/libgpgme.so.11.33.2`);
    expect(neededBy.get(`${L}/libgpgme.so.11.33.2`)).toBe("usr/bin/podman");
  });

  it("keeps a library a keep rule names though nothing links it (dlopen)", () => {
    const { unused } = libraryClosure([base, podman]);
    expect(unused.get("base")!.map((f) => f.path)).not.toContain(`${L}/libgcc_s.so.1`);
  });

  it("keeps plugins (libraries outside the linker's directories) whose host is kept", () => {
    const { unused } = libraryClosure([base, podman]);
    const left = [...unused.values()].flat().map((f) => f.path);
    expect(left).not.toContain(`${L}/xtables/libxt_RETURN.so`);
    expect(left).not.toContain(`${L}/gconv/IBM1390.so`);
  });

  it("keeps an engine once something else keeps its library", () => {
    const curl = { name: "curl", keep: [], files: [exe("usr/bin/curl", ["libcrypto.so.3"])] };
    const { unused, neededBy } = libraryClosure([base, podman, curl]);
    const left = [...unused.values()].flat().map((f) => f.path);
    expect(left).not.toContain(`${L}/engines-3/padlock.so`);
    expect(left).not.toContain(`${L}/libcrypto.so.3`);
    expect(neededBy.get(`${L}/libcrypto.so.3`)).toBe("usr/bin/curl");
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
