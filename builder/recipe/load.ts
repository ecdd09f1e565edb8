// Reads a recipe file: YAML → plain data → validated Recipe. Every problem is reported as
// file:line:col with the field and what was expected, so a user can jump straight to it.
import { readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import path from "node:path";
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
  const { data, locate, sha256 } = await readRecipeChain(file, []);
  return {
    recipe: validate(recipeSchema, data, locate, RECIPE_FIX),
    file,
    sha256,
  };
}

const RECIPE_FIX = "correct the recipe (see recipes/schema.json)";

interface RecipeText {
  /** The recipe's fields, a base's merged under them. */
  data: Record<string, unknown>;
  /** The YAML node a validation issue's path points at, in the file that gave that field. */
  locate: Locate;
  sha256: string;
}

type Locate = (path: PropertyKey[], keyOfLast: boolean) => string;

/**
 * Reads a recipe and, when it `extends` another, that one first (recursively): the base must be
 * a valid recipe by itself, and the variant's top-level fields replace the base's whole.
 */
async function readRecipeChain(file: string, chain: string[]): Promise<RecipeText> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    const from = chain.at(-1);
    throw new PodbootError(
      from ? `${from}: extends ${file}, which cannot be read` : `cannot read recipe ${file}`,
      from
        ? "point extends at an existing recipe, relative to the variant's directory"
        : "pass an existing recipe, e.g. recipes/podboot.yaml",
    );
  }
  const own = readYaml(text, file);
  const sha256 = createHash("sha256").update(text);
  const data = isRecord(own.data) ? own.data : {};
  const base = data.extends;
  if (typeof base !== "string") {
    return { data, locate: own.locate, sha256: sha256.digest("hex") };
  }
  const baseFile = path.resolve(path.dirname(file), base);
  if ([...chain, path.resolve(file)].includes(baseFile)) {
    const files = [...chain, path.resolve(file), baseFile].map((f) => path.relative(".", f));
    throw new PodbootError(
      `${own.locate(["extends"], false)}: extends: ${files.join(" → ")} is a cycle`,
      "make the base recipe stand on its own (no extends back to a variant)",
    );
  }
  const parent = await readRecipeChain(baseFile, [...chain, path.resolve(file)]);
  // The base alone must be valid, so its own mistakes are reported in its own file.
  validate(recipeSchema, parent.data, parent.locate, RECIPE_FIX);
  return {
    // The variant's own `extends` replaces any its base has.
    data: { ...parent.data, ...data },
    locate: (at, keyOfLast) =>
      at.length === 0 || (at[0] as string) in data
        ? own.locate(at, keyOfLast)
        : parent.locate(at, keyOfLast),
    sha256: sha256.update(`\0extends ${parent.sha256}`).digest("hex"),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function parseRecipe(text: string, file: string): Recipe {
  return parseYamlWith(recipeSchema, text, file, RECIPE_FIX);
}

/** YAML text → data validated by `schema`; any problem becomes one file:line:col error. */
export function parseYamlWith<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
  fix: string,
): z.output<S> {
  const { data, locate } = readYaml(text, file);
  return validate(schema, data, locate, fix);
}

/** Parses YAML, failing with file:line:col on a syntax error; `locate` maps a data path to one. */
function readYaml(text: string, file: string): { data: unknown; locate: Locate } {
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
  return {
    data: doc.toJS(),
    locate: (at, keyOfLast) => {
      const node = nodeAt(doc.contents, at, keyOfLast);
      return node?.range ? where(node.range[0]) : `${file}:1:1`;
    },
  };
}

function validate<S extends z.ZodType>(
  schema: S,
  data: unknown,
  locate: Locate,
  fix: string,
): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const position =
    issue.code === "unrecognized_keys"
      ? locate([...issue.path, issue.keys[0]!], true)
      : locate(issue.path, false);
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
