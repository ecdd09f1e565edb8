// mmdebstrap: makes a Debian root filesystem (minbase + the given packages) in a directory. It runs
// apt inside the new root, so the archive signature is checked with debian-archive-keyring and
// maintainer scripts run, which a plain dpkg-deb unpack would skip.
import type { StepLog } from "../report/events.ts";
import { KEYRING } from "./apt-root.ts";
import { run } from "./run.ts";

export async function mmdebstrap(
  target: string,
  options: { suite: string; mirror: string; components: string[]; packages: string[] },
  log: StepLog,
): Promise<void> {
  const source = `deb [signed-by=${KEYRING}] ${options.mirror} ${options.suite} ${options.components.join(" ")}`;
  await run(
    "mmdebstrap",
    [
      "--mode=root",
      "--variant=minbase",
      `--include=${options.packages.join(",")}`,
      // Nothing in a build root needs documentation; it halves the unpack time of large -dev sets.
      "--dpkgopt=path-exclude=/usr/share/doc/*",
      "--dpkgopt=path-exclude=/usr/share/man/*",
      "--dpkgopt=path-exclude=/usr/share/locale/*",
      options.suite,
      target,
      source,
    ],
    {
      log,
      fix: `check that every build dependency exists in Debian ${options.suite} and that the mirror is reachable`,
    },
  );
}
