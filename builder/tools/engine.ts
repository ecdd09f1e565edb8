// The build container engines. runc (the default) runs a generated OCI bundle and needs no daemon
// or storage; `--engine podman` runs the same root directory with `podman run --rootfs`, and
// `--engine docker` imports it once as an image (tagged by the root's cache key) and runs that.
// Every engine gets the same container: no network, read-only root, the same binds, capabilities
// and environment. A container that never started its command is the engine's failure, told apart
// from the build script's own by a line the wrapper prints first.
import { execFileSync } from "node:child_process";
import { execa } from "execa";
import path from "node:path";
import { onInterrupt } from "../cleanup.ts";
import { PodbootError } from "../errors.ts";
import type { StepLog } from "../report/events.ts";
import { lastLines, run } from "./run.ts";
import { CAPABILITIES, runContainer, type ContainerSpec } from "./runc.ts";

export type EngineName = "runc" | "podman" | "docker";

/** Printed by the container before the command; its absence means the engine failed. */
export const STARTED_MARKER = "podboot: build container started";

export interface EngineRunOptions {
  /** A scratch directory of the step (runc writes its bundle there). */
  scratch: string;
  /** The build root's cache key: docker tags its imported image with it. */
  rootKey: string;
  log: StepLog;
  fix: string;
  onLine?: (line: string) => void;
}

export interface Engine {
  name: EngineName;
  run(spec: ContainerSpec, options: EngineRunOptions): Promise<void>;
}

/**
 * The engine's part of a step's cache key: a compile under podman or docker is its own entry;
 * runc, the default, adds nothing, so that runc's entries keep the keys they had.
 */
export function engineKey(engine: Engine): EngineName | undefined {
  return engine.name === "runc" ? undefined : engine.name;
}

/** The command, behind a shell that first says it started. */
export function markedArgs(args: string[]): string[] {
  return ["/bin/sh", "-c", `echo "${STARTED_MARKER}"; exec "$@"`, "sh", ...args];
}

/** `podman run` / `docker run` arguments for a spec; pure, so it is unit-tested. */
export function cliRunArgs(
  engine: "podman" | "docker",
  spec: ContainerSpec,
  name: string,
  image?: string,
): string[] {
  const network = spec.network ?? "none";
  const args = ["run", "--rm", "--name", name, "--network", network, "--read-only"];
  args.push("--user", "0:0", "--hostname", spec.hostname, "--workdir", spec.cwd);
  args.push("--cap-drop", "all", ...CAPABILITIES.flatMap((c) => ["--cap-add", c]));
  args.push("--security-opt", "no-new-privileges");
  // podman's --read-only already puts tmpfs on /tmp and /run; docker needs them asked for.
  if (engine === "docker") args.push("--tmpfs", "/tmp", "--tmpfs", "/run", "--pull", "never");
  for (const [key, value] of Object.entries(spec.env)) args.push("--env", `${key}=${value}`);
  for (const bind of spec.binds) {
    args.push(
      "--mount",
      `type=bind,source=${bind.source},destination=${bind.destination}${bind.readonly ? ",readonly" : ""}`,
    );
  }
  if (engine === "podman") args.push("--rootfs", spec.rootfs);
  else args.push(image!);
  return [...args, ...markedArgs(spec.args)];
}

const INSTALL: Record<"podman" | "docker", string> = {
  podman: "apt-get install podman",
  docker: "apt-get install docker.io",
};

/** Checks the engine is installed and answering; returns it. */
export async function openEngine(name: EngineName, cacheRoot: string): Promise<Engine> {
  if (name === "runc") {
    const stateDir = path.join(cacheRoot, "runc");
    return {
      name,
      run: (spec, options) =>
        runEngine(name, options, (onLine) =>
          runContainer(
            { ...spec, args: markedArgs(spec.args) },
            {
              bundleDir: path.join(options.scratch, `bundle-${spec.hostname}`),
              stateDir,
              log: options.log,
              fix: options.fix,
              onLine,
            },
          ),
        ),
    };
  }
  const probe = await execa(name, ["info"], { reject: false, all: true, timeout: 60_000 });
  if ((probe as { code?: string }).code === "ENOENT") {
    throw new PodbootError(
      `--engine ${name}: ${name} is not installed`,
      `install it (${INSTALL[name]}) or build with the default engine, --engine runc`,
    );
  }
  if (probe.exitCode !== 0) {
    throw new PodbootError(
      `--engine ${name}: \`${name} info\` fails, so ${name} cannot run build containers: ${lastLines(String(probe.all ?? ""), 1)}`,
      name === "docker"
        ? "start the docker daemon (systemctl start docker) or use --engine runc"
        : "fix podman's setup (podman info shows the cause) or use --engine runc",
    );
  }
  return {
    name,
    run: async (spec, options) => {
      const image = name === "docker" ? await dockerImage(spec.rootfs, options) : undefined;
      const container = `podboot-${spec.hostname}-${process.pid}-${Date.now().toString(36)}`;
      // A container left behind by an interrupted or failed start is removed either way.
      const remove = () => execa(name, ["rm", "--force", container], { reject: false });
      const forget = onInterrupt(() =>
        execFileSync(name, ["rm", "--force", container], { stdio: "ignore" }),
      );
      try {
        await runEngine(name, options, (onLine) =>
          run(name, cliRunArgs(name, spec, container, image), {
            log: options.log,
            fix: options.fix,
            onLine,
          }).then(() => undefined),
        );
      } finally {
        forget();
        await remove();
      }
    },
  };
}

/** Runs one container; a failure before the marker is reported as the engine's, not the script's. */
async function runEngine(
  name: EngineName,
  options: EngineRunOptions,
  start: (onLine: (line: string) => void) => Promise<void>,
): Promise<void> {
  let started = false;
  try {
    await start((line) => {
      if (line === STARTED_MARKER) started = true;
      else options.onLine?.(line);
    });
  } catch (error) {
    // Not started, with output: the engine said why. (No output: e.g. not installed; as it is.)
    if (started || !(error instanceof PodbootError) || !error.detail) throw error;
    throw new PodbootError(
      `${name} could not start the build container (full log: ${options.log.path}): ${lastLines(error.detail, 1)}`,
      name === "runc"
        ? "run `podboot check-host`; runc needs root and a kernel with namespaces"
        : "use the default engine, --engine runc, which needs no daemon",
      { exitCode: 2, detail: error.detail },
    );
  }
}

/** docker runs images only: the build root is imported once, tagged by its cache key. */
async function dockerImage(rootfs: string, options: EngineRunOptions): Promise<string> {
  const tag = `podboot-build-root:${options.rootKey.slice(0, 32)}`;
  const known = await execa("docker", ["image", "inspect", tag], { reject: false });
  if (known.exitCode === 0) return tag;
  options.log.write(`$ tar -C ${rootfs} -c . | docker import - ${tag}\n`);
  const tar = execa("tar", ["-C", rootfs, "--numeric-owner", "-cf", "-", "."], { buffer: false });
  const imported = execa("docker", ["import", "-", tag], { reject: false, all: true });
  tar.stdout?.pipe(imported.stdin!);
  const [, result] = await Promise.all([tar, imported]);
  if (result.exitCode !== 0) {
    throw new PodbootError(
      `docker import of the build root failed: ${lastLines(String(result.all ?? ""), 1)}`,
      "check the docker daemon's storage (docker info) or use --engine runc",
    );
  }
  return tag;
}
