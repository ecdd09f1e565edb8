import { Spec, Validation } from "@cyclonedx/cyclonedx-library";
import { describe, expect, it } from "vitest";
import { catalogMarkdown, etcSources } from "../../../../builder/publish/catalog.ts";
import { cycloneDx } from "../../../../builder/publish/sbom.ts";
import { copyrightLicenses, type PackageInventory } from "../../../../builder/steps/inventory.ts";
import type { Manifest } from "../../../../builder/publish/manifest.ts";

const sha = (c: string) => c.repeat(64);

const manifest: Manifest = {
  name: "podboot",
  version: "0.1.0",
  recipe: { file: "recipes/podboot.yaml", sha256: sha("a") },
  sourceDateEpoch: 1700000000,
  debian: { mirror: "http://mirror.invalid/debian", suite: "trixie" },
  kernel: {
    origin: "build",
    release: "6.12.117-podboot",
    package: "linux-source-6.12",
    version: "6.12.117-1",
    sha256: sha("b"),
    size: 3_900_000,
    modules: [],
    fragments: ["base", "containers", "virt"],
    provenance: "compiled from source: linux-source-6.12 6.12.117-1",
  },
  packages: [
    {
      name: "crun",
      version: "1.21-1",
      source: "crun",
      sha256: sha("c"),
      extension: "runtime",
      provenance:
        "Debian binary package from trixie, verified against the signed archive index, except usr/bin/crun: compiled from source as component crun",
    },
    {
      name: "e2fsprogs",
      version: "1.47.2-3",
      source: "e2fsprogs",
      sha256: sha("d"),
      extension: "system",
      provenance: "Debian binary package from trixie, verified against the signed archive index",
    },
  ],
  components: [
    {
      name: "crun",
      version: "1.21",
      package: "crun",
      license: "GPL-2.0-or-later AND LGPL-2.1-or-later",
      provenance: "compiled from source (debian-source) in a runc build container",
      source: { kind: "debian-source", sha256: sha("e"), file: "crun_1.21.orig.tar.gz" },
      buildContainer: { engine: "runc", suite: "trixie", rootKey: "k", toolchain: ["gcc-14 14.2"] },
      files: [{ path: "usr/bin/crun", sha256: sha("f"), size: 555_000 }],
    },
  ],
  toolchains: [],
  extensions: [
    {
      name: "system",
      dependsOn: [],
      sha256: sha("1"),
      size: 1,
      unpackedSize: 2,
      compression: "xz",
      files: 2,
      packages: ["e2fsprogs"],
    },
    {
      name: "runtime",
      dependsOn: ["system"],
      sha256: sha("2"),
      size: 1,
      unpackedSize: 2,
      compression: "xz",
      files: 1,
      packages: ["crun"],
    },
    {
      name: "overlay",
      dependsOn: [],
      sha256: sha("3"),
      size: 1,
      unpackedSize: 2,
      compression: "xz",
      files: 3,
      packages: [],
    },
  ],
  images: [],
  initramfs: {
    size: 1,
    uncompressedSize: 2,
    compression: "zstd",
    busybox: {
      name: "busybox-stage1",
      version: "1.37.0",
      license: "GPL-2.0-only",
      provenance: "compiled from source (debian-source) in a runc build container",
      source: { kind: "debian-source", sha256: sha("7"), file: "busybox_1.37.0.orig.tar.bz2" },
      files: [{ path: "usr/bin/busybox", sha256: sha("8"), size: 292_696 }],
    },
  },
  iso: { file: "podboot.iso", size: 10, sha256: sha("9"), volumeId: "PODBOOT_0_1_0" },
};

const inventory = new Map<string, PackageInventory>([
  ["crun", { licenses: ["GPL-2+", "LGPL-2.1+"], etc: [] }],
  ["e2fsprogs", { licenses: ["GPL-2"], etc: ["etc/mke2fs.conf", "etc/e2scrub.conf"] }],
]);
const files = new Map([
  ["system", ["etc/mke2fs.conf", "usr/sbin/mke2fs"]],
  ["runtime", ["usr/bin/crun"]],
  ["overlay", ["etc/mke2fs.conf", "etc/podboot-release", "etc/profile"]],
]);

