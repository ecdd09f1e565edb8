import { describe, expect, it } from "vitest";
import {
  parseSquashfsListing,
  sizeSvg,
  sizeText,
  summarize,
} from "../../../../builder/commands/size.ts";
import { parseDebListing } from "../../../../builder/tools/dpkg-deb.ts";

describe("listings", () => {
  it("takes regular files from unsquashfs -lln, with sizes; links and directories are skipped", () => {
    const listing = [
      "drwxr-xr-x 0/0                      37 2000-01-01 00:00 R",
      "drwxr-xr-x 0/0                      54 2000-01-01 00:00 R/usr/bin",
      "-rwxr-xr-x 0/0                27340656 2000-01-01 00:00 R/usr/bin/skopeo",
      "lrwxrwxrwx 0/0                       6 2000-01-01 00:00 R/usr/bin/sh -> dash",
      "-rw-r--r-- 0/0                     813 2000-01-01 00:00 R/etc/a file with spaces",
    ].join("\n");
    expect(parseSquashfsListing(listing)).toEqual([
      { path: "usr/bin/skopeo", size: 27340656 },
      { path: "etc/a file with spaces", size: 813 },
    ]);
  });

  it("takes regular files from dpkg-deb -c, relative to the root", () => {
    const listing = [
      "drwxr-xr-x root/root         0 2025-12-16 19:36 ./usr/bin/",
      "-rwxr-xr-x root/root    145000 2025-12-16 19:36 ./usr/bin/conmon",
      "lrwxrwxrwx root/root         0 2025-12-16 19:36 ./usr/bin/x -> conmon",
    ].join("\n");
    expect(parseDebListing(listing)).toEqual(["usr/bin/conmon"]);
    expect(parseDebListing(listing, { links: true })).toEqual(["usr/bin/conmon", "usr/bin/x"]);
  });
});

describe("summarize", () => {
  const manifest = {
    iso: { file: "podboot.iso", size: 60e6, sha256: "", volumeId: "" },
    initramfs: { size: 50e6, uncompressedSize: 51e6, compression: "zstd" },
    extensions: [
      {
        name: "runtime",
        dependsOn: [],
        sha256: "",
        size: 2e6,
        unpackedSize: 8e6,
        compression: "xz",
        files: 3,
        packages: [],
      },
      {
        name: "podman",
        dependsOn: [],
        sha256: "",
        size: 20e6,
        unpackedSize: 60e6,
        compression: "xz",
        files: 2,
        packages: [],
      },
    ],
  };
  const files = new Map([
    [
      "runtime",
      [
        { path: "usr/bin/crun", size: 500_000 },
        { path: "usr/bin/conmon", size: 150_000 },
        { path: "etc/podboot-extra", size: 10 },
      ],
    ],
    [
      "podman",
      [
        { path: "usr/bin/podman", size: 45e6 },
        { path: "usr/libexec/podman/rootlessport", size: 3e6 },
      ],
    ],
  ]);
  const owners = new Map([
    ["usr/bin/crun", { name: "crun", extension: "runtime" }],
    ["usr/bin/conmon", { name: "conmon", extension: "runtime" }],
    ["usr/bin/podman", { name: "podman", extension: "podman" }],
    ["usr/libexec/podman/rootlessport", { name: "podman", extension: "podman" }],
  ]);
  const report = summarize(manifest, files, owners, 2, {
    neededBy: new Map([["usr/libexec/podman/rootlessport", "usr/bin/podman"]]),
    unused: new Map([["podman", { files: 36, bytes: 18_000_000 }]]),
  });

  it("sums each package's files, largest first; unowned files are named as such", () => {
    expect(report.packages.map((p) => [p.name, p.bytes, p.files])).toEqual([
      ["podman", 48e6, 2],
      ["crun", 500_000, 1],
      ["conmon", 150_000, 1],
      ["(runtime: not from a package)", 10, 1],
    ]);
  });

  it("lists extensions and the largest files by size", () => {
    expect(report.extensions.map((e) => e.name)).toEqual(["podman", "runtime"]);
    expect(report.largest).toEqual([
      { path: "usr/bin/podman", extension: "podman", owner: "podman", size: 45e6 },
      {
        path: "usr/libexec/podman/rootlessport",
        extension: "podman",
        owner: "podman",
        size: 3e6,
        neededBy: "usr/bin/podman",
      },
    ]);
  });

  it("prints aligned tables: names to the left, figures to the right", () => {
    const text = sizeText(report, 2);
    expect(text).toContain("podboot.iso: 60.0 MB: the kernel, stage 1 and the extensions below");
    expect(text).toContain("initrd.img, 50.0 MB zstd, holds both for a network boot");
    expect(text).not.toContain("not in the ISO");
    const beside = sizeText(
      {
        ...report,
        extensions: report.extensions.map((e) => ({ ...e, loadable: e.name === "runtime" })),
      },
      2,
    );
    expect(beside).toContain(
      "(not in the ISO: runtime, beside it in extensions/ for podboot-load)",
    );
    expect(text).toMatch(/^podman {6}20\.0 MB {2}xz {6}60\.0 MB {6}2 {2}36 \(18\.0 MB\)$/m);
    expect(text).toMatch(
      /^usr\/libexec\/podman\/rootlessport +podman +3\.0 MB +usr\/bin\/podman$/m,
    );
    expect(text).toMatch(/^crun +runtime +0\.5 MB +1$/m);
    expect(text).not.toMatch(/^conmon /m); // --top 2
  });

  it("names the kernel's size and stage 1's, with its largest file", () => {
    const withBoot = summarize(
      { ...manifest, kernel: { size: 4_858_880 } },
      files,
      owners,
      2,
      undefined,
      [
        { path: "init", size: 6_892 },
        { path: "bin/busybox", size: 292_696 },
      ],
    );
    expect(withBoot.stage1.map((f) => f.path)).toEqual(["bin/busybox", "init"]);
    expect(sizeText(withBoot, 2)).toContain(
      "podboot.iso: 60.0 MB: the kernel 4.9 MB, stage 1 0.3 MB unpacked (bin/busybox 0.3 MB) and the extensions below",
    );
  });

  it("draws one bar per extension and per listed package, with escaped labels", () => {
    const svg = sizeSvg({ ...report, iso: { ...report.iso, file: "a&b.iso" } }, 2);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<rect x="300"/g)).toHaveLength(2 + 2);
    expect(svg).toContain("What fills a&amp;b.iso");
    expect(svg).toContain(">podman [podman]<");
  });
});
