// `podboot release` (`npm run release`): the set of files a GitHub release publishes, made locally
// in out/release/ — the same command the release workflow runs on a tag.
//   build (with the sysext, signed) into OUT-build/ → boot the ISO and run the baked image
//   → check every checksum and signature → move the set into OUT/ in one rename
// out/release/ holds the previous release until the new set is complete and checked.
import { link, mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { trackTemp } from "../cleanup.ts";
import { replaceAtomically } from "../fs/atomic.ts";
import { PodbootError } from "../errors.ts";
import { preflight } from "../host/preflight.ts";
import { requireRoot } from "../pipeline/host.ts";
import { loadRecipeSet } from "../recipe/set.ts";
import { formatPublicKey, verifyData, type PublicKey } from "../sign/minisign.ts";
import type { Manifest } from "../publish/manifest.ts";
import { sha256File } from "../fs/hash.ts";
import { SerialVm } from "../vm/console.ts";
import { chooseAccel } from "../vm/qemu.ts";
import { build, type BuildOptions } from "./build.ts";
import { loadSecretKey } from "./sign.ts";

export interface ReleaseOptions extends Omit<BuildOptions, "outDir" | "sysext" | "signKey"> {
  /** Where the release set goes (out/release); the build itself writes to OUT-build/. */
  outDir: string;
  signKey: string;
  bootTest: boolean;
}

/** SHA256SUMS as file name → sha256. */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split("\n").filter(Boolean)) {
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!match) throw new PodbootError(`malformed SHA256SUMS line: ${line}`, "rebuild the release");
    sums.set(match[2]!, match[1]!);
  }
  return sums;
}

/**
 * The release set of a build directory: every file SHA256SUMS lists, SHA256SUMS itself, each
 * signature, and the public key. Checks each checksum and each signature on the way; throws on
 * the first that does not hold.
 */
export async function releaseSet(buildDir: string, pub: PublicKey): Promise<string[]> {
  const sums = parseSha256Sums(await readFile(path.join(buildDir, "SHA256SUMS"), "utf8"));
  for (const [name, sha256] of sums) {
    if ((await sha256File(path.join(buildDir, name))) !== sha256) {
      throw new PodbootError(`${name} does not match SHA256SUMS`, "rebuild the release", {
        exitCode: 1,
      });
    }
  }
  const signed = ["SHA256SUMS", ...sums.keys()];
  const present = new Set(await readdir(buildDir));
  const signatures: string[] = [];
  for (const name of signed) {
    if (!present.has(`${name}.minisig`)) continue;
    verifyData(
      pub,
      await readFile(path.join(buildDir, name)),
      await readFile(path.join(buildDir, `${name}.minisig`), "utf8"),
      name,
    );
    signatures.push(`${name}.minisig`);
  }
  if (!signatures.includes("SHA256SUMS.minisig")) {
    throw new PodbootError("the build left SHA256SUMS unsigned", "rebuild with a signing key", {
      exitCode: 1,
    });
  }
  return ["SHA256SUMS", ...sums.keys(), ...signatures].sort();
}

/** Boots the ISO under QEMU and runs the baked image: a release that cannot do that is not one. */
export async function bootTest(iso: string, image: string, say: (line: string) => void) {
  const accel = await chooseAccel("auto");
  say(`boot test: ${path.basename(iso)} under QEMU (${accel.toUpperCase()}, 512 MiB)`);
  const vm = SerialVm.start({ iso, memoryMiB: 512, firmware: "bios", accel });
  try {
    await vm.waitForShell(300_000);
    const run = await vm.run(`podman run --rm ${image} >/dev/null 2>&1`, 240_000);
    if (run.status !== 0) {
      throw new PodbootError(
        `the release's ISO booted but \`podman run ${image}\` failed (exit ${run.status})`,
        "boot it with `podboot boot` and run the image to see why",
        { exitCode: 1, detail: vm.transcript.slice(-3000) },
      );
    }
    say(`boot test: podman run ${image} ok after ${vm.seconds.toFixed(0)} s`);
  } catch (error) {
    if (error instanceof PodbootError) throw error;
    throw new PodbootError(
      `the release's ISO did not boot to a root shell: ${(error as Error).message.split("\n")[0]}`,
      "boot it with `podboot boot` to see the console",
      { exitCode: 1, detail: vm.transcript.slice(-3000) },
    );
  } finally {
    vm.kill();
  }
}

export async function release(options: ReleaseOptions): Promise<string[]> {
  const say = (line: string) => {
    if (!options.quiet) process.stderr.write(`podboot: ${line}\n`);
  };
  // The recipe and everything it names, then the key: a mistake stops the release before
  // anything is built or installed.
  const set = await loadRecipeSet(options.recipe, options.projectDir);
  const secret = await loadSecretKey(options.signKey);
  requireRoot("podboot release");
  if (options.bootTest) {
    if (set.recipe.images.length === 0) {
      throw new PodbootError(
        "the recipe bakes no image, so the release's boot test would have nothing to run",
        "add one under images: in the recipe, or pass --no-boot-test",
      );
    }
    await preflight(["boot"], { install: true, say });
  }
  const buildDir = `${options.outDir}-build`;
  const manifest: Manifest = await build({
    ...options,
    outDir: buildDir,
    sysext: true,
    signKey: options.signKey,
  });
  const pubName = `${manifest.name}.pub`;
  await replaceAtomically(path.join(buildDir, pubName), (tmp) =>
    writeFile(tmp, formatPublicKey(secret)),
  );
  const files = [...(await releaseSet(buildDir, secret)), pubName].sort();
  if (options.bootTest) {
    await bootTest(path.join(buildDir, manifest.iso.file), manifest.images[0]!.reference, say);
  }

  // Hard links into a fresh directory, then two renames: OUT is the old set or the new one.
  const staging = `${options.outDir}.tmp`;
  const untrack = trackTemp(staging);
  const old = `${options.outDir}.old`;
  try {
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    for (const name of files) {
      // host/… (artifacts such as podman-remote) keep their directory.
      await mkdir(path.dirname(path.join(staging, name)), { recursive: true });
      await link(path.join(buildDir, name), path.join(staging, name));
    }
    await rm(old, { recursive: true, force: true });
    await rename(options.outDir, old).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    await rename(staging, options.outDir);
    await rm(old, { recursive: true, force: true });
  } finally {
    await rm(staging, { recursive: true, force: true });
    untrack();
  }
  say(`release: ${files.length} files in ${path.relative(process.cwd(), options.outDir)}/`);
  return files;
}
