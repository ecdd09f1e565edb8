// dpkg-deb: unpacks a .deb's data into a directory (no maintainer scripts run), or streams it
// into tar to list it or pull single members out without unpacking the whole package.
import { execa } from "execa";
import type { StepLog } from "../log.ts";
import { run } from "./run.ts";

export async function extractDeb(deb: string, into: string, log: StepLog): Promise<void> {
  await run("dpkg-deb", ["--extract", deb, into], {
    log,
    fix: `delete ${deb} so it is downloaded again`,
  });
}

/**
 * `dpkg-deb --fsys-tarfile DEB | tar ARGS`. The package's data stream is never held in memory
 * (it can be hundreds of MB); tar's output is kept unless `streamOutput` (to pipe it further).
 */
export function debDataToTar(
  deb: string,
  tarArgs: string[],
  options: { reject?: boolean; streamOutput?: boolean } = {},
) {
  const reject = options.reject ?? true;
  return execa("dpkg-deb", ["--fsys-tarfile", deb], {
    reject,
    buffer: { stdout: false, stderr: true },
  }).pipe("tar", tarArgs, {
    reject,
    buffer: { stdout: !options.streamOutput, stderr: true },
  });
}
