// cp(1) for what node:fs cannot do in one call: copying a tree over another with
// --remove-destination, so that a hard link in the target is replaced instead of written through.
import type { StepLog } from "../report/events.ts";
import { run } from "./run.ts";

export async function copyTreeOver(from: string, to: string, log?: StepLog): Promise<void> {
  await run("cp", ["-a", "--remove-destination", `${from}/.`, to], { log });
}
