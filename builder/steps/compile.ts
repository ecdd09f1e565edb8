// Compiles one component inside a build container: the source archive is bound read-only at
// /sources, unpacked into /build/src, the recipe's script installs into /out (DESTDIR), and every
// file the recipe says it provides must be there afterwards. Cached under a key of the recipe's
// build section, the source's sha256, the build root's and the toolchain's keys; a failed or
// interrupted build leaves no cache entry.
import { lstat, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PodbootError } from "../errors.ts";
import { sha256File } from "../fs/hash.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import type { Component } from "../recipe/component.ts";
import { fileRef, label, ref, type Ref } from "../step/inputs.ts";
import { runStep, type StepDefinition, type StepIO } from "../step/step.ts";
import { engineKey, type Engine, type EngineName } from "../tools/engine.ts";
import type { ContainerSpec } from "../tools/runc.ts";
import type { BuildRoot } from "./build-root.ts";
import { buildScripts } from "./compile-scripts.ts";
import type { ObtainedSource } from "./sources.ts";

export interface CompiledComponent {
  name: string;
  /** The DESTDIR tree: usr/bin/… */
  tree: string;
  files: BuiltFile[];
  /** Built files delivered next to the image (component.artifacts), with their hashes. */
  artifacts: BuiltFile[];
  key: string;
  cacheHit: boolean;
  seconds: number;
  /** The engine that ran the build container (part of the key unless it is runc). */
  engine: EngineName;
}

export interface BuiltFile {
  path: string;
  sha256: string;
  size: number;
}

/** 2000-01-01, the date a build may stamp into a binary. */
const COMPILE_EPOCH = 946684800;

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

type CompileInputs = {
  name: string;
  version: string;
  provides: string[];
  /** Only when there are some, so that components without artifacts keep their cached builds. */
  artifacts: string[] | undefined;
  build: Component["build"];
  source: Ref<string>;
  /** For a .deb source: the directory inside its data that is the source tree. */
  subdir: string | undefined;
  patches: Ref<string> | undefined;
  root: Ref<string>;
  toolchain: Ref<ToolchainMount> | undefined;
  engine: Ref<Engine>;
  kind: Ref<string>;
};

type CompileResult = Pick<CompiledComponent, "tree" | "files" | "artifacts">;

export const compileStep: StepDefinition<CompileInputs, CompileResult> = {
  kind: "compile",
  version: 2,
  instance: (inputs) => inputs.name,
  task: true,
  async produce(inputs, dir, io) {
    io.progress(
      `${inputs.name}: building from ${inputs.kind.value} in a ${inputs.engine.value.name} container`,
    );
    const tree = path.join(dir, "tree");
    const work = path.join(dir, "work");
    await mkdir(tree);
    await mkdir(work);
    await runBuild(inputs, { dir, tree, work }, io);
    await rm(work, { recursive: true, force: true });
    for (const provided of [...inputs.provides, ...(inputs.artifacts ?? [])]) {
      const stat = await lstat(path.join(tree, provided)).catch(() => undefined);
      if (!stat?.isFile()) {
        throw new PodbootError(
          `${inputs.name}: the build did not install ${provided} (full log: ${io.log.path})`,
          `make the script in recipes/components/${inputs.name}.yaml install it under $DESTDIR`,
          { exitCode: 1 },
        );
      }
    }
    // Hashed once here, so that reading the entry back does not hash tens of MB every build.
    await writeFile(path.join(dir, "files.json"), JSON.stringify(await describeFiles(dir, inputs)));
  },
  async read(dir, inputs) {
    const recorded = await readFile(path.join(dir, "files.json"), "utf8").then(
      (text) => JSON.parse(text) as Omit<CompileResult, "tree">,
      // Entries made before files.json was written: hash them now.
      () => describeFiles(dir, inputs),
    );
    return { tree: path.join(dir, "tree"), ...recorded };
  },
  summary: (result, inputs) =>
    `${inputs.name} ${inputs.version}: ${result.files.map((f) => `${f.path} ${(f.size / 1e3).toFixed(0)} kB`).join(", ")}`,
};

