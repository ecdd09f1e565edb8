// The e2e tests build the ISO exactly as a user does (`podboot build`); a warm cache makes every
// build after the first a few seconds.
import { execa } from "execa";
import path from "node:path";

export const projectDir = path.resolve(import.meta.dirname, "../..");
export const iso = path.join(projectDir, "out", "podboot.iso");

/** Builds out/podboot.iso (the default), or with extra flags into another output directory. */
export async function buildIso(options: { out?: string; flags?: string[] } = {}): Promise<void> {
  const args = ["bin/podboot.js", "build", ...(options.out ? ["--out", options.out] : [])];
  const build = await execa("node", [...args, ...(options.flags ?? [])], {
    cwd: projectDir,
    reject: false,
    all: true,
  });
  if (build.exitCode !== 0) throw new Error(`podboot build failed:\n${build.all?.slice(-3000)}`);
}
