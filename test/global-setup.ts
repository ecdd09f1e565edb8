// The test run's scratch space: every run gets a directory of its own as TMPDIR, removed when the
// run ends. The tests make their work directories with mkdtemp under os.tmpdir(); the e2e ones
// hold builds, caches and data disks of a gigabyte or more each, which would otherwise pile up
// run after run until the disk is full.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { calibrate, paceOf } from "../builder/vm/pace.ts";

export default async function setup(): Promise<() => Promise<void>> {
  // vitest runs this once for the run and once per project: the first one's scratch serves all.
  if (process.env.PODBOOT_TEST_SCRATCH) return async () => undefined;
  const scratch = await mkdtemp(path.join(os.tmpdir(), "podboot-tests-"));
  // /tmp's mode: a test runs podboot as an unprivileged user, whose tsx writes its cache here.
  await chmod(scratch, 0o1777);
  process.env.TMPDIR = scratch;
  process.env.PODBOOT_TEST_SCRATCH = scratch;
  // How much slower than the reference machine this one is: every VM wait scales by it.
  if (!process.env.PODBOOT_PACE) {
    const pace = paceOf(calibrate());
    process.env.PODBOOT_PACE = pace.toFixed(2);
    if (pace > 1.2)
      process.stderr.write(
        `podboot tests: this machine's pace is ${pace.toFixed(2)}× the reference; VM waits are scaled by it\n`,
      );
  }
  return () => rm(scratch, { recursive: true, force: true });
}
