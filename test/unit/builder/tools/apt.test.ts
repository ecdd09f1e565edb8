import { describe, expect, it } from "vitest";
import { parseUris } from "../../../../builder/tools/apt.ts";

describe("apt: the closure from --print-uris", () => {
  it("reads name and version from each file name, the epoch unquoted", () => {
    const output = [
      "'http://mirror.invalid/debian/pool/main/b/busybox/busybox-static_1.37.0-6%2bb9_amd64.deb' busybox-static_1%3a1.37.0-6+b9_amd64.deb 955316 MD5Sum:608bc9dedd07ab4017e384be25d6edc6",
      "'http://mirror.invalid/debian/pool/main/g/glibc/libc6_2.41-12%2bdeb13u5_amd64.deb' libc6_2.41-12+deb13u5_amd64.deb 2850108 MD5Sum:3cf652965605c5dc915ff47a929bbe84",
      "'http://mirror.invalid/debian/pool/main/c/ca-certificates/ca-certificates_20250419_all.deb' ca-certificates_20250419_all.deb 162412 MD5Sum:00000000000000000000000000000000",
      "W: a warning line is not a package",
      "",
    ].join("\n");
    expect(parseUris(output)).toEqual([
      { name: "busybox-static", version: "1:1.37.0-6+b9" },
      { name: "libc6", version: "2.41-12+deb13u5" },
      { name: "ca-certificates", version: "20250419" },
    ]);
  });
});
