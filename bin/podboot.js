#!/usr/bin/env node
// Entry point for the `podboot` command. It runs the builder bundled ahead of time (dist/, one
// module per command, made by `npm ci` through the prepare script, or `npm run compile`) when that
// is at least as new as every source file, which starts in a fraction of the time; otherwise it
// compiles the TypeScript sources on the fly with tsx, so an edited checkout always runs what it
// holds.
import { readdirSync, statSync } from "node:fs";
import process from "node:process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const projectDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const stamp = path.join(projectDir, "dist", ".stamp");

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

function compiledIsFresh() {
  try {
    return statSync(stamp).mtimeMs >= newestSource(path.join(projectDir, "builder"));
  } catch {
    return false;
  }
}

let cli;
if (compiledIsFresh()) {
  cli = await import("../dist/cli.js");
} else {
  // The benchmark times the bundle: a source edited while it runs must not be timed through tsx.
  if (process.env.PODBOOT_REQUIRE_BUNDLE === "1") {
    process.stderr.write(
      "podboot: dist/ is older than builder/ (a source changed after npm run compile) — run npm run compile, and leave builder/ alone while the bench runs\n",
    );
    process.exit(2);
  }
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import("../builder/cli.ts");
}
await cli.run(process.argv, projectDir);
