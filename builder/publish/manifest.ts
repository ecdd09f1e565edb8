// out/manifest.json (what went into the ISO, with provenance) and out/SHA256SUMS.
import path from "node:path";
import type { Recipe } from "../recipe/schema.ts";
import type { BuiltExtension } from "../steps/extensions.ts";
import type { BuiltKernel } from "../steps/kernel/index.ts";
import type { BakedImage } from "../steps/images.ts";
import type { EngineName } from "../tools/engine.ts";
import type { ResolvedPackages } from "../steps/packages.ts";
import type { ComponentOutcome, ToolchainOutcome } from "../steps/components.ts";
import type { BuiltSysext } from "../steps/sysext.ts";

export interface Manifest {
  name: string;
  version: string;
  recipe: { file: string; sha256: string };
  sourceDateEpoch: number;
  debian: { mirror: string; suite: string };
  kernel: {
    /** build: compiled from source; debian: the prebuilt Debian kernel (fast path). */
    origin: "build" | "debian";
    release: string;
    /** The kernel image package (debian) or the kernel source package (build). */
    package: string;
    version: string;
    sha256: string;
    /** Size of the kernel image (bzImage) in bytes. */
    size: number;
    modules: string[];
    fragments: string[];
    provenance: string;
    compileSeconds?: number;
  };
  packages: {
    name: string;
    version: string;
    source: string;
    sha256: string;
    extension: string;
    provenance: string;
  }[];
  /** The recipe's components: compiled from source, or the Debian binary and why. */
  components: {
    name: string;
    version: string;
    /** The Debian package it replaces, or (podboot's own tools) the extension it ships in. */
    package?: string;
    extension?: string;
    license: string;
    provenance: string;
    source?: Record<string, string>;
    buildContainer?: { engine: EngineName; suite: string; rootKey: string; toolchain: string[] };
    /** The compiler of build.toolchain: "go-1.24, compiled from source …" or a Debian package. */
    compiler?: string;
    files?: { path: string; sha256: string; size: number }[];
    /** Built files delivered next to the image, as out/host/NAME (not in the image). */
    artifacts?: { path: string; sha256: string; size: number }[];
    /** Wall-clock seconds of the compile, when this build ran it (absent on a cache hit). */
    compileSeconds?: number;
  }[];
  /** Compilers podboot built (or took from Debian) for the components; not shipped. */
  toolchains: Manifest["components"];
  extensions: {
    name: string;
    dependsOn: string[];
    sha256: string;
    size: number;
    unpackedSize: number;
    /** squashfs codec */
    compression: string;
    files: number;
    packages: string[];
    /** Not on the ISO: out/extensions/NAME.sqfs, for podboot-load. */
    loadable?: true;
  }[];
  images: { reference: string; digest: string; size: number }[];
  initramfs: {
    size: number;
    uncompressedSize: number;
    compression: string;
    /** Stage 1's busybox (recipe stage1.busybox): compiled, or busybox-static's binary and why
     * (absent from the manifests of builds before it). */
    busybox?: Manifest["components"][number];
  };
  iso: { file: string; size: number; sha256: string; volumeId: string };
  /** The systemd-sysext image of `--format sysext`. */
  sysext?: {
    file: string;
    size: number;
    sha256: string;
    extensions: string[];
    /** Base-system packages the stack needs from the host (Essential, or required/important). */
    fromHost: string[];
  };
}

/** What the manifest says of the build itself. */
export interface ManifestHeader {
  recipe: Recipe;
  recipeFile: string;
  recipeSha256: string;
  epoch: number;
  debian: { mirror: string; suite: string };
}

