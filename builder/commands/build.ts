// `podboot build [recipe]`: the whole pipeline, top to bottom.
//   recipe → packages → components (compiled in build containers) → kernel, images
//   → extensions → initramfs → ISO → manifest + SHA256SUMS
import { createHash } from "node:crypto";
import { copyFile, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import { execa } from "execa";
import { defaultCacheDir, StepCache } from "../cache/store.ts";
import { replaceAtomically } from "../cleanup.ts";
import { PodbootError } from "../errors.ts";
import { hostDebianMirror } from "../host/apt-sources.ts";
import { preflight } from "../host/preflight.ts";
import { ConsoleLogger, TtyLogger, type Logger } from "../log.ts";
import { selectExtensions, withExtensionFragments } from "../plan/extensions.ts";
import { loadRecipe } from "../recipe/load.ts";
import { extractDeb } from "../tools/dpkg-deb.ts";
import { openEngine, type EngineName } from "../tools/engine.ts";
import { AptRoots } from "../steps/apt-roots.ts";
import { buildComponents, buildVerifier, type ComponentOutcome } from "../steps/components.ts";
import { extensionsOrderFile, type BootParts } from "../steps/initramfs.ts";
import { formatPublicKey, signData } from "../sign/minisign.ts";
import type { BuildContext } from "../steps/context.ts";
import { buildExtension, type GeneratedFiles } from "../steps/extensions.ts";
import { bakeImages } from "../steps/images.ts";
import { buildSysext, checkSysext } from "../steps/sysext.ts";
import { buildBootImage } from "../steps/boot-image.ts";
import { loadSecretKey, signFiles } from "./sign.ts";
import { prepareKernel } from "../steps/kernel.ts";
import { inventoryPackages } from "../steps/inventory.ts";
import { catalogMarkdown } from "../release/catalog.ts";
import { cycloneDx } from "../release/sbom.ts";
import {
  buildManifest,
  hostArtifactPath,
  sha256sums,
  writeAtomically,
  type Manifest,
} from "../steps/manifest.ts";
import { resolvePackages, sha256File } from "../steps/packages.ts";

/** Written into the overlay by the build itself. */
const RELEASE_FILE = "etc/podboot-release";

export interface BuildOptions {
  recipe: string;
  outDir: string;
  mirror?: string;
  cacheDir?: string;
  refresh?: boolean;
  projectDir: string;
  quiet?: boolean;
  logger?: Logger;
  /** The fast path: verified Debian binaries for the components, Debian's prebuilt kernel. */
  prebuilt?: boolean;
  /** Overrides kernel.source of the recipe (and --prebuilt's choice). */
  kernel?: "build" | "debian";
  strictSource?: boolean;
  /** A minisign secret key: SHA256SUMS, the ISO and the initramfs get .minisig files. */
  signKey?: string;
  /** Also write the podman stack as a systemd-sysext image (out/NAME.raw). */
  sysext?: boolean;
  /** Optional extensions to build too (recipe extensions marked optional). */
  with?: string[];
  /** Default extensions left out of this build (--without). */
  without?: string[];
  /** What runs the build containers; runc by default. */
  engine?: EngineName;
}

export async function sourceDateEpoch(projectDir: string): Promise<number> {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv && /^[0-9]+$/.test(fromEnv)) return Number(fromEnv);
  const git = await execa("git", ["log", "-1", "--format=%ct"], { cwd: projectDir, reject: false });
  const fromGit = String(git.stdout ?? "").trim();
  return /^[0-9]+$/.test(fromGit) ? Number(fromGit) : 0;
}

/** rootfs-overlay/ as relative path → sha256 of content (or link target), without the stage-1 init. */
export async function overlayFiles(projectDir: string): Promise<Map<string, string>> {
  const root = path.join(projectDir, "rootfs-overlay");
  const files = new Map<string, string>();
  const walk = async (rel: string) => {
    for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      const full = path.join(root, child);
      if (entry.isDirectory()) await walk(child);
      else if (child !== "init") {
        const stat = await lstat(full);
        const content = entry.isSymbolicLink()
          ? `link:${await readlink(full)}`
          : await readFile(full);
        files.set(
          child,
          createHash("sha256")
            .update(String(stat.mode & 0o111))
            .update(content)
            .digest("hex"),
        );
      }
    }
  };
  await walk("");
  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : 1)));
}

