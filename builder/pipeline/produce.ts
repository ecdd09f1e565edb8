// The produce phase: one call per step, in build order. Concurrency is stated where it is: the
// compiles share one slot per core (steps/components.ts), the kernel compiles while the
// extensions are packed, and the extensions are packed side by side; only the overlay, which
// names the kernel release, waits for the kernel.
import os from "node:os";
import pLimit from "p-limit";
import type { BuildPlan } from "../plan/build-plan.ts";
import { dropRules } from "../plan/extensions.ts";
import type { Recipe } from "../recipe/schema.ts";
import { formatPublicKey, signData, type SecretKey } from "../sign/minisign.ts";
import { buildBootImage, type BootImage } from "../steps/boot-image.ts";
import {
  compileComponents,
  compileVerifier,
  initramfsBinary,
  type ComponentOutcome,
  type ToolchainOutcome,
} from "../steps/components.ts";
import type { CompiledComponent } from "../steps/compile.ts";
import { buildExtension, type BuiltExtension } from "../steps/extensions.ts";
import { stageExtension, type PackageInput } from "../steps/stage.ts";
import { libraryClosure } from "../plan/library-closure.ts";
import {
  bakeImages,
  ROOTLESS_IMAGE_STORE,
  ROOTLESS_UID,
  type BakedImage,
} from "../steps/images.ts";
import { extensionsOrderFile, type BootParts } from "../steps/initramfs.ts";
import { prepareKernel, type BuiltKernel } from "../steps/kernel/index.ts";
import type { PackageInventory } from "../steps/inventory.ts";
import { overlayFiles, releaseFile, RELEASE_FILE, type OverlayInputs } from "../steps/overlay.ts";
import type { ResolvedPackages } from "../steps/packages.ts";
import { buildSysext, type BuiltSysext } from "../steps/sysext.ts";
import type { BuildEnv } from "./env.ts";

export interface Products {
  packages: ResolvedPackages;
  /** The recipe's components and, in signed builds, the verifier. */
  components: ComponentOutcome[];
  /** Stage 1's busybox: compiled, or busybox-static's binary and why. */
  stage1: ComponentOutcome;
  toolchains: ToolchainOutcome[];
  kernel: BuiltKernel;
  images: BakedImage[];
  extensions: BuiltExtension[];
  /** The shipped packages' licenses and /etc files (for the SBOM), read as they were staged. */
  inventory: Map<string, PackageInventory>;
  sysext?: BuiltSysext;
  boot: BootImage;
}

export async function produce(
  env: BuildEnv,
  plan: BuildPlan,
  packages: ResolvedPackages,
  secretKey: SecretKey | undefined,
): Promise<Products> {
  const { recipe } = plan.request;
  const { components, stage1, toolchains } = await compileComponents(env, plan.compile);
  const kernelReady = prepareKernel(env, plan.request, packages);
  kernelReady.catch(() => undefined); // awaited below; a failure surfaces there
  const { images, stores } = await bakeImages(env, recipe.images, packages);
  const overlay = async (): Promise<OverlayInputs> => ({
    dir: plan.request.set.overlayDir,
    files: await overlayFiles(plan.request.set.overlayDir),
    generated: new Map([
      [
        RELEASE_FILE,
        releaseFile(releaseFields(recipe, (await kernelReady).release, components, packages)),
      ],
    ]),
    trees: stores,
  });
  const { extensions, inventory } = await packExtensions(
    env,
    recipe,
    packages,
    components,
    overlay,
  );
  const kernel = await kernelReady;
  const sysext = plan.request.sysext
    ? await buildSysext(env, recipe, extensions, packages)
    : undefined;
  let trust: BootParts["trust"];
  if (secretKey) {
    const verifier = await compileVerifier(env, plan.request.set.verifier, plan.request);
    trust = signedList(env, extensions, verifier.binary, secretKey);
    components.push(verifier.outcome);
  }
  const debian = packages.busyboxPackage;
  const compiledBusybox = stage1.use === "source" && initramfsBinary(stage1, "busybox");
  const boot = await buildBootImage(env, recipe, {
    busybox: compiledBusybox
      ? { binary: compiledBusybox.path, sha256: compiledBusybox.sha256 }
      : { deb: packages.debs.get(debian.name)!, sha256: debian.sha256 },
    kernel,
    extensions,
    trust,
  });
  return {
    packages,
    components,
    stage1,
    toolchains,
    kernel,
    images,
    extensions,
    inventory,
    sysext,
    boot,
  };
}

/** The rootless image store's layers belong to podboot, root in its containers. */
const ROOTLESS_OWNER = [
  { under: `${ROOTLESS_IMAGE_STORE}/overlay`, uid: ROOTLESS_UID, gid: ROOTLESS_UID },
];