export function buildManifest(
  header: ManifestHeader,
  parts: {
    packages: ResolvedPackages;
    components: ComponentOutcome[];
    stage1: ComponentOutcome;
    toolchains: ToolchainOutcome[];
    kernel: BuiltKernel;
    extensions: BuiltExtension[];
    images: BakedImage[];
    initramfs: { size: number; uncompressedSize: number };
    iso: { file: string; size: number; sha256: string; volumeId: string };
    sysext?: BuiltSysext;
  },
): Manifest {
  const owner = new Map(
    parts.extensions.flatMap((e) => e.packages.map((p) => [p, e.name] as const)),
  );
  const { recipe } = header;
  const debianBinary = `Debian binary package from ${header.debian.suite}, verified against the signed archive index`;
  const kernel = parts.packages.kernelPackage;
  const compiledFor = new Map(
    parts.components.flatMap((c) =>
      c.use === "source" ? [[c.component.package, c] as const] : [],
    ),
  );
  return {
    name: recipe.name,
    version: recipe.version,
    recipe: { file: header.recipeFile, sha256: header.recipeSha256 },
    sourceDateEpoch: header.epoch,
    debian: header.debian,
    kernel: {
      origin: parts.kernel.origin,
      release: parts.kernel.release,
      package: kernel.name,
      version: kernel.version,
      sha256: kernel.sha256,
      size: parts.kernel.size,
      modules: parts.kernel.modules,
      fragments: parts.kernel.fragments,
      provenance: parts.kernel.provenance,
      compileSeconds: parts.kernel.compileSeconds,
    },
    packages: [...parts.packages.records.values()]
      .filter((r) => owner.has(r.name))
      .map((r) => ({
        name: r.name,
        version: r.version,
        source: r.source,
        sha256: r.sha256,
        extension: owner.get(r.name)!,
        provenance: packageProvenance(debianBinary, compiledFor.get(r.name)),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    components: parts.components.map(componentRecord),
    toolchains: parts.toolchains.map(componentRecord),
    extensions: parts.extensions.map((e) => ({
      name: e.name,
      dependsOn: e.dependsOn,
      sha256: e.sha256,
      size: e.size,
      unpackedSize: e.unpackedSize,
      compression: e.compression,
      files: e.fileCount,
      packages: e.packages,
      ...(e.loadable && { loadable: true as const }),
    })),
    images: parts.images.map((i) => ({
      reference: i.reference,
      digest: i.digest,
      size: i.size,
    })),
    // Sizes only: the manifest names no path of the build machine.
    initramfs: {
      size: parts.initramfs.size,
      uncompressedSize: parts.initramfs.uncompressedSize,
      compression: recipe.compression.initramfs,
      // It stands in for busybox-static in the initramfs alone: it replaces no shipped package.
      busybox: { ...componentRecord(parts.stage1), package: undefined },
    },
    iso: parts.iso,
    ...(parts.sysext && {
      sysext: {
        file: path.basename(parts.sysext.file),
        size: parts.sysext.size,
        sha256: parts.sysext.sha256,
        extensions: parts.sysext.extensions,
        fromHost: parts.sysext.fromHost,
      },
    }),
  };
}

/** SHA256SUMS text: each file named relative to dir (the output directory), as sha256sum -c reads it. */
export function sha256sums(dir: string, entries: { file: string; sha256: string }[]): string {
  return entries
    .map((e) => `${e.sha256}  ${path.relative(dir, e.file).split(path.sep).join("/")}\n`)
    .join("");
}

function componentRecord(
  outcome: ComponentOutcome | ToolchainOutcome,
): Manifest["components"][number] {
  const { component } = outcome;
  const base = {
    name: component.name,
    version: component.version,
    ...(component.package !== undefined && { package: component.package }),
    ...(component.extension !== undefined && { extension: component.extension }),
    license: component.license,
  };
  if (outcome.use === "prebuilt") {
    return {
      ...base,
      provenance: `Debian binary package ${component.package}, because ${outcome.reason}`,
    };
  }
  return {
    ...base,
    provenance: `compiled from source (${outcome.source.kind}) in a ${outcome.compiled.engine} build container`,
    source: { kind: outcome.source.kind, sha256: outcome.source.sha256, ...outcome.source.origin },
    buildContainer: {
      engine: outcome.compiled.engine,
      suite: outcome.root.suite,
      rootKey: outcome.root.key,
      toolchain: outcome.root.toolchain.map((p) => `${p.name} ${p.version}`),
    },
    ...("toolchain" in outcome && outcome.toolchain && { compiler: compilerOf(outcome.toolchain) }),
    files: outcome.compiled.files,
    ...(outcome.compiled.artifacts.length > 0 && {
      artifacts: outcome.compiled.artifacts.map((a) => ({ ...a, path: hostArtifactPath(a.path) })),
    }),
    ...(!outcome.compiled.cacheHit && { compileSeconds: Math.round(outcome.compiled.seconds) }),
  };
}

/** Stage 1's busybox, as older manifests do not record it. */
export function stage1Busybox(manifest: Pick<Manifest, "initramfs">): Manifest["components"] {
  return manifest.initramfs.busybox ? [manifest.initramfs.busybox] : [];
}

/** Where a component's artifact lands in the output directory: host/ and its file name. */
export function hostArtifactPath(built: string): string {
  return path.posix.join("host", path.posix.basename(built));
}

function compilerOf(toolchain: ToolchainOutcome): string {
  const { name, version, package: debian } = toolchain.component;
  if (toolchain.use === "prebuilt") {
    return `${name}: Debian's ${debian}, because ${toolchain.reason}`;
  }
  const programs = toolchain.compiled.files.map((f) => `${f.path} sha256 ${f.sha256}`).join(", ");
  return `${name} ${version}, compiled by podboot from ${toolchain.source.kind} ${toolchain.source.origin.file ?? toolchain.source.origin.url ?? ""} (${programs})`;
}

function packageProvenance(debianBinary: string, compiled: ComponentOutcome | undefined): string {
  if (!compiled) return debianBinary;
  const files = compiled.component.provides.join(", ");
  return `${debianBinary}, except ${files}: compiled from source as component ${compiled.component.name}`;
}