export async function build(options: BuildOptions): Promise<Manifest> {
  const started = Date.now();
  const logDir = path.join(options.outDir, "logs");
  await rm(logDir, { recursive: true, force: true });
  // A live task list on a terminal; plain lines for CI, pipes and --quiet.
  const live = process.stderr.isTTY && !options.quiet && !process.env.CI;
  const log =
    options.logger ?? (live ? new TtyLogger(logDir) : new ConsoleLogger(logDir, options.quiet));
  const loaded = await loadRecipe(options.recipe);
  const recipeSha256 = loaded.sha256;
  const kernelSource =
    options.kernel ?? (options.prebuilt ? "debian" : loaded.recipe.kernel.source);
  const extensions = selectExtensions(
    loaded.recipe.extensions,
    options.with ?? [],
    options.without ?? [],
  );
  const recipe = {
    ...loaded.recipe,
    kernel: withExtensionFragments({ ...loaded.recipe.kernel, source: kernelSource }, extensions),
    extensions,
  };
  // Read the key first, so a missing key fails before anything is built.
  const secretKey = options.signKey ? await loadSecretKey(options.signKey) : undefined;
  if (options.sysext) checkSysext(recipe);
  await preflight(["build"], { install: true, say: (line) => log.info(line) });

  const cache = new StepCache(options.cacheDir ?? defaultCacheDir());
  const engine = await openEngine(options.engine ?? "runc", cache.root);
  const mirror = options.mirror ?? recipe.debian.mirror ?? (await hostDebianMirror());
  const aptRoots = new AptRoots(
    cache.root,
    mirror,
    recipe.debian.components,
    log,
    options.refresh ?? false,
  );
  const apt = await aptRoots.get(recipe.debian.suite, "deb");
  await mkdir(options.outDir, { recursive: true });
  const ctx: BuildContext = {
    recipe,
    recipeSha256,
    projectDir: options.projectDir,
    outDir: options.outDir,
    cache,
    apt,
    aptRoots,
    log,
    engine,
    epoch: await sourceDateEpoch(options.projectDir),
  };

  const packages = await resolvePackages(ctx);
  const { components, toolchains } = await buildComponents(ctx, path.dirname(options.recipe), {
    prebuilt: options.prebuilt ?? false,
    strictSource: options.strictSource ?? false,
    shipped: new Set(packages.extensions.flatMap((plan) => plan.owns)),
    leftOut: new Map(
      loaded.recipe.extensions
        .filter((e) => !extensions.includes(e))
        .flatMap((e) => e.packages.map((name) => [name, e.name] as const)),
    ),
  });
  const replacements = new Map(
    components.flatMap((c) =>
      c.use === "source" ? [[c.component.package, c.compiled] as const] : [],
    ),
  );
  const scratch = await mkdtemp(path.join(os.tmpdir(), "podboot-build-"));
  try {
    const busyboxLog = log.stepLog("busybox");
    await extractDeb(packages.debs.get(packages.busyboxPackage.name)!, scratch, busyboxLog);
    await busyboxLog.close();
    const busybox = path.join(scratch, "usr/bin/busybox");

    // The kernel compiles while the extensions are packed; only the overlay, which names the
    // kernel release in /etc/podboot-release, waits for it.
    const kernelReady = prepareKernel(ctx, packages);
    kernelReady.catch(() => undefined); // awaited below; a failure surfaces there
    const images = await bakeImages(ctx, packages);
    // The version of what ships: a component compiled from source, else Debian's package.
    const shippedVersion = (name: string) =>
      components.find((c) => c.use === "source" && c.component.package === name)?.component
        .version ??
      packages.records.get(name)?.version ??
      "none";
    const overlay = async () => {
      const kernel = await kernelReady;
      const generated: GeneratedFiles = new Map([
        [
          RELEASE_FILE,
          Buffer.from(
            [
              `PODBOOT_NAME=${recipe.name}`,
              `PODBOOT_VERSION=${recipe.version}`,
              `KERNEL_RELEASE=${kernel.release}`,
              `PODMAN_VERSION=${shippedVersion("podman")}`,
              `CRUN_VERSION=${shippedVersion("crun")}`,
              `DEBIAN_SUITE=${recipe.debian.suite}`,
              "",
            ].join("\n"),
          ),
        ],
        ...images.map((image) => [image.pathInRoot, image.archive] as const),
      ]);
      return { files: await overlayFiles(options.projectDir), generated };
    };

    const limit = pLimit(Math.max(1, os.availableParallelism()));
    const extensions = await Promise.all(
      packages.extensions.map(async (plan) => {
        const spec = recipe.extensions.find((e) => e.name === plan.name)!;
        const overlayInputs = spec.overlay ? await overlay() : undefined;
        return limit(() =>
          buildExtension(ctx, spec, plan, packages, { overlay: overlayInputs, replacements }),
        );
      }),
    );
    const kernel = await kernelReady;
    const sysext = options.sysext ? await buildSysext(ctx, extensions, packages.debs) : undefined;

    // Signed builds: stage 1 verifies the list of extensions (and through it each one's sha256)
    // with a static verifier and the public key, both baked into the initramfs.
    let trust: BootParts["trust"];
    if (secretKey) {
      const verifier = await buildVerifier(ctx, path.dirname(options.recipe), {
        strictSource: options.strictSource ?? false,
      });
      trust = {
        verifier: verifier.binary,
        publicKey: formatPublicKey(secretKey),
        signature: signData(
          secretKey,
          Buffer.from(extensionsOrderFile(extensions)),
          "extensions.order",
          ctx.epoch,
        ),
      };
      components.push(verifier.outcome);
    }
    const { initramfs, iso } = await buildBootImage(ctx, {
      busybox,
      kernel,
      extensions,
      trust,
    });
    const isoFile = iso.file;
    const isoSha = await sha256File(isoFile);
    const manifest = buildManifest(ctx, path.relative(options.projectDir, options.recipe), {
      packages,
      components,
      toolchains,
      kernel,
      extensions,
      images,
      initramfs,
      iso: { file: path.basename(isoFile), size: iso.size, sha256: isoSha, volumeId: iso.volumeId },
      sysext,
    });
    await writeAtomically(
      path.join(options.outDir, "manifest.json"),
      JSON.stringify(manifest, null, 2) + "\n",
    );
    // The SBOM and the human catalog, both from the manifest and what the .debs say of themselves.
    const inventory = await inventoryPackages(
      ctx,
      packages,
      manifest.packages.map((p) => p.name),
    );
    const lists = new Map(
      await Promise.all(
        extensions.map(async (e) => {
          const list = e.sidecars.find((s) => s.endsWith(".list"))!;
          return [e.name, (await readFile(list, "utf8")).split("\n").filter(Boolean)] as const;
        }),
      ),
    );
    const sbomFile = path.join(options.outDir, `${recipe.name}.cdx.json`);
    const catalogFile = path.join(options.outDir, "catalog.md");
    await writeAtomically(sbomFile, cycloneDx(manifest, inventory));
    await writeAtomically(
      catalogFile,
      catalogMarkdown({ manifest, inventory, files: lists, generated: new Set([RELEASE_FILE]) }),
    );
    log.step("sbom", `${path.basename(sbomFile)} (CycloneDX 1.6) and catalog.md`);
    const artifacts = await deliverArtifacts(options.outDir, components);
    const sums = [
      { file: isoFile, sha256: isoSha },
      ...artifacts,
      { file: initramfs.file, sha256: await sha256File(initramfs.file) },
      ...(sysext ? [{ file: sysext.file, sha256: sysext.sha256 }] : []),
      ...(await Promise.all(
        [path.join(options.outDir, "manifest.json"), sbomFile, catalogFile].map(async (file) => ({
          file,
          sha256: await sha256File(file),
        })),
      )),
    ];
    await writeAtomically(
      path.join(options.outDir, "SHA256SUMS"),
      sha256sums(options.outDir, sums),
    );
    const signed = [
      path.join(options.outDir, "SHA256SUMS"),
      isoFile,
      initramfs.file,
      ...(sysext ? [sysext.file] : []),
    ];
    for (const file of signed) await rm(`${file}.minisig`, { force: true });
    if (options.signKey) {
      await signFiles(options.signKey, signed, ctx.epoch);
      log.step("sign", `signed ${signed.map((f) => path.basename(f)).join(", ")} (.minisig)`);
    }
    log.info(
      `built ${path.relative(process.cwd(), isoFile) || isoFile} (${(iso.size / 1e6).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return manifest;
  } finally {
    log.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Copies the compiled components' artifacts (e.g. podman-remote) to OUT/host/, each through a
 * temp file and a rename; what an earlier build left there and this one did not make goes.
 */
async function deliverArtifacts(
  outDir: string,
  components: ComponentOutcome[],
): Promise<{ file: string; sha256: string }[]> {
  const delivered = components.flatMap((c) =>
    c.use === "source"
      ? c.compiled.artifacts.map((a) => ({
          from: path.join(c.compiled.tree, a.path),
          file: path.join(outDir, hostArtifactPath(a.path)),
          sha256: a.sha256,
        }))
      : [],
  );
  const hostDir = path.join(outDir, "host");
  const keep = new Set(delivered.map((d) => path.basename(d.file)));
  for (const stale of await readdir(hostDir).catch(() => [] as string[])) {
    if (!keep.has(stale)) await rm(path.join(hostDir, stale), { force: true });
  }
  if (delivered.length > 0) await mkdir(hostDir, { recursive: true });
  for (const { from, file } of delivered) {
    await replaceAtomically(file, (tmp) => copyFile(from, tmp));
  }
  return delivered.map(({ file, sha256 }) => ({ file, sha256 }));
}

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new PodbootError(
      `${what} needs root (it installs host packages and writes device-owned files)`,
      "run it as root, e.g. with sudo",
    );
  }
}
