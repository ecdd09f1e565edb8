// xorriso, to read files back out of an ISO (the kernel for a direct boot, a whole tree for
// `podboot diff`). ISOs are written with grub-mkrescue's boot loader and arguments
// (grub-mkrescue.ts).
import { run } from "./run.ts";

/** Copies PATH inside the ISO ("/" for everything) to `to`. */
export async function extractFromIso(iso: string, inside: string, to: string): Promise<void> {
  await run("xorriso", ["-osirrox", "on", "-indev", iso, "-extract", inside, to], {
    fix: `check that ${iso} is a whole ISO image`,
  });
}
