import { describe, expect, it } from "vitest";
import {
  modinfoDepends,
  moduleLoadOrder,
  type ModuleInfo,
} from "../../../../builder/plan/modules.ts";

const modinfo = (...fields: string[]) =>
  Buffer.concat([Buffer.from("\x7fELF junk\0"), ...fields.map((f) => Buffer.from(`${f}\0`))]);

describe("modinfoDepends", () => {
  it("reads depends= and softdep pre:", () => {
    expect(
      modinfoDepends(
        modinfo("license=GPL", "softdep=pre: crc32c", "depends=nf_conntrack,libcrc32c"),
      ),
    ).toEqual(["crc32c", "nf_conntrack", "libcrc32c"]);
  });
  it("handles a module without dependencies", () => {
    expect(modinfoDepends(modinfo("depends=", "name=loop"))).toEqual([]);
    expect(modinfoDepends(modinfo("name=loop"))).toEqual([]);
  });
  it("ignores the post: part of a softdep", () => {
    expect(modinfoDepends(modinfo("softdep=pre: a b post: c"))).toEqual(["a", "b"]);
  });
});

describe("moduleLoadOrder", () => {
  const known = new Map<string, ModuleInfo>([
    ["nft_nat", { name: "nft_nat", depends: ["nf_nat", "nf_tables"] }],
    ["nf_nat", { name: "nf_nat", depends: ["nf_conntrack"] }],
    ["nf_conntrack", { name: "nf_conntrack", depends: ["libcrc32c"] }],
    ["libcrc32c", { name: "libcrc32c", depends: ["crc32c"] }],
    ["nf_tables", { name: "nf_tables", depends: ["libcrc32c"] }],
    ["overlay", { name: "overlay", depends: [] }],
  ]);

  it("orders dependencies first, each once", () => {
    expect(moduleLoadOrder(["nft_nat", "overlay"], known, new Set(), new Set(["crc32c"]))).toEqual([
      "libcrc32c",
      "nf_conntrack",
      "nf_nat",
      "nf_tables",
      "nft_nat",
      "overlay",
    ]);
  });

  it("skips built-in modules and accepts dashes", () => {
    expect(
      moduleLoadOrder(["nft-nat"], known, new Set(["nf_conntrack", "nf_tables", "libcrc32c"])),
    ).toEqual(["nf_nat", "nft_nat"]);
  });

  it("names a module the kernel does not have", () => {
    expect(() => moduleLoadOrder(["overlay", "zfs"], known, new Set())).toThrow(
      "module zfs is not in this kernel",
    );
    expect(() => moduleLoadOrder(["libcrc32c"], known, new Set())).toThrow(
      "module crc32c (needed by libcrc32c) is not in this kernel",
    );
  });
});
