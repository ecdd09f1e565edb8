// Compiles one component inside a build container: the source archive is bound read-only at
// /sources, unpacked into /build/src, the recipe's script installs into /out (DESTDIR), and every
// file the recipe says it provides must be there afterwards. The result is cached under a key of
// the recipe's build section, the source's sha256 and the build root's key; a failed or
// interrupted build leaves no cache entry.
import { lstat, mkdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { cacheKey } from "../cache/store.ts";
import { PodbootError } from "../errors.ts";
import type { Component } from "../recipe/component.ts";
import type { BuildRoot } from "./build-root.ts";
import { engineKey, type EngineName } from "../tools/engine.ts";
import type { BuildContext } from "./context.ts";
import { sha256File } from "./packages.ts";
import type { ObtainedSource } from "./sources.ts";

export interface CompiledComponent {
  name: string;
  /** The DESTDIR tree: usr/bin/… */
  tree: string;
  files: { path: string; sha256: string; size: number }[];
  /** Built files delivered next to the image (component.artifacts), with their hashes. */
  artifacts: { path: string; sha256: string; size: number }[];
  key: string;
  cacheHit: boolean;
  seconds: number;
  /** The engine that ran the build container (part of the key unless it is runc). */
  engine: EngineName;
}

const FORMAT = 2;
/** 2000-01-01, the date a build may stamp into a binary. */
const COMPILE_EPOCH = 946684800;

/** How the build container finds its source under /sources. */
export interface SourceFiles {
  archive: string;
  /** For a .deb: the directory inside its data that is the source tree. */
  subdir?: string;
  /** Debian's packaging tarball whose patch series is applied. */
  patches?: string;
}

/** A compiler built before the component (build.toolchain), mounted read-only in its container. */
export interface ToolchainMount {
  name: string;
  /**
   * The toolchain's DESTDIR tree on the host, bound read-only at toolchainDir(name); absent when
   * Debian's package, installed in the build root, stands in for it.
   */
  tree?: string;
  /** Directories (inside the container) put first on PATH. */
  path: string[];
  /** Cache key of the toolchain build (or its Debian package version): part of the component's. */
  key: string;
}

export function toolchainDir(name: string): string {
  return `/toolchains/${name}`;
}

/**
 * The scripts a component's build runs. `build` unpacks the source and, when Debian's packaging
 * tarball is given, applies its patch series, then runs the recipe's script and strips what it
 * installed. With build.vendor, unpacking moves to `fetch`, which also downloads the pinned
 * dependencies (the one step with network); `build` then continues in the same /build offline.
 */
export function buildScripts(
  component: Component,
  files: SourceFiles,
): { fetch?: string; build: string } {
  const { archive, subdir, patches } = files;
  const unpack = subdir
    ? [
        // A .deb's data lists ./usr/share/…: strip the dot and every directory above the tree.
        `dpkg-deb --fsys-tarfile /sources/${archive} | tar -x -C /build/src --strip-components=${subdir.split("/").length + 1} ./${subdir}/`,
      ]
    : [`tar -xf /sources/${archive} -C /build/src --strip-components=1`];
  const applyPatches = patches
    ? [
        "mkdir -p /build/debian",
        `tar -xf /sources/${patches} -C /build/debian`,
        "if [ -f /build/debian/debian/patches/series ]; then",
        "  grep -v -e '^#' -e '^[[:space:]]*$' /build/debian/debian/patches/series | while read -r patch options; do",
        '    echo "applying Debian patch $patch"',
        '    patch --batch --forward --no-backup-if-mismatch ${options:--p1} < "/build/debian/debian/patches/$patch"',
        "  done",
        "fi",
      ]
    : [];
  const prepare = ["set -eu", "mkdir -p /build/src", ...unpack, "cd /build/src", ...applyPatches];
  const compile = [
    component.build.script.trimEnd(),
    // Ship stripped binaries, as Debian does; a non-ELF file is left as it is.
    ...[...component.provides, ...component.artifacts].map(
      (p) => `strip --strip-unneeded "$DESTDIR/${p}" 2>/dev/null || true`,
    ),
    "",
  ];
  if (component.build.vendor !== "cargo") return { build: [...prepare, ...compile].join("\n") };
  return {
    fetch: [
      ...prepare,
      // cargo checks every crate it downloads against Cargo.lock's checksum; the configuration
      // it prints points the offline build at the vendored copies.
      'mkdir -p "$CARGO_HOME"',
      'cargo vendor --locked --versioned-dirs /build/vendor > "$CARGO_HOME/config.toml"',
      "",
    ].join("\n"),
    build: ["set -eu", "cd /build/src", ...compile].join("\n"),
  };
}

export async function compileComponent(
  ctx: BuildContext,
  component: Component,
  source: ObtainedSource,
  root: BuildRoot,
  toolchain?: ToolchainMount,
): Promise<CompiledComponent> {
  const key = cacheKey({
    format: FORMAT,
    name: component.name,
    version: component.version,
    provides: component.provides,
    // Only when there are some, so that components without artifacts keep their cached builds.
    ...(component.artifacts.length > 0 && { artifacts: component.artifacts }),
    build: component.build,
    source: source.sha256,
    patches: source.patches?.sha256,
    root: root.key,
    toolchain: toolchain?.key,
    engine: engineKey(ctx.engine),
  });
  const log = ctx.log.stepLog(`compile-${component.name}`);
  const started = Date.now();
  try {
    const { dir, hit } = await ctx.cache.getOrCreate("compile", key, async (tmp) => {
      ctx.log.task(component.name, { state: "running" });
      ctx.log.step(
        "compile",
        `${component.name}: building from ${source.kind} in a ${ctx.engine.name} container`,
      );
      const tree = path.join(tmp, "tree");
      const work = path.join(tmp, "work");
      await mkdir(tree);
      await mkdir(work);
      const archiveName = path.basename(source.archive);
      const patchesName = source.patches && path.basename(source.patches.archive);
      const scripts = buildScripts(component, {
        archive: archiveName,
        subdir: source.subdir,
        patches: patchesName,
      });
      const spec = {
        rootfs: root.rootfs,
        env: {
          PATH: [...(toolchain?.path ?? []), "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"].join(
            ":",
          ),
          // Go never fetches a toolchain or a module, cargo never a crate: everything the build
          // needs is in the container.
          GOTOOLCHAIN: "local",
          GOPROXY: "off",
          GOFLAGS: "-trimpath -buildvcs=false",
          CARGO_HOME: "/build/cargo",
          CARGO_NET_OFFLINE: "true",
          HOME: "/build",
          LC_ALL: "C.UTF-8",
          TZ: "UTC",
          DESTDIR: "/out",
          JOBS: String(os.availableParallelism()),
          // Fixed, so that a new podboot commit does not recompile unchanged sources.
          SOURCE_DATE_EPOCH: String(COMPILE_EPOCH),
          VERSION: component.version,
        },
        cwd: "/",
        hostname: component.name,
        binds: [
          { source: source.archive, destination: `/sources/${archiveName}`, readonly: true },
          ...(source.patches
            ? [
                {
                  source: source.patches.archive,
                  destination: `/sources/${patchesName}`,
                  readonly: true,
                },
              ]
            : []),
          ...(toolchain?.tree
            ? [
                {
                  source: toolchain.tree,
                  destination: toolchainDir(toolchain.name),
                  readonly: true,
                },
              ]
            : []),
          { source: work, destination: "/build", readonly: false },
          { source: tree, destination: "/out", readonly: false },
        ],
      };
      const options = {
        scratch: tmp,
        rootKey: root.key,
        log,
        fix: `fix the build script in recipes/components/${component.name}.yaml (or its build depends)`,
      };
      if (scripts.fetch) {
        ctx.log.step("compile", `${component.name}: fetching the crates Cargo.lock pins`);
        await ctx.engine.run(
          {
            ...spec,
            env: { ...spec.env, CARGO_NET_OFFLINE: "false" },
            args: ["/bin/sh", "-c", scripts.fetch],
            network: "host",
            // Name resolution for the downloads: the host's resolver configuration.
            binds: [
              ...spec.binds,
              { source: "/etc/resolv.conf", destination: "/etc/resolv.conf", readonly: true },
            ],
          },
          {
            ...options,
            fix: `check the network and that Cargo.lock in the source of ${component.name} is current`,
          },
        );
      }
      await ctx.engine.run({ ...spec, args: ["/bin/sh", "-c", scripts.build] }, options);
      await rm(work, { recursive: true, force: true });
      for (const provided of [...component.provides, ...component.artifacts]) {
        const stat = await lstat(path.join(tree, provided)).catch(() => undefined);
        if (!stat?.isFile()) {
          throw new PodbootError(
            `${component.name}: the build did not install ${provided} (full log: ${log.path})`,
            `make the script in recipes/components/${component.name}.yaml install it under $DESTDIR`,
            { exitCode: 1 },
          );
        }
      }
    });
    const tree = path.join(dir, "tree");
    const describe = async (provided: string) => {
      const file = path.join(tree, provided);
      return { path: provided, sha256: await sha256File(file), size: (await lstat(file)).size };
    };
    const files = await Promise.all(component.provides.map(describe));
    const artifacts = await Promise.all(component.artifacts.map(describe));
    const seconds = (Date.now() - started) / 1000;
    ctx.log.task(component.name, { state: hit ? "cached" : "done" });
    ctx.log.step(
      "compile",
      `${component.name} ${component.version}: ${files.map((f) => `${f.path} ${(f.size / 1e3).toFixed(0)} kB`).join(", ")}${hit ? " (cached)" : ` in ${seconds.toFixed(1)} s`}`,
    );
    return {
      name: component.name,
      tree,
      files,
      artifacts,
      key,
      cacheHit: hit,
      seconds,
      engine: ctx.engine.name,
    };
  } catch (error) {
    ctx.log.task(component.name, { state: "failed" });
    throw error;
  } finally {
    await log.close();
  }
}
