// The e2e tests build the ISO exactly as a user does (`podboot build`), into an output directory
// of the test run's own (under its TMPDIR, removed at the end), never the checkout's out/; a warm
// cache makes every build after the first a few seconds. Waits and test time limits are scaled
// by the machine's pace (test/global-setup.ts measures it; builder/vm/pace.ts).
import { execa } from "execa";
import os from "node:os";
import path from "node:path";
import { machinePace } from "../../builder/vm/pace.ts";

export const projectDir = path.resolve(import.meta.dirname, "../..");
/** The run's default build: what `npm run build-iso` would leave in out/. */
export const e2eOut = path.join(os.tmpdir(), "podboot-e2e-out");
export const iso = path.join(e2eOut, "podboot.iso");
export const outPath = (...parts: string[]) => path.join(e2eOut, ...parts);

/** A time limit measured on the machine that wrote the test, scaled to this one's pace. */
export const paced = (ms: number) => Math.round(ms * machinePace());

/**
 * The time limit of a test hook that builds. Whichever system test file runs first makes the
 * first build, from an empty cache on a fresh machine: the kernel and every C component
 * compiled, 40 min on a 2-core machine whose kernel compile took 12 of them (with 30 min, that
 * file's tests were skipped). A build is not a VM, so the limit is not scaled by the VM pace;
 * with a warm cache the hook takes seconds.
 */
export const FIRST_BUILD_LIMIT = 75 * 60_000;

/** Builds the default ISO into the run's output directory, or with flags into another one. */
export async function buildIso(options: { out?: string; flags?: string[] } = {}): Promise<void> {
  const args = ["bin/podboot.js", "build", "--out", options.out ?? e2eOut];
  const build = await execa("node", [...args, ...(options.flags ?? [])], {
    cwd: projectDir,
    reject: false,
    all: true,
  });
  if (build.exitCode !== 0) throw new Error(`podboot build failed:\n${build.all?.slice(-3000)}`);
}