async function describeFiles(
  dir: string,
  inputs: Pick<CompileInputs, "provides" | "artifacts">,
): Promise<Omit<CompileResult, "tree">> {
  const describe = async (provided: string): Promise<BuiltFile> => {
    const file = path.join(dir, "tree", provided);
    return { path: provided, sha256: await sha256File(file), size: (await lstat(file)).size };
  };
  return {
    files: await Promise.all(inputs.provides.map(describe)),
    artifacts: await Promise.all((inputs.artifacts ?? []).map(describe)),
  };
}

/** The build container (and, with build.vendor, the networked fetch container before it). */
async function runBuild(
  inputs: CompileInputs,
  dirs: { dir: string; tree: string; work: string },
  io: StepIO,
): Promise<void> {
  const archiveName = path.basename(inputs.source.value);
  const patchesName = inputs.patches && path.basename(inputs.patches.value);
  const scripts = buildScripts(inputs.build.vendor === "cargo");
  const toolchain = inputs.toolchain?.value;
  const spec: Omit<ContainerSpec, "args"> = {
    rootfs: inputs.root.value,
    env: {
      PATH: [...(toolchain?.path ?? []), "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"].join(":"),
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
      VERSION: inputs.version,
      // What the wrapper scripts read (compile-scripts.ts): never spliced into their text.
      PODBOOT_SOURCE: `/sources/${archiveName}`,
      PODBOOT_SUBDIR: inputs.subdir ?? "",
      PODBOOT_PATCHES: patchesName ? `/sources/${patchesName}` : "",
      PODBOOT_RECIPE_SCRIPT: inputs.build.script,
      PODBOOT_STRIP: [...inputs.provides, ...(inputs.artifacts ?? [])].join("\n"),
    },
    cwd: "/",
    hostname: inputs.name,
    binds: [
      { source: inputs.source.value, destination: `/sources/${archiveName}`, readonly: true },
      ...(inputs.patches
        ? [{ source: inputs.patches.value, destination: `/sources/${patchesName}`, readonly: true }]
        : []),
      ...(toolchain?.tree
        ? [{ source: toolchain.tree, destination: toolchainDir(toolchain.name), readonly: true }]
        : []),
      { source: dirs.work, destination: "/build", readonly: false },
      { source: dirs.tree, destination: "/out", readonly: false },
    ],
  };
  const engine = inputs.engine.value;
  const options = {
    scratch: dirs.dir,
    rootKey: inputs.root.key as string,
    log: io.log,
    fix: `fix the build script in recipes/components/${inputs.name}.yaml (or its build depends)`,
  };
  if (scripts.fetch) {
    io.progress(`${inputs.name}: fetching the crates Cargo.lock pins`);
    await engine.run(
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
        fix: `check the network and that Cargo.lock in the source of ${inputs.name} is current`,
      },
    );
  }
  await engine.run({ ...spec, args: ["/bin/sh", "-c", scripts.build] }, options);
}

export async function compileComponent(
  env: BuildEnv,
  component: Component,
  source: ObtainedSource,
  root: BuildRoot,
  toolchain?: ToolchainMount,
): Promise<CompiledComponent> {
  const run = await runStep(env, compileStep, {
    name: component.name,
    version: component.version,
    provides: component.provides,
    artifacts: component.artifacts.length > 0 ? component.artifacts : undefined,
    build: component.build,
    source: fileRef(source.archive, source.sha256),
    subdir: source.subdir,
    patches: source.patches && fileRef(source.patches.archive, source.patches.sha256),
    root: ref(root.rootfs, root.key),
    toolchain: toolchain && ref(toolchain, toolchain.key),
    engine: ref(env.engine, engineKey(env.engine)),
    kind: label(source.kind),
  });
  return {
    name: component.name,
    ...run.result,
    key: run.key,
    cacheHit: run.cacheHit,
    seconds: run.seconds,
    engine: env.engine.name,
  };
}
