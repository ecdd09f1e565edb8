// The test run's scratch space: every run gets a directory of its own as TMPDIR, removed when the
// run ends. The tests make their work directories with mkdtemp under os.tmpdir(); the e2e ones
// hold builds, caches and data disks of a gigabyte or more each, which would otherwise pile up
// run after run until the disk is full.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export default async function setup(): Promise<() => Promise<void>> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), "podboot-tests-"));
  // /tmp's mode: a test runs podboot as an unprivileged user, whose tsx writes its cache here.
  await chmod(scratch, 0o1777);
  process.env.TMPDIR = scratch;
  return () => rm(scratch, { recursive: true, force: true });
}
