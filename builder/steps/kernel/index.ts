// The kernel: compiled from source (compiled.ts) or, on the fast path, Debian's prebuilt image
// (prebuilt.ts). Both leave the same files (files.ts) and are checked against the fragments
// (the prebuilt one also against the options the recipe's codecs need).
import type { BuildEnv } from "../../pipeline/env.ts";
import type { BuildRequest } from "../../plan/request.ts";
import type { ResolvedPackages } from "../packages.ts";
import { compileKernel } from "./compiled.ts";
import type { BuiltKernel } from "./files.ts";
import { prebuiltKernel } from "./prebuilt.ts";

export type { BuiltKernel } from "./files.ts";

export function prepareKernel(
  env: BuildEnv,
  request: BuildRequest,
  packages: ResolvedPackages,
): Promise<BuiltKernel> {
  const record = packages.kernelPackage;
  const deb = packages.debs.get(record.name)!;
  const { kernel } = request.recipe;
  return kernel.source === "build"
    ? compileKernel(env, record, deb, request.kernelFragments, kernel.build.depends)
    : prebuiltKernel(env, record, deb, request, kernel.debian.modules);
}
