// The TypeScript sources type-check under strict settings (tsc --noEmit), as part of the tests.
import { execa } from "execa";
import path from "node:path";
import { expect, it } from "vitest";

const projectDir = path.resolve(import.meta.dirname, "../..");

it("tsc --noEmit passes", async () => {
  const result = await execa("npx", ["tsc", "--noEmit", "-p", projectDir], {
    cwd: projectDir,
    reject: false,
    all: true,
  });
  expect(result.all?.split("\n").filter((line) => line.includes("error TS")) ?? []).toEqual([]);
  expect(result.exitCode).toBe(0);
}, 120_000);
