// Components through the real machinery: sources from a local git repository and a local HTTP
// server standing in for upstream, compiled with runc in the same cached build root the default
// build uses. Covers the fall-through between sources and the bad inputs of each step.
import { execa } from "execa";
import { createServer, type Server } from "node:http";
import { mkdtemp, readdir, readFile, writeFile, mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PodbootError } from "../../builder/errors.ts";
import type { BuildEnv } from "../../builder/pipeline/env.ts";
import { parseComponent, type Component } from "../../builder/recipe/component.ts";
import { buildRoot, type BuildRoot } from "../../builder/steps/build-root.ts";
import { compileComponent } from "../../builder/steps/compile.ts";
import { chooseSource } from "../../builder/steps/sources.ts";
import { openEngine } from "../../builder/tools/engine.ts";
import { testEnv } from "./context.ts";

const work = await mkdtemp(path.join(os.tmpdir(), "podboot-components-"));
let warnings: string[];
let ctx: BuildEnv;
let root: BuildRoot;
let server: Server;
let baseUrl: string;
let gitCommit: string;
let tarball: Buffer;
let tarballSha: string;

const HELLO_C = `#include <stdio.h>
int main(void) { puts("hello from a podboot build container"); return 0; }
`;

function component(sources: string, script = DEFAULT_SCRIPT): Component {
  return parseComponent(
    `name: hello
version: "1.0"
license: MIT
package: hello
provides: [usr/bin/hello, usr/share/hello/probe]
sources:
${sources}
build:
  script: |
${script.replace(/^/gm, "    ")}
`,
    "hello.yaml",
  );
}

// Builds a static binary (so it also runs on the host) and records what the container could see.
const DEFAULT_SCRIPT = `cc -static -O2 -o hello hello.c
install -D -m 0755 hello "$DESTDIR/usr/bin/hello"
mkdir -p "$DESTDIR/usr/share/hello"
{ cat /proc/net/dev; touch /sources/x 2>/dev/null && echo sources-writable || echo sources-read-only; } > "$DESTDIR/usr/share/hello/probe"`;

async function sha256(data: Buffer): Promise<string> {
  const { createHash } = await import("node:crypto");
  return createHash("sha256").update(data).digest("hex");
}

