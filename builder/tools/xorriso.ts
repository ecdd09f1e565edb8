// xorriso, to read files back out of an ISO (the kernel for a direct boot, a whole tree for
// `podboot diff`). ISOs are written with grub-mkrescue's boot loader and arguments
// (grub-mkrescue.ts).
import { run } from "./run.ts";

/** Copies PATH inside the ISO ("/" for everything) to `to`. */
export async function extractFromIso(iso: string, inside: string, to: string): Promise<void> {
  await extractManyFromIso(iso, [[inside, to]]);
}

/** The same for several paths, in one xorriso run. */
export async function extractManyFromIso(
  iso: string,
  files: [inside: string, to: string][],
): Promise<void> {
  const extracts = files.flatMap(([inside, to]) => ["-extract", inside, to]);
  await run("xorriso", ["-osirrox", "on", "-indev", iso, ...extracts], {
    fix: `check that ${iso} is a whole ISO image`,
  });
}
