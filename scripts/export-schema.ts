// Writes recipes/schema.json and recipes/component.schema.json (for editors) from the zod schemas
// in builder/recipe/.
import { rename, writeFile } from "node:fs/promises";
import { z } from "zod";
import { componentSchema } from "../builder/recipe/component.ts";
import { recipeSchema } from "../builder/recipe/schema.ts";

for (const [name, schema] of [
  ["schema.json", recipeSchema],
  ["component.schema.json", componentSchema],
] as const) {
  const target = new URL(`../recipes/${name}`, import.meta.url);
  const tmp = new URL(`../recipes/${name}.tmp`, import.meta.url);
  await writeFile(tmp, JSON.stringify(z.toJSONSchema(schema, { io: "input" }), null, 2) + "\n");
  await rename(tmp, target);
}
