// `podboot build --format sysext`: the podman stack as a systemd-sysext image (Flatcar-style), for
// hosts that run systemd. The recipe's sysext.extensions are unpacked over one another; their /usr
// becomes the image (sysext merges only /usr and /opt). What they hold under /etc (containers'
// policy.json, registries.conf …) cannot be merged, so it is kept under
// /usr/share/podboot-sysext/etc and a oneshot unit copies each file that the host lacks. The
// release file says ID=_any: the binaries need a glibc at least as new as Debian trixie's.
import {
  chmod,
  copyFile,
  cp,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { pathExists } from "fs-extra";
import path from "node:path";
import { replaceAtomically } from "../fs/atomic.ts";
import { debPaths, isBaseSystemPackage } from "../tools/dpkg-deb.ts";
import { mksquashfs } from "../tools/mksquashfs.ts";
import type { Recipe } from "../recipe/schema.ts";
import type { BuildEnv } from "../pipeline/env.ts";
import type { StepLog } from "../report/events.ts";
import { ref, type Ref } from "../step/inputs.ts";
import { runStep, type StepDefinition } from "../step/step.ts";
import { copyTreeOver } from "../tools/files.ts";
import { unsquashfs } from "../tools/unsquashfs.ts";
import type { ResolvedPackages } from "./packages.ts";
import type { BuiltExtension } from "./extensions.ts";
import { sha256File } from "../fs/hash.ts";

export interface BuiltSysext {
  name: string;
  file: string;
  sha256: string;
  size: number;
  extensions: string[];
  /** Packages of the stack left to the host, as part of every base system. */
  fromHost: string[];
}

/** Where the /etc files of the stack wait for the setup unit. */
export const ETC_DEFAULTS = "usr/share/podboot-sysext/etc";
const SETUP = "usr/libexec/podboot-sysext/setup";

export function extensionRelease(name: string, version: string): string {
  return [
    // Any distribution may merge it; only the architecture must match.
    "ID=_any",
    "ARCHITECTURE=x86-64",
    `PODBOOT_SYSEXT=${name}`,
    `PODBOOT_VERSION=${version}`,
    "",
  ].join("\n");
}

export function setupUnit(name: string): string {
  return [
    "[Unit]",
    `Description=Default configuration for the ${name} system extension (podboot)`,
    "After=systemd-sysext.service",
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=/${SETUP}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** Copies each default /etc file the host does not have; warns when rootless cannot work yet. */
export function setupScript(): string {
  return [
    "#!/bin/sh",
    "# Installs the podman stack's default configuration where the host has none; never overwrites.",
    "set -eu",
    `defaults=/${ETC_DEFAULTS}`,
    'cd "$defaults"',
    "find . -type f | while read -r file; do",
    '  target="/etc/${file#./}"',
    '  if [ ! -e "$target" ]; then',
    '    mkdir -p "$(dirname "$target")"',
    '    cp -p "$file" "$target"',
    '    echo "podboot-sysext: installed default $target"',
    "  fi",
    "done",
    "# Rootless podman needs subordinate ids for each user that runs it.",
    "if ! grep -qs . /etc/subuid || ! grep -qs . /etc/subgid; then",
    '  echo "podboot-sysext: /etc/subuid or /etc/subgid has no ranges; rootless podman needs them (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER)"',
    "fi",
    "",
  ].join("\n");
}

/** The recipe's sysext.extensions must be extensions the recipe builds (checked before building). */
type SysextInputs = {
  name: string;
  version: string;
  compression: Recipe["compression"]["squashfs"];
  blockSize: number;
  epoch: number;
  /** The extensions stacked, in order, each keyed by its image and its packages' hashes. */
  extensions: Ref<{ name: string; image: string; packages: { name: string; deb: string }[] }>[];
};

interface SysextInfo {
  sha256: string;
  size: number;
  fromHost: string[];
}

export const sysextStep: StepDefinition<SysextInputs, SysextInfo> = {
  kind: "sysext",
  version: 1,
  async produce(inputs, dir, io) {
    const work = path.join(dir, "work");
    const stage = path.join(work, "stage");
    // In order, so that a later extension's file wins, as when they are stacked at boot. Each is
    // unpacked apart and copied over with --remove-destination: unsquashfs -f would write through
    // an earlier extension's hard link and change every name of that file.
    await mkdir(stage, { recursive: true });
    const chosen = inputs.extensions.map((e) => e.value);
    for (const extension of chosen) {
      const unpacked = path.join(work, `unpacked-${extension.name}`);
      await unsquashfs(extension.image, unpacked, io.log);
      await copyTreeOver(unpacked, stage, io.log);
      await rm(unpacked, { recursive: true });
    }
    const fromHost = await removeBaseSystem(
      stage,
      chosen.flatMap((e) => e.packages),
    );
    io.log.write(`left to the host as part of every base system: ${fromHost.join(", ")}\n`);
    const root = path.join(work, "root");
    await sysextTree(stage, root, inputs, io.log);
    const file = path.join(dir, `${inputs.name}.raw`);
    const options = {
      compression: inputs.compression,
      blockSize: inputs.blockSize,
      epoch: inputs.epoch,
    };
    await mksquashfs(root, file, options, io.log);
    await rm(work, { recursive: true, force: true });
    const info: SysextInfo = {
      sha256: await sha256File(file),
      size: (await stat(file)).size,
      fromHost: fromHost.sort(),
    };
    await writeFile(path.join(dir, "info.json"), JSON.stringify(info) + "\n");
  },
  read: async (dir) =>
    JSON.parse(await readFile(path.join(dir, "info.json"), "utf8")) as SysextInfo,
  summary: (info, inputs) =>
    `${inputs.name}.raw ${(info.size / 1e6).toFixed(1)} MB (systemd-sysext of ${inputs.extensions.map((e) => e.value.name).join(", ")})`,
};

/**
 * What every system already has (sed, mount, …: Essential, required or important) stays the
 * host's: a merged /usr must not replace the host's own base tools with Debian trixie's. The
 * extensions the stack stands on (base, system: the C library, libcrypt …) are not in the image
 * either; the binaries expect a host at least as new as Debian trixie.
 */
async function removeBaseSystem(
  stage: string,
  packages: { name: string; deb: string }[],
): Promise<string[]> {
  const fromHost: string[] = [];
  for (const { name, deb } of packages) {
    if (!(await isBaseSystemPackage(deb))) continue;
    fromHost.push(name);
    for (const file of await debPaths(deb, { links: true })) {
      await rm(path.join(stage, file), { force: true });
    }
  }
  return fromHost;
}

/** /usr and /opt of the stage, /etc kept as defaults, the release file and the setup unit. */
async function sysextTree(
  stage: string,
  root: string,
  inputs: { name: string; version: string },
  log: StepLog,
): Promise<void> {
  await mkdir(root);
  await rename(path.join(stage, "usr"), path.join(root, "usr"));
  if (await pathExists(path.join(stage, "opt"))) {
    await rename(path.join(stage, "opt"), path.join(root, "opt"));
  }
  if (await pathExists(path.join(stage, "etc"))) {
    await mkdir(path.dirname(path.join(root, ETC_DEFAULTS)), { recursive: true });
    await cp(path.join(stage, "etc"), path.join(root, ETC_DEFAULTS), {
      recursive: true,
      verbatimSymlinks: true,
    });
  }
  const left = (await readdir(stage)).filter((entry) => !["usr", "opt", "etc"].includes(entry));
  if (left.length > 0)
    log.write(`left out (sysext merges /usr and /opt only): ${left.join(", ")}\n`);
  const releaseDir = path.join(root, "usr/lib/extension-release.d");
  await mkdir(releaseDir, { recursive: true });
  await writeFile(
    path.join(releaseDir, `extension-release.${inputs.name}`),
    extensionRelease(inputs.name, inputs.version),
  );
  await mkdir(path.join(root, "usr/lib/systemd/system"), { recursive: true });
  await writeFile(
    path.join(root, "usr/lib/systemd/system", `podboot-sysext-${inputs.name}-setup.service`),
    setupUnit(inputs.name),
  );
  await mkdir(path.dirname(path.join(root, SETUP)), { recursive: true });
  await writeFile(path.join(root, SETUP), setupScript());
  await chmod(path.join(root, SETUP), 0o755);
}

export async function buildSysext(
  env: BuildEnv,
  recipe: Recipe,
  extensions: BuiltExtension[],
  packages: ResolvedPackages,
): Promise<BuiltSysext> {
  const chosen = recipe.sysext.extensions.map((want) => extensions.find((e) => e.name === want)!);
  const run = await runStep(env, sysextStep, {
    name: recipe.sysext.name,
    version: recipe.version,
    compression: recipe.compression.squashfs,
    blockSize: recipe.compression.squashfsBlockSize,
    epoch: env.epoch,
    extensions: chosen.map((e) =>
      ref(
        {
          name: e.name,
          image: e.image,
          packages: e.packages.map((name) => ({ name, deb: packages.debs.get(name)! })),
        },
        [e.name, e.sha256, e.packages.map((name) => packages.records.get(name)!.sha256)],
      ),
    ),
  });
  const file = path.join(env.outDir, `${recipe.sysext.name}.raw`);
  await replaceAtomically(file, (tmp) =>
    copyFile(path.join(run.dir, `${recipe.sysext.name}.raw`), tmp),
  );
  return {
    name: recipe.sysext.name,
    file,
    ...run.result,
    extensions: chosen.map((e) => e.name),
  };
}
