// Writes recipes/schema.json (for editors) from the zod schema in builder/recipe/schema.ts.
import { rename, writeFile } from "node:fs/promises";
import { z } from "zod";
import { recipeSchema } from "../builder/recipe/schema.ts";

const target = new URL("../recipes/schema.json", import.meta.url);
const tmp = new URL("../recipes/schema.json.tmp", import.meta.url);
await writeFile(tmp, JSON.stringify(z.toJSONSchema(recipeSchema, { io: "input" }), null, 2) + "\n");
await rename(tmp, target);