beforeAll(async () => {
  let request;
  ({ env: ctx, request, warnings } = await testEnv(work));
  // The default recipe's C components' root (no toolchain, no crates), shared with real builds.
  const shipped = request.set.components.map((f) => f.component);
  const c = shipped.filter((s) => !s.build.toolchain && !s.build.vendor);
  root = await buildRoot(ctx, "trixie", [...new Set(c.flatMap((s) => s.build.depends))]);

  const repo = path.join(work, "upstream.git");
  await mkdir(repo);
  const git = (...args: string[]) =>
    execa("git", args, {
      cwd: repo,
      env: { GIT_AUTHOR_DATE: "2026-01-01T00:00:00Z", GIT_COMMITTER_DATE: "2026-01-01T00:00:00Z" },
    });
  await git("init", "--quiet");
  await writeFile(path.join(repo, "hello.c"), HELLO_C);
  await git("add", "hello.c");
  await git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "--quiet", "-m", "v1");
  gitCommit = (await git("rev-parse", "HEAD")).stdout.trim();

  await execa(
    "git",
    ["archive", "--format=tar.gz", "--prefix=hello-1.0/", "-o", "../hello.tar.gz", "HEAD"],
    { cwd: repo },
  );
  tarball = await readFile(path.join(work, "hello.tar.gz"));
  tarballSha = await sha256(tarball);
  server = createServer((req, res) => {
    if (req.url === "/hello-1.0.tar.gz") res.end(tarball);
    else if (req.url === "/tampered.tar.gz") res.end(Buffer.concat([tarball, Buffer.from("x")]));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 10 * 60_000);

afterAll(() => server?.close());

describe("component sources", () => {
  it(
    "git: a pinned commit of a local repository compiles in the build container, offline",
    async () => {
      const hello = component(
        `  - git: { url: "file://${work}/upstream.git", commit: "${gitCommit}" }`,
      );
      const choice = await chooseSource(ctx, hello, { strict: true });
      expect(choice.use).toBe("source");
      if (choice.use !== "source") return;
      expect(choice.source.origin).toMatchObject({ commit: gitCommit });

      const compiled = await compileComponent(ctx, hello, choice.source, root);
      const run = await execa(path.join(compiled.tree, "usr/bin/hello"));
      expect(run.stdout).toBe("hello from a podboot build container");
      const probe = await readFile(path.join(compiled.tree, "usr/share/hello/probe"), "utf8");
      // Only loopback: the container has its own, empty network namespace.
      expect(probe.match(/^\s*\w+:/gm)?.map((s) => s.trim())).toEqual(["lo:"]);
      expect(probe).toContain("sources-read-only");

      const again = await compileComponent(ctx, hello, choice.source, root);
      expect(again.cacheHit).toBe(true);
    },
    5 * 60_000,
  );

  it("url: an unreachable or missing source falls through to the next with a warning", async () => {
    warnings.length = 0;
    const hello = component(
      [
        `  - url: { url: "http://127.0.0.1:1/gone.tar.gz", sha256: "${tarballSha}" }`,
        `  - url: { url: "${baseUrl}/missing.tar.gz", sha256: "${"b".repeat(64)}" }`,
        `  - url: { url: "${baseUrl}/hello-1.0.tar.gz", sha256: "${tarballSha}" }`,
      ].join("\n"),
    );
    const choice = await chooseSource(ctx, hello, { strict: false });
    expect(choice.use).toBe("source");
    expect(choice.skipped).toHaveLength(2);
    expect(warnings.join("\n")).toMatch(/cannot reach 127\.0\.0\.1:1 .*trying the next/);
    expect(warnings.join("\n")).toMatch(/missing\.tar\.gz: HTTP 404; trying the next/);
  });

  it("debian-dev: a package or version the index lacks falls through, named", async () => {
    warnings.length = 0;
    const hello = component(
      [
        "  - debian-dev: { package: golang-no-such-package-dev, version: '1.0-1', suite: trixie, path: example.org/hello }",
        "  - debian-dev: { package: golang-github-containers-buildah-dev, version: '0.0.1-1', suite: trixie, path: github.com/containers/buildah }",
        `  - url: { url: "${baseUrl}/hello-1.0.tar.gz", sha256: "${tarballSha}" }`,
      ].join("\n"),
    );
    const choice = await chooseSource(ctx, hello, { strict: false });
    expect(choice.use).toBe("source");
    expect(choice.skipped).toHaveLength(2);
    expect(warnings.join("\n")).toMatch(
      /golang-no-such-package-dev 1\.0-1 is not in the trixie Packages index/,
    );
    expect(warnings.join("\n")).toMatch(
      /golang-github-containers-buildah-dev 0\.0\.1-1 is not in the trixie Packages index/,
    );
  });

  it("--strict-source turns the fall-through into an error", async () => {
    const hello = component(
      [
        `  - url: { url: "${baseUrl}/missing.tar.gz", sha256: "${tarballSha}" }`,
        "  - prebuilt: true",
      ].join("\n"),
    );
    await expect(chooseSource(ctx, hello, { strict: true })).rejects.toThrow(
      /hello: source url .*missing\.tar\.gz: HTTP 404/,
    );
    const relaxed = await chooseSource(ctx, hello, { strict: false });
    expect(relaxed).toMatchObject({ use: "prebuilt" });
    if (relaxed.use === "prebuilt")
      expect(relaxed.reason).toMatch(/no listed source could be obtained/);
  });

  it("a source with the wrong sha256 stops the build and is not kept", async () => {
    const hello = component(
      `  - url: { url: "${baseUrl}/tampered.tar.gz", sha256: "${tarballSha}" }\n  - prebuilt: true`,
    );
    const error = await chooseSource(ctx, hello, { strict: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodbootError);
    // Tried again (a cut download looks the same), then refused in one line.
    expect((error as PodbootError).message).toMatch(
      /tampered\.tar\.gz from .*: arrived with sha256 [0-9a-f]{16}… \(\d+ bytes\), expected [0-9a-f]{16}…, 3 times; nothing was kept/,
    );
    const pool = await readdir(path.join(ctx.cache.root, "sources", tarballSha)).catch(() => []);
    expect(pool.filter((f) => f.startsWith("tampered"))).toEqual([]);
  });

  it("every source unobtainable and no prebuilt fallback: one error listing them", async () => {
    const hello = component(
      `  - debian-source: { package: catatonit, version: 0.0.0-podboot-test, suite: trixie }`,
    );
    await expect(chooseSource(ctx, hello, { strict: false })).rejects.toThrow(
      /none of its sources can be obtained \(debian-source catatonit 0\.0\.0-podboot-test \(trixie\): not in the trixie Sources index/,
    );
  });
});

/** hello from the local HTTP server, its source obtained (for the compile tests). */
async function helloFromServer(script?: string) {
  const hello = component(
    `  - url: { url: "${baseUrl}/hello-1.0.tar.gz", sha256: "${tarballSha}" }`,
    script,
  );
  const choice = await chooseSource(ctx, hello, { strict: true });
  if (choice.use !== "source") throw new Error("expected a source");
  return { hello, source: choice.source };
}

/**
 * A Rust crate without dependencies, committed to a local git repository, as a `vendor: cargo`
 * component, with its source obtained and a build root with cargo. `locked` is the version its
 * Cargo.lock claims (another than `version` makes the lock file stale).
 */
async function rustCrate(name: string, version: string, locked: string, script: string) {
  const repo = path.join(work, `${name}.git`);
  await mkdir(path.join(repo, "src"), { recursive: true });
  await writeFile(
    path.join(repo, "Cargo.toml"),
    `[package]\nname = "${name}"\nversion = "${version}"\nedition = "2021"\n`,
  );
  await writeFile(
    path.join(repo, "Cargo.lock"),
    `version = 3\n\n[[package]]\nname = "${name}"\nversion = "${locked}"\n`,
  );
  await writeFile(
    path.join(repo, "src/main.rs"),
    `fn main() {\n    println!("hello from a podboot Rust build");\n}\n`,
  );
  const git = (...args: string[]) => execa("git", args, { cwd: repo });
  await git("init", "--quiet");
  await git("add", ".");
  await git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", version);
  const commit = (await git("rev-parse", "HEAD")).stdout.trim();
  const crate = parseComponent(
    `name: ${name}
version: "${version}"
license: MIT
package: ${name}
provides: [usr/bin/${name}, usr/share/${name}/probe]
sources:
  - git: { url: "file://${repo}", commit: "${commit}" }
build:
  depends: [rustc]
  vendor: cargo
  script: |
${script.replace(/^/gm, "    ")}
`,
    `${name}.yaml`,
  );
  const choice = await chooseSource(ctx, crate, { strict: true });
  if (choice.use !== "source") throw new Error(`no source: ${choice.reason}`);
  const rustRoot = await buildRoot(ctx, "trixie", ["ca-certificates", "cargo", "rustc"]);
  return { crate, source: choice.source, rustRoot };
}

describe("build.vendor: cargo", () => {
  it(
    "a Rust crate from a local repository: crates vendored as Cargo.lock pins, then built offline",
    async () => {
      // No dependency: this machine reaches no crate registry, so the fetch step has nothing to
      // download — it still runs `cargo vendor --locked`, which checks the lock file.
      const { crate, source, rustRoot } = await rustCrate(
        "hello-rs",
        "1.0.0",
        "1.0.0",
        `cargo build --release --offline --locked
install -D -m 0755 target/release/hello-rs "$DESTDIR/usr/bin/hello-rs"
mkdir -p "$DESTDIR/usr/share/hello-rs"
cat /proc/net/dev > "$DESTDIR/usr/share/hello-rs/probe"`,
      );
      const compiled = await compileComponent(ctx, crate, source, rustRoot);
      const run = await execa(path.join(compiled.tree, "usr/bin/hello-rs"));
      expect(run.stdout).toBe("hello from a podboot Rust build");
      const probe = await readFile(path.join(compiled.tree, "usr/share/hello-rs/probe"), "utf8");
      // The build itself is offline: only loopback.
      expect(probe.match(/^\s*\w+:/gm)?.map((s) => s.trim())).toEqual(["lo:"]);
      const log = await readFile(path.join(work, "logs", "compile-hello-rs.log"), "utf8");
      expect(log).toContain("There is no dependency to vendor in this project.");
    },
    10 * 60_000,
  );

  it(
    "a stale Cargo.lock stops the fetch step, naming the lock file; nothing is cached",
    async () => {
      const { crate, source, rustRoot } = await rustCrate(
        "stale",
        "2.0.0",
        "1.0.0",
        "cargo build --release --offline --locked",
      );
      const before = await readdir(path.join(ctx.cache.root, "steps", "compile"));
      const error = (await compileComponent(ctx, crate, source, rustRoot).catch(
        (e: unknown) => e,
      )) as PodbootError;
      expect(error).toBeInstanceOf(PodbootError);
      expect(error.oneLine()).toMatch(/Cargo\.lock in the source of stale is current/);
      expect(error.detail).toMatch(/lock file .* needs to be updated/);
      expect(await readdir(path.join(ctx.cache.root, "steps", "compile"))).toEqual(before);
    },
    10 * 60_000,
  );
});

describe("compiling", () => {
  it(
    "a failing build names the log, shows its tail and leaves no cache entry",
    async () => {
      const { hello: broken, source } = await helloFromServer(
        `echo "hello.c:1: error: podboot test failure" >&2\nexit 3`,
      );
      const before = await readdir(path.join(ctx.cache.root, "steps", "compile"));
      const error = (await compileComponent(ctx, broken, source, root).catch(
        (e: unknown) => e,
      )) as PodbootError;
      expect(error).toBeInstanceOf(PodbootError);
      expect(error.message).toMatch(/runc exited with 3 \(full log: .*compile-hello\.log\)/);
      expect(error.detail).toContain("podboot test failure");
      expect(await readdir(path.join(ctx.cache.root, "steps", "compile"))).toEqual(before);
      const leftovers = await readdir(path.join(ctx.cache.root, "tmp")).catch(() => []);
      expect(leftovers.filter((f) => f.startsWith("compile-"))).toEqual([]);
    },
    5 * 60_000,
  );

  it(
    "--engine podman: the same compile where podman can start containers, else an error naming podman",
    async () => {
      const { hello, source } = await helloFromServer();
      const podmanCtx = { ...ctx, engine: await openEngine("podman", ctx.cache.root) };
      const before = await readdir(path.join(ctx.cache.root, "steps", "compile"));
      const outcome = await compileComponent(podmanCtx, hello, source, root).catch(
        (e: unknown) => e as PodbootError,
      );
      // Whether podman can run a container here, asked of podman directly.
      const direct = await execa(
        "podman",
        ["run", "--rm", "--network", "none", "--rootfs", root.rootfs, "/bin/true"],
        { reject: false, all: true },
      );
      if (direct.exitCode === 0) {
        const compiled = outcome as Awaited<ReturnType<typeof compileComponent>>;
        expect(compiled.engine).toBe("podman");
        const byRunc = await compileComponent(ctx, hello, source, root);
        expect(compiled.files).toEqual(byRunc.files);
        expect(compiled.key).not.toBe(byRunc.key);
      } else {
        // This machine: podman's runtime cannot create containers, and the build says so.
        expect(outcome).toBeInstanceOf(PodbootError);
        const error = outcome as PodbootError;
        expect(error.oneLine()).toMatch(
          /^podboot: podman could not start the build container \(full log: .*compile-hello\.log\): .+ — use the default engine, --engine runc, which needs no daemon$/,
        );
        expect(error.exitCode).toBe(2);
        expect(await readdir(path.join(ctx.cache.root, "steps", "compile"))).toEqual(before);
        const left = await execa("podman", ["ps", "--all", "--format", "{{.Names}}"]);
        expect(left.stdout).not.toMatch(/podboot-hello-/);
      }
    },
    5 * 60_000,
  );

  it("a build dependency that does not exist is named before anything runs", async () => {
    await expect(buildRoot(ctx, "trixie", ["no-such-build-dep-podboot"])).rejects.toThrow(
      /unknown package no-such-build-dep-podboot in Debian trixie/,
    );
  });
});
