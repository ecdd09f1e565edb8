// dpkg-deb: unpacks a .deb's data into a directory (no maintainer scripts run).
import type { StepLog } from "../log.ts";
import { run } from "./run.ts";

export async function extractDeb(deb: string, into: string, log: StepLog): Promise<void> {
  await run("dpkg-deb", ["--extract", deb, into], {
    log,
    fix: `delete ${deb} so it is downloaded again`,
  });
}
