// `podboot build [recipe]`: the whole pipeline, top to bottom. Each phase hands a typed value to
// the next:
//   check    recipe + every file it names → BuildRequest     (no network, nothing written)
//   host     preflight, cache lock, engine, apt indexes       → BuildEnv
//   resolve  package closures, the verified .debs, component sources → PackagePlan, sources
//   plan     pure                                              → BuildPlan
//   produce  compiles, kernel, images, extensions, sysext, initramfs + ISO → Products
//   publish  manifest, SBOM, catalog, out/host/, SHA256SUMS, signatures → Manifest
import path from "node:path";
import { planBuild, planPackages } from "../plan/build-plan.ts";
import { requestBuild, type BuildChoices } from "../plan/request.ts";
import { openBuildEnv, requireRoot, type HostOptions } from "../pipeline/host.ts";
import { produce } from "../pipeline/produce.ts";
import { publish } from "../pipeline/publish.ts";
import { chooseSources, resolveClosures } from "../pipeline/resolve.ts";
import type { Manifest } from "../publish/manifest.ts";
import { loadRecipeSet } from "../recipe/set.ts";
import { report } from "../report/events.ts";
import { fetchPackages } from "../steps/packages.ts";
import { loadSecretKey } from "./sign.ts";

export interface BuildOptions extends HostOptions, Omit<BuildChoices, "sign"> {
  recipe: string;
  /** A minisign secret key: SHA256SUMS, the ISO and the initramfs get .minisig files. */
  signKey?: string;
}

export async function build(options: BuildOptions): Promise<Manifest> {
  const started = Date.now();
  // check: every input is read and checked before anything is installed, fetched or written.
  const set = await loadRecipeSet(options.recipe, options.projectDir);
  const request = requestBuild(set, { ...options, sign: options.signKey !== undefined });
  const secretKey = options.signKey ? await loadSecretKey(options.signKey) : undefined;
  requireRoot("podboot build");
  const env = await openBuildEnv(options, request.recipe);
  try {
    const { closures, kernelPackage } = await resolveClosures(env, request);
    const packagePlan = planPackages(request, closures, kernelPackage);
    const packages = await fetchPackages(env, packagePlan);
    const plan = planBuild(request, packagePlan, await chooseSources(env, request, packagePlan));
    const products = await produce(env, plan, packages, secretKey);
    const manifest = await publish(env, plan, products, {
      recipeFile: path.relative(options.projectDir, options.recipe),
      signKey: options.signKey,
    });
    const iso = products.boot.iso;
    report.info(
      env.log,
      `built ${path.relative(process.cwd(), iso.file) || iso.file} (${(iso.size / 1e6).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return manifest;
  } catch (error) {
    throw (await env.cache.setAsideDamaged(error)) ?? error;
  } finally {
    await env.close();
  }
}