describe("copyrightLicenses", () => {
  it("reads the License fields of a machine-readable copyright file", () => {
    const text =
      "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n\nFiles: lib/*\nLicense: LGPL-2.1+\n full text\n\nLicense: GPL-2+\n text\n";
    expect(copyrightLicenses(text)).toEqual(["GPL-2+", "LGPL-2.1+"]);
  });

  it("names nothing for a free-form copyright file", () => {
    expect(
      copyrightLicenses("This package is licensed under the GPL.\nLicense: see below\n"),
    ).toEqual([]);
  });
});

describe("cycloneDx", () => {
  const json = cycloneDx(manifest, inventory);
  const bom = JSON.parse(json);

  it("is valid CycloneDX 1.6 (the library's strict JSON validator)", async () => {
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    expect(await validator.validate(json)).toBeNull();
  });

  it("lists each package with purl, sha256, licenses and its extension", () => {
    const e2fsprogs = bom.components.find((c: { name: string }) => c.name === "e2fsprogs");
    expect(e2fsprogs.purl).toBe(
      "pkg:deb/debian/e2fsprogs@1.47.2-3?arch=amd64&distro=debian-trixie",
    );
    expect(e2fsprogs.hashes).toEqual([{ alg: "SHA-256", content: sha("d") }]);
    expect(e2fsprogs.licenses).toEqual([{ license: { name: "GPL-2" } }]);
    expect(e2fsprogs.properties).toContainEqual({ name: "podboot:extension", value: "system" });
  });

  it("lists each compiled component with its source hash, license and binaries", () => {
    const crun = bom.components.find((c: { "bom-ref": string }) => c["bom-ref"] === "source:crun");
    expect(crun.hashes).toEqual([{ alg: "SHA-256", content: sha("e") }]);
    expect(crun.licenses).toEqual([{ expression: "GPL-2.0-or-later AND LGPL-2.1-or-later" }]);
    expect(crun.properties).toContainEqual({
      name: "podboot:file:usr/bin/crun",
      value: `sha256:${sha("f")}`,
    });
  });

  it("lists stage 1's busybox as compiled, replacing no package", () => {
    const busybox = bom.components.find(
      (c: { "bom-ref": string }) => c["bom-ref"] === "source:busybox-stage1",
    );
    expect(busybox.hashes).toEqual([{ alg: "SHA-256", content: sha("7") }]);
    expect(busybox.properties).toContainEqual({
      name: "podboot:file:usr/bin/busybox",
      value: `sha256:${sha("8")}`,
    });
    expect(
      busybox.properties.some((p: { name: string }) => p.name === "podboot:replaces-package"),
    ).toBe(false);
  });

  it("is reproducible: same build, same bytes; the time is the build's", () => {
    expect(cycloneDx(manifest, inventory)).toBe(json);
    expect(bom.metadata.timestamp).toBe("2023-11-14T22:13:20.000Z");
  });
});

describe("catalog", () => {
  const inputs = { manifest, inventory, files, generated: new Set(["etc/podboot-release"]) };

  it("says where each /etc file comes from; the overlay's copy wins", () => {
    expect([...etcSources(inputs)]).toEqual([
      ["etc/mke2fs.conf", { extension: "overlay", from: "rootfs-overlay/etc/mke2fs.conf" }],
      ["etc/podboot-release", { extension: "overlay", from: "generated by podboot build" }],
      ["etc/profile", { extension: "overlay", from: "rootfs-overlay/etc/profile" }],
    ]);
    const withoutOverlay = new Map(files);
    withoutOverlay.set("overlay", []);
    expect(etcSources({ ...inputs, files: withoutOverlay }).get("etc/mke2fs.conf")).toEqual({
      extension: "system",
      from: "Debian package e2fsprogs",
    });
  });

  it("has the extensions, the compiled components and the packages with licenses", () => {
    const text = catalogMarkdown(inputs);
    expect(text).toContain("| runtime | 0.0 MB | 0.0 MB | 1 | system | 1 |");
    expect(text).toContain("| crun | 1.21 | GPL-2.0-or-later AND LGPL-2.1-or-later |");
    expect(text).toContain("| busybox-stage1 | 1.37.0 | GPL-2.0-only |");
    expect(text).toContain(
      "| crun | 1.21-1 | runtime | GPL-2+; LGPL-2.1+ | Debian binary, except usr/bin/crun: compiled from source as component crun |",
    );
  });
});
