// out/podboot.cdx.json: a CycloneDX 1.6 SBOM of everything the image ships — each Debian package
// (purl, version, sha256 of the verified .deb, the licenses its copyright file names, the
// extension that holds it, its provenance), each component compiled from source (source kind and
// hash, build container, the sha256 of every binary) and the kernel. Pure, so it is unit-tested;
// reproducible: the serial number and timestamp derive from the build, lists are sorted.
import { Enums, Models, Serialize, Spec } from "@cyclonedx/cyclonedx-library";
import { createHash } from "node:crypto";
import { PackageURL } from "packageurl-js";
import { stage1Busybox, type Manifest } from "./manifest.ts";
import type { PackageInventory } from "../steps/inventory.ts";

const sha256 = (value: string) =>
  new Models.HashDictionary([[Enums.HashAlgorithm["SHA-256"], value]]);
const properties = (entries: [string, string | undefined][]) =>
  new Models.PropertyRepository(
    entries.flatMap(([name, value]) => (value ? [new Models.Property(name, value)] : [])),
  );

function debianPurl(name: string, version: string, suite: string): string {
  return new PackageURL("deb", "debian", name, version, {
    arch: "amd64",
    distro: `debian-${suite}`,
  }).toString();
}

/** A UUID derived from the build's content, so two identical builds have the same SBOM. */
function stableUuid(seed: string): string {
  const hex = createHash("sha256").update(seed).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function cycloneDx(manifest: Manifest, inventory: Map<string, PackageInventory>): string {
  const suite = manifest.debian.suite;
  const bom = new Models.Bom({ serialNumber: `urn:uuid:${stableUuid(manifest.iso.sha256)}` });
  bom.metadata.timestamp = new Date(manifest.sourceDateEpoch * 1000);
  bom.metadata.component = new Models.Component(
    Enums.ComponentType.OperatingSystem,
    manifest.name,
    {
      version: manifest.version,
      bomRef: "podboot-image",
      hashes: sha256(manifest.iso.sha256),
      description: "RAM-resident Linux image for running containers with Podman",
    },
  );

  for (const pkg of manifest.packages) {
    const licenses = inventory.get(pkg.name)?.licenses ?? [];
    bom.components.add(
      new Models.Component(Enums.ComponentType.Library, pkg.name, {
        version: pkg.version,
        bomRef: `deb:${pkg.name}`,
        purl: debianPurl(pkg.name, pkg.version, suite),
        hashes: sha256(pkg.sha256),
        licenses: new Models.LicenseRepository(licenses.map((l) => new Models.NamedLicense(l))),
        properties: properties([
          ["podboot:extension", pkg.extension],
          ["podboot:source-package", pkg.source],
          ["podboot:provenance", pkg.provenance],
        ]),
      }),
    );
  }

  for (const component of [...manifest.components, ...stage1Busybox(manifest)]) {
    // A Debian binary is listed above as its package.
    if (component.files) bom.components.add(compiledComponent(component));
  }
  bom.components.add(kernelComponent(manifest));
  const serializer = new Serialize.JsonSerializer(
    new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6),
  );
  return serializer.serialize(bom, { sortLists: true, space: 2 }) + "\n";
}

/** A component podboot compiled: its source, provenance and the hash of each file it ships. */
function compiledComponent(component: Manifest["components"][number]): Models.Component {
  const source = component.source ?? {};
  return new Models.Component(Enums.ComponentType.Application, component.name, {
    version: component.version,
    bomRef: `source:${component.name}`,
    purl: new PackageURL("generic", "podboot", component.name, component.version, {
      ...(source.sha256 && { checksum: `sha256:${source.sha256}` }),
    }).toString(),
    licenses: new Models.LicenseRepository([new Models.LicenseExpression(component.license)]),
    hashes: source.sha256 ? sha256(source.sha256) : undefined,
    properties: properties([
      ["podboot:provenance", component.provenance],
      ["podboot:source-kind", source.kind],
      ["podboot:source", source.url ?? source.file ?? source.package],
      ["podboot:replaces-package", component.package],
      ["podboot:build-container", component.buildContainer?.toolchain.join(", ")],
      ["podboot:compiler", component.compiler],
      ...(component.files ?? []).map((f): [string, string] => [
        `podboot:file:${f.path}`,
        `sha256:${f.sha256}`,
      ]),
    ]),
  });
}

function kernelComponent(manifest: Manifest): Models.Component {
  const kernel = manifest.kernel;
  const suite = manifest.debian.suite;
  return new Models.Component(Enums.ComponentType.OperatingSystem, "linux", {
    version: kernel.release,
    bomRef: "kernel",
    purl: debianPurl(kernel.package, kernel.version, suite),
    hashes: sha256(kernel.sha256),
    licenses: new Models.LicenseRepository([new Models.LicenseExpression("GPL-2.0-only")]),
    properties: properties([
      ["podboot:provenance", kernel.provenance],
      ["podboot:kernel-fragments", kernel.fragments.join(", ")],
    ]),
  });
}
