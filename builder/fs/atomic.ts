// Writing outputs so that a reader (or a crash) never sees half a file: everything goes to a
// temp name beside the target and is renamed into place once complete. The temp name is tracked,
// so an interrupted build removes it (builder/cleanup.ts).
import { rename, rm, writeFile } from "node:fs/promises";
import { trackTemp } from "../cleanup.ts";

/** Writes `file` through `file.tmp` and a rename: readers see the old file or the whole new one. */
export async function replaceAtomically(
  file: string,
  write: (tmp: string) => Promise<void>,
): Promise<void> {
  const tmp = `${file}.tmp`;
  const untrack = trackTemp(tmp);
  try {
    await write(tmp);
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
    untrack();
  }
}

/** Writes text or bytes to a file through a temp file and a rename. */
export async function writeAtomically(file: string, data: string | Buffer): Promise<void> {
  await replaceAtomically(file, (tmp) => writeFile(tmp, data));
}