/**
 * Every extension in plan order: staged side by side (one slot per core), then the image-wide
 * library closure over all staged trees, then packed side by side.
 */
async function packExtensions(
  env: BuildEnv,
  recipe: Recipe,
  packages: ResolvedPackages,
  components: ComponentOutcome[],
  overlay: () => Promise<OverlayInputs>,
): Promise<{ extensions: BuiltExtension[]; inventory: Map<string, PackageInventory> }> {
  const compiled = components.flatMap((c) => (c.use === "source" ? [c] : []));
  const replacements = new Map<string, CompiledComponent>(
    compiled.flatMap((c) =>
      c.component.package ? [[c.component.package, c.compiled] as const] : [],
    ),
  );
  // podboot's own tools, by the extension they go in.
  const toolsFor = (extension: string) =>
    compiled.filter((c) => c.component.extension === extension).map((c) => c.compiled);
  const limit = pLimit(Math.max(1, os.availableParallelism()));
  const specOf = (name: string) => recipe.extensions.find((e) => e.name === name)!;
  const inputs = packages.extensions.map((plan) => ({
    plan,
    spec: specOf(plan.name),
    packages: plan.owns.map((name): PackageInput => {
      const record = packages.records.get(name)!;
      const compiled = replacements.get(name);
      return {
        name,
        version: record.version,
        sha256: record.sha256,
        deb: packages.debs.get(name)!,
        ...(compiled && {
          compiled: { component: compiled.name, tree: compiled.tree, files: compiled.files },
        }),
      };
    }),
  }));
  const staged = await Promise.all(
    inputs.map(async ({ spec, packages: owned }) => {
      const overlayInputs = spec.overlay ? await overlay() : undefined;
      return limit(() =>
        stageExtension(env, {
          name: spec.name,
          packages: owned,
          drop: dropRules(recipe.drop, spec, recipe.extensions),
          keep: spec.keep,
          overlay: overlayInputs,
          keyOf: (p) => [p.name, p.version, p.sha256, replacements.get(p.name)?.key ?? null],
          tools: toolsFor(spec.name),
        }),
      );
    }),
  );
  const closure = libraryClosure(
    staged.map((s, i) => ({ name: s.name, files: s.files, keep: inputs[i]!.spec.keep })),
  );
  const pack = (i: number) => {
    const { plan, spec, packages: owned } = inputs[i]!;
    return buildExtension(
      env,
      recipe,
      spec,
      plan,
      staged[i]!,
      {
        unused: closure.unused.get(spec.name) ?? [],
        neededBy: Object.fromEntries(
          staged[i]!.files.filter((f) => closure.neededBy.has(f.path)).map((f) => [
            f.path,
            closure.neededBy.get(f.path)!,
          ]),
        ),
      },
      owned,
      spec.overlay ? ROOTLESS_OWNER : [],
    );
  };
  // The largest first: packing is the longest part of a cold build, and the largest extension
  // started last (tools, in recipe order) would finish alone.
  const bytes = staged.map((s) => s.files.reduce((sum, f) => sum + f.size, 0));
  const built: Promise<BuiltExtension>[] = [];
  for (const i of inputs.map((_, i) => i).sort((a, b) => bytes[b]! - bytes[a]!))
    built[i] = limit(() => pack(i));
  const inventory = new Map(staged.flatMap((s) => Object.entries(s.inventory)));
  return { extensions: await Promise.all(built), inventory };
}

/** /etc/podboot-release: the image, the kernel, and the versions of podman and crun it ships. */
function releaseFields(
  recipe: Recipe,
  kernelRelease: string,
  components: ComponentOutcome[],
  packages: ResolvedPackages,
): Record<string, string> {
  // The version of what ships: a component compiled from source, else Debian's package.
  const shipped = (name: string) =>
    components.find((c) => c.use === "source" && c.component.package === name)?.component.version ??
    packages.records.get(name)?.version ??
    "none";
  return {
    PODBOOT_NAME: recipe.name,
    PODBOOT_VERSION: recipe.version,
    KERNEL_RELEASE: kernelRelease,
    PODMAN_VERSION: shipped("podman"),
    CRUN_VERSION: shipped("crun"),
    DEBIAN_SUITE: recipe.debian.suite,
  };
}

/**
 * Signed builds: stage 1 verifies the list of extensions (and through it each one's sha256) with
 * a static verifier and the public key, both baked into the initramfs.
 */
function signedList(
  env: BuildEnv,
  extensions: BuiltExtension[],
  verifier: string,
  secretKey: SecretKey,
): NonNullable<BootParts["trust"]> {
  return {
    verifier,
    publicKey: formatPublicKey(secretKey),
    signature: signData(
      secretKey,
      Buffer.from(extensionsOrderFile(extensions)),
      "extensions.order",
      env.epoch,
    ),
  };
}
