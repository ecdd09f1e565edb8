// tar-split metadata for a layer tar: how containers/storage rebuilds the exact bytes of a layer
// (for `podman save` and `push`) from its unpacked files. The format (vbatts/tar-split) is a
// gzip'd stream of JSON lines: segments of raw tar bytes (headers, padding, the end blocks) and
// one entry per member with its name, size and the CRC-64 (ISO) of its content, in order.
import { gzipSync } from "node:zlib";

const BLOCK = 512;

/** CRC-64 with the ISO polynomial (reflected), as Go's hash/crc64 computes it, big-endian. */
export function crc64Iso(data: Buffer): Buffer {
  // Two 32-bit halves: BigInt per byte would be slow for a few MB.
  let lo = 0xffffffff;
  let hi = 0xffffffff;
  for (const byte of data) {
    let tlo = (lo ^ byte) & 0xff;
    let thi = 0;
    for (let bit = 0; bit < 8; bit++) {
      const carry = tlo & 1;
      tlo = ((tlo >>> 1) | ((thi & 1) << 31)) >>> 0;
      thi = thi >>> 1;
      if (carry) thi = (thi ^ 0xd8000000) >>> 0;
    }
    const shiftedLo = ((lo >>> 8) | ((hi & 0xff) << 24)) >>> 0;
    lo = (shiftedLo ^ tlo) >>> 0;
    hi = ((hi >>> 8) ^ thi) >>> 0;
  }
  const out = Buffer.alloc(8);
  out.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
  out.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
  return out;
}

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.toString("utf8", 0, end === -1 ? length : end);
}

function octal(header: Buffer, start: number, length: number): number {
  return parseInt(field(header, start, length).trim() || "0", 8);
}

/** The tar-split stream (gzip'd JSON lines) of an uncompressed ustar/pax tar. */
export function tarSplit(tar: Buffer): Buffer {
  const entries: object[] = [];
  const add = (entry: Record<string, unknown>) =>
    entries.push({ ...entry, position: entries.length });
  let offset = 0;
  let segmentStart = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    const type = String.fromCharCode(header[156]!);
    const size = octal(header, 124, 12);
    const dataBlocks = Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x" || type === "L") {
      // A pax or GNU long-name header: part of the next member's raw header bytes.
      const data = tar.subarray(offset + BLOCK, offset + BLOCK + size);
      if (type === "L") longName = field(data, 0, data.length);
      else longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString("utf8"))?.[1] ?? longName;
      offset += BLOCK + dataBlocks;
      continue;
    }
    const prefix = field(header, 345, 155);
    const name =
      longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = undefined;
    const contentStart = offset + BLOCK;
    add({ type: 2, payload: tar.subarray(segmentStart, contentStart).toString("base64") });
    const content = tar.subarray(contentStart, contentStart + (type === "0" ? size : 0));
    add({
      type: 1,
      name,
      ...(content.length > 0 && { size: content.length }),
      payload: content.length > 0 ? crc64Iso(content).toString("base64") : null,
    });
    offset = contentStart + (type === "0" ? dataBlocks : 0);
    // The member's padding goes with the next header's segment.
    segmentStart = contentStart + content.length;
  }
  add({ type: 2, payload: tar.subarray(segmentStart).toString("base64") });
  // tar-split's own reader ends with an empty segment (its last read of the stream).
  add({ type: 2, payload: "" });
  const text = entries.map((e) => JSON.stringify(e)).join("\n") + "\n";
  return gzipSync(text, { level: 9 });
}
