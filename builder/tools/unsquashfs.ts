// unsquashfs: unpacks a squashfs image, or lists its entries with their modes, owners and sizes.
import type { StepLog } from "../report/events.ts";
import { run } from "./run.ts";

export async function unsquashfs(image: string, into: string, log?: StepLog): Promise<void> {
  await run("unsquashfs", ["-no-progress", "-quiet", "-d", into, image], {
    log,
    fix: `check that ${image} is a whole squashfs image (podboot diff and podboot size read out/)`,
  });
}

/** `unsquashfs -lln`: one line per entry (mode, uid/gid, size, date, path under R). */
export async function listSquashfs(image: string): Promise<string> {
  return run("unsquashfs", ["-lln", "-d", "R", image], {
    fix: `check that ${image} is a whole squashfs image`,
  });
}
