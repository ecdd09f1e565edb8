// A running machine's console log, read as QEMU appends to it: a start polls it several times a
// second for the ready line or a panic, so each read takes only the bytes added since the last.
import { open } from "node:fs/promises";

/** How much of the previous read is kept in front of the next, for a line split between reads. */
const OVERLAP = 128;

/**
 * Returns a reader of `file`: each call gives the text added since the previous call, preceded
 * by the last characters that call gave. A file not there yet reads as nothing.
 */
export function followLog(file: string): () => Promise<string> {
  let offset = 0;
  let carry = "";
  return async () => {
    const handle = await open(file, "r").catch(() => undefined);
    if (!handle) return carry;
    try {
      const { size } = await handle.stat();
      const added = Buffer.alloc(Math.max(0, size - offset));
      const { bytesRead } = await handle.read(added, 0, added.length, offset);
      offset += bytesRead;
      const text = carry + added.subarray(0, bytesRead).toString("utf8");
      carry = text.slice(-OVERLAP);
      return text;
    } finally {
      await handle.close();
    }
  };
}
