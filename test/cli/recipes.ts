// Recipes for the CLI tests: a temp directory holding a recipe (by default the real
// recipes/podboot.yaml, changed by the test) with components/ and toolchains/ next to it (links
// to the real ones unless the test writes its own), and the CLI run on it.
import { execa } from "execa";
import { mkdir, mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export const projectDir = path.resolve(import.meta.dirname, "../..");
export const podbootJs = path.join(projectDir, "bin/podboot.js");
export const defaultRecipe = await readFile(path.join(projectDir, "recipes/podboot.yaml"), "utf8");

export function podboot(args: string[], env: Record<string, string> = {}) {
  return execa("node", [podbootJs, ...args], {
    reject: false,
    all: true,
    env: { ...process.env, ...env },
  });
}

/**
 * A recipe directory: `files` maps paths under it (podboot.yaml, components/x.yaml …) to text.
 * components/ and toolchains/ link to the real ones unless `files` has files under them.
 */
export async function recipeDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-recipe-"));
  for (const sub of ["components", "toolchains"]) {
    const own = Object.keys(files).some((f) => f.startsWith(`${sub}/`));
    if (own) await mkdir(path.join(dir, sub));
    else await symlink(path.join(projectDir, "recipes", sub), path.join(dir, sub));
  }
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}
