// Reads a recipe file: YAML → plain data → validated Recipe. Every problem is reported as
// file:line:col with the field and what was expected, so a user can jump straight to it.
import { readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import path from "node:path";
import { LineCounter, parseDocument, isMap, isSeq, visit, type Node } from "yaml";
import type { z } from "zod";
import { PodbootError } from "../errors.ts";
import { recipeSchema, type Recipe } from "./schema.ts";

export interface LoadedRecipe {
  recipe: Recipe;
  file: string;
  /** sha256 of the recipe text, recorded in the manifest. */
  sha256: string;
  /** file:line:col of a field (in the file of the chain that gave it), for later checks. */
  locate: Locate;
  /** The file of the chain (the recipe or a base it extends) that gave a top-level field. */
  fieldFile: (key: string) => string;
  /** Whether a file of the chain gives the top-level field (or it is the schema's default). */
  given: (key: string) => boolean;
}

export async function loadRecipe(file: string): Promise<LoadedRecipe> {
  const { data, locate, sha256, fieldFile } = await readRecipeChain(file, []);
  const given = (key: string) => key in data;
  return {
    recipe: validate(recipeSchema, data, locate, RECIPE_FIX),
    file,
    sha256,
    locate,
    fieldFile,
    given,
  };
}

const RECIPE_FIX = "correct the recipe (see recipes/schema.json)";

interface RecipeText {
  /** The recipe's fields, a base's merged under them. */
  data: Record<string, unknown>;
  /** The YAML node a validation issue's path points at, in the file that gave that field. */
  locate: Locate;
  sha256: string;
  fieldFile: (key: string) => string;
}

export type Locate = (path: PropertyKey[], keyOfLast?: boolean) => string;

/** Where the `extends:` that led to a file is: its value's file:line:col, and the file named. */
interface ExtendedFrom {
  file: string;
  at: string;
  /** The base as the extends: line writes it. */
  named: string;
}

/**
 * Reads a recipe and, when it `extends` another, that one first (recursively): the base must be
 * a valid recipe by itself, and the variant's top-level fields replace the base's whole.
 */
async function readRecipeChain(file: string, chain: ExtendedFrom[]): Promise<RecipeText> {
  const from = chain.at(-1);
  const text = await readFile(file, "utf8").catch(() => {
    throw new PodbootError(
      from
        ? `${from.at}: extends: ${from.named} cannot be read (no file ${file})`
        : `cannot read recipe ${file}`,
      from
        ? "point extends at an existing recipe, relative to the variant's directory"
        : "pass an existing recipe, e.g. recipes/podboot.yaml",
    );
  });
  const own = readYaml(text, file);
  const sha256 = createHash("sha256").update(text);
  if (!isRecord(own.data)) {
    const held =
      own.data === null || own.data === undefined
        ? "nothing"
        : Array.isArray(own.data)
          ? "a list"
          : `a ${typeof own.data}`;
    throw new PodbootError(
      `${file}:1:1: (top level): a recipe is a mapping of fields (name, version, extensions …), but this file holds ${held}`,
      "start from recipes/podboot.yaml (see docs/recipe.md)",
    );
  }
  const data = own.data;
  const base = data.extends;
  if (typeof base !== "string") {
    return { data, locate: own.locate, sha256: sha256.digest("hex"), fieldFile: () => file };
  }
  const baseFile = path.resolve(path.dirname(file), base);
  const here: ExtendedFrom = {
    file: path.resolve(file),
    at: own.locate(["extends"], false),
    named: base,
  };
  const visited = [...chain.map((c) => c.file), here.file];
  if (visited.includes(baseFile)) {
    const files = [...visited, baseFile].map((f) => path.relative(".", f));
    throw new PodbootError(
      `${here.at}: extends: ${files.join(" → ")} is a cycle`,
      "make the base recipe stand on its own (no extends back to a variant)",
    );
  }
  const parent = await readRecipeChain(baseFile, [...chain, here]);
  // The base alone must be valid, so its own mistakes are reported in its own file, with the
  // extends: line that brought it in.
  validate(
    recipeSchema,
    parent.data,
    parent.locate,
    `correct the base recipe (extended at ${here.at}; see recipes/schema.json)`,
  );
  return {
    // The variant's own `extends` replaces any its base has.
    data: { ...parent.data, ...data },
    locate: (at, keyOfLast) =>
      at.length === 0 || (at[0] as string) in data
        ? own.locate(at, keyOfLast)
        : parent.locate(at, keyOfLast),
    sha256: sha256.update(`\0extends ${parent.sha256}`).digest("hex"),
    fieldFile: (key) => (key in data ? file : parent.fieldFile(key)),
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
export function readYaml(text: string, file: string): { data: unknown; locate: Locate } {
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
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    const message = (error as Error).message.split("\n")[0]!;
    // The yaml library refuses documents whose aliases expand exponentially ("billion laughs").
    if (/alias count/i.test(message)) {
      throw new PodbootError(
        `${where(firstAlias(doc) ?? 0)}: YAML aliases expand too far (${message.split(".")[0]})`,
        "write the values out instead of nesting aliases of aliases",
      );
    }
    throw new PodbootError(
      `${where(firstAlias(doc) ?? 0)}: malformed YAML: ${message}`,
      "fix the YAML at that position",
    );
  }
  return {
    data,
    locate: (at, keyOfLast) => {
      const node = nodeAt(doc.contents, at, keyOfLast);
      return node?.range ? where(node.range[0]) : `${file}:1:1`;
    },
  };
}

/** A recipe has no need for many aliases; past this many expansions the document is refused. */
const MAX_ALIASES = 100;

function firstAlias(doc: ReturnType<typeof parseDocument>): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0];
      return visit.BREAK;
    },
  });
  return offset;
}

export function validate<S extends z.ZodType>(
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
