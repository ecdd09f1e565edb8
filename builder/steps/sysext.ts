// `podboot build --format sysext`: the podman stack as a systemd-sysext image (Flatcar-style), for
// hosts that run systemd. The recipe's sysext.extensions are unpacked over one another; their /usr
// becomes the image (sysext merges only /usr and /opt). What they hold under /etc (containers'
// policy.json, registries.conf …) cannot be merged, so it is kept under
// /usr/share/podboot-sysext/etc and a oneshot unit copies each file that the host lacks. The
// release file says ID=_any: the binaries need a glibc at least as new as Debian trixie's.
import { execa } from "execa";
import { chmod, cp, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { pathExists } from "fs-extra";
import path from "node:path";
import { replaceAtomically } from "../cleanup.ts";
import { PodbootError } from "../errors.ts";
import { debPaths, isBaseSystemPackage } from "../tools/dpkg-deb.ts";
import { mksquashfs } from "../tools/mksquashfs.ts";
import type { Recipe } from "../recipe/schema.ts";
import type { BuildContext } from "./context.ts";
import type { BuiltExtension } from "./extensions.ts";
import { sha256File } from "./packages.ts";

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
export function checkSysext(recipe: Recipe): void {
  const names = recipe.extensions.map((e) => e.name);
  for (const want of recipe.sysext.extensions) {
    if (!names.includes(want)) {
      throw new PodbootError(
        `sysext.extensions names ${want}, which the recipe does not build`,
        `use some of: ${names.join(", ")}`,
      );
    }
  }
}

export async function buildSysext(
  ctx: BuildContext,
  extensions: BuiltExtension[],
  debs: Map<string, string>,
): Promise<BuiltSysext> {
  const { name, extensions: wanted } = ctx.recipe.sysext;
  checkSysext(ctx.recipe);
  const chosen = wanted.map((want) => extensions.find((e) => e.name === want)!);
  const log = ctx.log.stepLog("sysext");
  const work = await mkdtemp(path.join(ctx.cache.root, "tmp-sysext-"));
  try {
    const stage = path.join(work, "stage");
    // In order, so that a later extension's file wins, as when they are stacked at boot. Each is
    // unpacked apart and copied over with --remove-destination: unsquashfs -f would write through
    // an earlier extension's hard link and change every name of that file.
    await mkdir(stage);
    for (const extension of chosen) {
      const unpacked = path.join(work, `unpacked-${extension.name}`);
      await execa("unsquashfs", ["-n", "-d", unpacked, extension.image]);
      await execa("cp", ["-a", "--remove-destination", `${unpacked}/.`, stage]);
      await rm(unpacked, { recursive: true });
    }
    // What every system already has (sed, mount, …: Essential, required or important) stays the
    // host's: a merged /usr must not replace the host's own base tools with Debian trixie's. The
    // extensions the stack stands on (base, system: the C library, libcrypt …) are not in the
    // image either; the binaries expect a host at least as new as Debian trixie.
    const fromHost: string[] = [];
    for (const name of chosen.flatMap((e) => e.packages)) {
      const deb = debs.get(name);
      if (!deb || !(await isBaseSystemPackage(deb))) continue;
      fromHost.push(name);
      for (const file of await debPaths(deb, { links: true })) {
        await rm(path.join(stage, file), { force: true });
      }
    }
    log.write(`left to the host as part of every base system: ${fromHost.join(", ")}\n`);
    const root = path.join(work, "root");
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
      path.join(releaseDir, `extension-release.${name}`),
      extensionRelease(name, ctx.recipe.version),
    );
    await mkdir(path.join(root, "usr/lib/systemd/system"), { recursive: true });
    await writeFile(
      path.join(root, "usr/lib/systemd/system", `podboot-sysext-${name}-setup.service`),
      setupUnit(name),
    );
    await mkdir(path.dirname(path.join(root, SETUP)), { recursive: true });
    await writeFile(path.join(root, SETUP), setupScript());
    await chmod(path.join(root, SETUP), 0o755);

    const file = path.join(ctx.outDir, `${name}.raw`);
    await replaceAtomically(file, (tmp) =>
      mksquashfs(
        root,
        tmp,
        {
          compression: ctx.recipe.compression.squashfs,
          blockSize: ctx.recipe.compression.squashfsBlockSize,
          epoch: ctx.epoch,
        },
        log,
      ),
    );
    const built = {
      name,
      file,
      sha256: await sha256File(file),
      size: (await stat(file)).size,
      extensions: chosen.map((e) => e.name),
      fromHost: fromHost.sort(),
    };
    ctx.log.step(
      "sysext",
      `${path.basename(file)} ${(built.size / 1e6).toFixed(1)} MB (systemd-sysext of ${built.extensions.join(", ")})`,
    );
    return built;
  } finally {
    await rm(work, { recursive: true, force: true });
    await log.close();
  }
}
