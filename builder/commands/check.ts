// `podboot check [recipe]`: everything `podboot build` checks before it starts, and nothing else —
// the recipe and its extends chain, every component and toolchain recipe, the kernel fragments
// and the overlay — with no network, no root and nothing written. What an editor, a pre-commit
// hook or CI runs first; exit 0 with one line of what the recipe builds, or 2 with the mistake.
import path from "node:path";
import { requestBuild } from "../plan/request.ts";
import { loadRecipeSet } from "../recipe/set.ts";

export async function checkRecipe(
  file: string,
  projectDir: string,
  choices: { with?: string[]; without?: string[] },
): Promise<string> {
  const set = await loadRecipeSet(file, projectDir);
  const request = requestBuild(set, choices);
  const all = set.recipe.extensions;
  const built = request.recipe.extensions;
  const optional = all.filter((e) => e.optional && !built.includes(e)).length;
  const parts = [
    `${built.length} extensions${optional > 0 ? ` (+${optional} optional)` : ""}`,
    `${set.components.length} components`,
    `${set.toolchains.length} toolchains`,
    `${request.kernelFragments.length} kernel fragments`,
  ];
  return `${path.relative(".", file) || file}: ok — ${parts.join(", ")}`;
}
