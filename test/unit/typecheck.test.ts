// The sources type-check under strict settings (tsc --noEmit) and pass the linter and the
// formatter's check, as part of the tests.
import { execa } from "execa";
import path from "node:path";
import { expect, it } from "vitest";

const projectDir = path.resolve(import.meta.dirname, "../..");
const npx = (args: string[]) => execa("npx", args, { cwd: projectDir, reject: false, all: true });

it("tsc --noEmit passes", async () => {
  const result = await npx(["tsc", "--noEmit", "-p", projectDir]);
  expect(result.all?.split("\n").filter((line) => line.includes("error TS")) ?? []).toEqual([]);
  expect(result.exitCode).toBe(0);
}, 120_000);

it("eslint passes", async () => {
  const result = await npx(["eslint", "."]);
  expect(result.exitCode, result.all).toBe(0);
}, 120_000);

it("prettier --check passes (run `npm run format`)", async () => {
  const result = await npx(["prettier", "--check", "."]);
  expect(result.exitCode, result.all).toBe(0);
}, 120_000);
