// The publish phase: what the build tells about itself, next to the image in out/ — the
// manifest (provenance of every file), the SBOM and the human catalog, the compiled host
// artifacts (out/host/), SHA256SUMS over all of it, and with a key their signatures. Every file
// goes through a temp name and a rename.
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { signFiles } from "../commands/sign.ts";
import { replaceAtomically, writeAtomically } from "../fs/atomic.ts";
import { sha256, sha256File } from "../fs/hash.ts";
import type { BuildPlan } from "../plan/build-plan.ts";
import { buildManifest, hostArtifactPath, sha256sums, type Manifest } from "../publish/manifest.ts";
import { report } from "../report/events.ts";
import { runStep, type StepDefinition } from "../step/step.ts";
import type { ComponentOutcome } from "../steps/components.ts";
import type { BuiltExtension } from "../steps/extensions.ts";
import { inventoryPackages, type PackageInventory } from "../steps/inventory.ts";
import { CA_BUNDLE } from "../steps/extension-tree.ts";
import { RELEASE_FILE } from "../steps/overlay.ts";
import type { BuildEnv } from "./env.ts";
import type { Products } from "./produce.ts";

export async function publish(
  env: BuildEnv,
  plan: BuildPlan,
  products: Products,
  options: {
    recipeFile: string;
    signKey?: string;
  },
): Promise<Manifest> {
  const { recipe, set } = plan.request;
  const { boot } = products;
  const isoSha = boot.iso.sha256;
  const manifest = buildManifest(
    {
      recipe,
      recipeFile: options.recipeFile,
      recipeSha256: set.sha256,
      epoch: env.epoch,
      debian: { mirror: env.apt.mirror, suite: env.apt.suite },
    },
    {
      ...products,
      initramfs: boot.initramfs,
      iso: {
        file: path.basename(boot.iso.file),
        size: boot.iso.size,
        sha256: isoSha,
        volumeId: boot.iso.volumeId,
      },
    },
  );
  const out = (name: string) => path.join(env.outDir, name);
  await writeAtomically(out("manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  const described = await describeBuild(env, products, manifest);
  const artifacts = await deliverArtifacts(env.outDir, products.components);
  const loadable = await deliverLoadable(env.outDir, products.extensions);
  const sums = [
    { file: boot.iso.file, sha256: isoSha },
    ...loadable,
    ...artifacts,
    { file: boot.initramfs.file, sha256: boot.initramfs.sha256 },
    ...(products.sysext ? [{ file: products.sysext.file, sha256: products.sysext.sha256 }] : []),
    ...(await Promise.all(
      [out("manifest.json"), ...described].map(async (file) => ({
        file,
        sha256: await sha256File(file),
      })),
    )),
  ];
  await writeAtomically(out("SHA256SUMS"), sha256sums(env.outDir, sums));
  const signed = [
    out("SHA256SUMS"),
    boot.iso.file,
    boot.initramfs.file,
    ...(products.sysext ? [products.sysext.file] : []),
  ];
  for (const file of signed) await rm(`${file}.minisig`, { force: true });
  if (options.signKey) {
    await signFiles(options.signKey, signed, env.epoch);
    report.step(
      env.log,
      "sign",
      `signed ${signed.map((f) => path.basename(f)).join(", ")} (.minisig)`,
    );
  }
  return manifest;
}

/** The SBOM and the human catalog, both from the manifest and what the .debs say of themselves. */
async function describeBuild(
  env: BuildEnv,
  products: Products,
  manifest: Manifest,
): Promise<string[]> {
  const names = manifest.packages.map((p) => p.name);
  // Read as the packages were staged, ordered by name as the .deb-reading inventory is (the
  // catalog's owner of an /etc file two packages ship depends on it); if a shipped package was
  // not staged (none is today), every package is read from its .deb instead.
  const staged = products.inventory;
  const inventory = names.every((name) => staged.has(name))
    ? new Map([...new Set(names)].sort().map((name) => [name, staged.get(name)!]))
    : await inventoryPackages(env, products.packages, names);
  const files = await Promise.all(
    products.extensions.map(async (e) => {
      const list = e.sidecars.find((s) => s.endsWith(".list"))!;
      return [e.name, (await readFile(list, "utf8")).split("\n").filter(Boolean)] as const;
    }),
  );
  const { result } = await runStep(env, describeStep, {
    generators: await generatorsHash(env.projectDir),
    manifest,
    inventory: [...inventory],
    files,
    generated: [RELEASE_FILE, CA_BUNDLE],
  });
  const sbomFile = path.join(env.outDir, `${manifest.name}.cdx.json`);
  const catalogFile = path.join(env.outDir, "catalog.md");
  await replaceAtomically(sbomFile, (tmp) => copyFile(result.sbom, tmp));
  await replaceAtomically(catalogFile, (tmp) => copyFile(result.catalog, tmp));
  return [sbomFile, catalogFile];
}

interface DescribeInputs extends Record<string, unknown> {
  /** The sha256 of the two generators' source: editing either makes the step run again. */
  generators: string;
  manifest: Manifest;
  /** Each shipped package's licenses and /etc files, ordered by name. */
  inventory: [string, PackageInventory][];
  /** Each extension's file list (its NAME.list sidecar). */
  files: (readonly [string, string[]])[];
  /** Paths the build generates into the overlay. */
  generated: string[];
}

/**
 * The SBOM and the catalog are a function of the manifest and the inventory, so a build that
 * changed neither (a no-op) takes them from the cache, without loading the CycloneDX library.
 */
const describeStep: StepDefinition<DescribeInputs, { sbom: string; catalog: string }> = {
  kind: "sbom",
  version: 1,
  async produce(inputs, dir) {
    const [{ cycloneDx }, { catalogMarkdown }] = await Promise.all([
      import("../publish/sbom.ts"),
      import("../publish/catalog.ts"),
    ]);
    const inventory = new Map(inputs.inventory);
    await writeFile(path.join(dir, "sbom.cdx.json"), cycloneDx(inputs.manifest, inventory));
    await writeFile(
      path.join(dir, "catalog.md"),
      catalogMarkdown({
        manifest: inputs.manifest,
        inventory,
        files: new Map(inputs.files),
        generated: new Set(inputs.generated),
      }),
    );
  },
  read: async (dir) => ({
    sbom: path.join(dir, "sbom.cdx.json"),
    catalog: path.join(dir, "catalog.md"),
  }),
  summary: (_result, inputs) => `${inputs.manifest.name}.cdx.json (CycloneDX 1.6) and catalog.md`,
};

/** The SBOM and catalog generators' source: a change to either makes both again. */
async function generatorsHash(projectDir: string): Promise<string> {
  const sources = await Promise.all(
    ["sbom", "catalog"].map((name) =>
      readFile(path.join(projectDir, "builder", "publish", `${name}.ts`), "utf8"),
    ),
  );
  return sha256(sources.join("\0"));
}

/** Copies the compiled components' artifacts (e.g. podman-remote) to OUT/host/. */
async function deliverArtifacts(
  outDir: string,
  components: ComponentOutcome[],
): Promise<{ file: string; sha256: string }[]> {
  const hostDir = path.join(outDir, "host");
  return deliverInto(
    hostDir,
    components.flatMap((c) =>
      c.use === "source"
        ? c.compiled.artifacts.map((a) => ({
            from: path.join(c.compiled.tree, a.path),
            file: path.join(outDir, hostArtifactPath(a.path)),
            sha256: a.sha256,
          }))
        : [],
    ),
  );
}

/** Copies the loadable extensions (kept out of the ISO) to OUT/extensions/NAME.sqfs. */
async function deliverLoadable(
  outDir: string,
  extensions: BuiltExtension[],
): Promise<{ file: string; sha256: string }[]> {
  const dir = path.join(outDir, "extensions");
  return deliverInto(
    dir,
    extensions
      .filter((e) => e.loadable)
      .map((e) => ({ from: e.image, file: path.join(dir, `${e.name}.sqfs`), sha256: e.sha256 })),
  );
}

/**
 * Copies files into a directory of out/, each through a temp file and a rename; what an earlier
 * build left there and this one did not make goes.
 */
async function deliverInto(
  dir: string,
  delivered: { from: string; file: string; sha256: string }[],
): Promise<{ file: string; sha256: string }[]> {
  const keep = new Set(delivered.map((d) => path.basename(d.file)));
  for (const stale of await readdir(dir).catch(() => [] as string[])) {
    if (!keep.has(stale)) await rm(path.join(dir, stale), { force: true });
  }
  if (delivered.length > 0) await mkdir(dir, { recursive: true });
  for (const { from, file } of delivered) {
    await replaceAtomically(file, (tmp) => copyFile(from, tmp));
  }
  return delivered.map(({ file, sha256 }) => ({ file, sha256 }));
}
