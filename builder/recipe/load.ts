// Reads a recipe file: YAML → plain data → validated Recipe. Every problem is reported as
// file:line:col with the field and what was expected, so a user can jump straight to it.
import { readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { LineCounter, parseDocument, isMap, isSeq, type Node } from "yaml";
import type { z } from "zod";
import { PodbootError } from "../errors.ts";
import { recipeSchema, type Recipe } from "./schema.ts";

export interface LoadedRecipe {
  recipe: Recipe;
  file: string;
  /** sha256 of the recipe text, recorded in the manifest. */
  sha256: string;
}

export async function loadRecipe(file: string): Promise<LoadedRecipe> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new PodbootError(
      `cannot read recipe ${file}`,
      "pass an existing recipe, e.g. recipes/podboot.yaml",
    );
  }
  return {
    recipe: parseRecipe(text, file),
    file,
    sha256: createHash("sha256").update(text).digest("hex"),
  };
}

export function parseRecipe(text: string, file: string): Recipe {
  return parseYamlWith(recipeSchema, text, file, "correct the recipe (see recipes/schema.json)");
}

/** YAML text → data validated by `schema`; any problem becomes one file:line:col error. */
export function parseYamlWith<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
  fix: string,
): z.output<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const where = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  const yamlError = doc.errors[0];
  if (yamlError) {
    throw new PodbootError(
      `${where(yamlError.pos[0])}: malformed YAML: ${yamlError.message.split("\n")[0]}`,
      "fix the YAML syntax at that position",
    );
  }
  const result = schema.safeParse(doc.toJS());
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const node =
    issue.code === "unrecognized_keys"
      ? nodeAt(doc.contents, [...issue.path, issue.keys[0]!], true)
      : nodeAt(doc.contents, issue.path);
  const position = node?.range ? where(node.range[0]) : `${file}:1:1`;
  throw new PodbootError(`${position}: ${describeIssue(issue)}`, fix);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.join(", ");
    return `${field}: unknown key ${keys}`;
  }
  return `${field}: ${issue.message}`;
}

/** The YAML node at a zod issue path, or the closest ancestor that exists. */
function nodeAt(root: unknown, path: PropertyKey[], keyOfLast = false): Node | undefined {
  let node = root as Node | undefined;
  for (const [index, key] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (item.key as { value?: unknown })?.value === key);
      if (!pair) return node;
      const last = index === path.length - 1;
      node =
        last && keyOfLast
          ? (pair.key as Node)
          : ((pair.value as Node | null) ?? (pair.key as Node));
    } else if (isSeq(node) && typeof key === "number") {
      const item = node.items[key] as Node | undefined;
      if (!item) return node;
      node = item;
    } else {
      return node;
    }
  }
  return node;
}
