import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["out/", "dist/", "node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // Every external program runs through its typed wrapper in builder/tools/ (argument arrays,
    // output into the step's log, one error with the log's tail): nothing else spawns processes.
    files: ["builder/**/*.ts"],
    ignores: ["builder/tools/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            { name: "execa", message: "run programs through a wrapper in builder/tools/" },
            {
              name: "node:child_process",
              message: "run programs through a wrapper in builder/tools/",
            },
          ],
        },
      ],
    },
  },
);
