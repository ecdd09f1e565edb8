// A streaming writer for the cpio "newc" format the kernel unpacks as an initramfs.
// Entries are written in the order given; headers use fixed owner (root) and a fixed mtime so the
// archive is reproducible. Layout per entry: 110-byte ASCII header, name + NUL padded to 4 bytes,
// data padded to 4 bytes. The archive ends with the entry "TRAILER!!!".
import { once } from "node:events";
import { createReadStream } from "node:fs";
import type { Writable } from "node:stream";

export type CpioEntry =
  | { type: "dir"; path: string; mode?: number }
  | { type: "file"; path: string; mode?: number; data: Buffer }
  | { type: "file-from-disk"; path: string; mode?: number; source: string; size: number }
  | { type: "symlink"; path: string; target: string }
  | { type: "chardev"; path: string; mode?: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(value: number): string {
  return value.toString(16).padStart(8, "0");
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

export interface HeaderFields {
  ino: number;
  mode: number;
  nlink: number;
  mtime: number;
  size: number;
  nameSize: number;
  rdevMajor?: number;
  rdevMinor?: number;
}

export function cpioHeader(fields: HeaderFields): Buffer {
  const values = [
    fields.ino,
    fields.mode,
    0, // uid
    0, // gid
    fields.nlink,
    fields.mtime,
    fields.size,
    0, // devmajor
    0, // devminor
    fields.rdevMajor ?? 0,
    fields.rdevMinor ?? 0,
    fields.nameSize,
    0, // check
  ];
  return Buffer.from(`070701${values.map(hex8).join("")}`, "ascii");
}

export class CpioWriter {
  private ino = 1;
  private written = 0;
  /** The first error the stream reported (a full disk …); every later call throws it. */
  private failure: Error | undefined;

  constructor(
    private readonly out: Writable,
    private readonly mtime: number,
  ) {
    out.on("error", (error: Error) => {
      this.failure ??= error;
    });
  }

  get bytesWritten(): number {
    return this.written;
  }

  private async push(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.written += chunk.length;
    // events.once rejects when the stream reports an error while we wait for it to drain.
    if (!this.out.write(chunk)) await once(this.out, "drain");
  }

  private async header(
    name: string,
    mode: number,
    size: number,
    nlink: number,
    rdev = [0, 0],
  ): Promise<void> {
    const nameBytes = Buffer.from(`${name}\0`, "utf8");
    const header = cpioHeader({
      ino: this.ino++,
      mode,
      nlink,
      mtime: this.mtime,
      size,
      nameSize: nameBytes.length,
      rdevMajor: rdev[0],
      rdevMinor: rdev[1],
    });
    await this.push(header);
    await this.push(nameBytes);
    await this.push(pad4(header.length + nameBytes.length));
  }

  async add(entry: CpioEntry): Promise<void> {
    const name = entry.path.replace(/^\/+/, "");
    switch (entry.type) {
      case "dir":
        await this.header(name, S_IFDIR | (entry.mode ?? 0o755), 0, 2);
        return;
      case "chardev":
        await this.header(name, S_IFCHR | (entry.mode ?? 0o600), 0, 1, [entry.major, entry.minor]);
        return;
      case "symlink": {
        const target = Buffer.from(entry.target, "utf8");
        await this.header(name, S_IFLNK | 0o777, target.length, 1);
        await this.push(target);
        await this.push(pad4(target.length));
        return;
      }
      case "file":
        await this.header(name, S_IFREG | (entry.mode ?? 0o644), entry.data.length, 1);
        await this.push(entry.data);
        await this.push(pad4(entry.data.length));
        return;
      case "file-from-disk": {
        await this.header(name, S_IFREG | (entry.mode ?? 0o644), entry.size, 1);
        let seen = 0;
        for await (const chunk of createReadStream(entry.source)) {
          seen += (chunk as Buffer).length;
          await this.push(chunk as Buffer);
        }
        if (seen !== entry.size)
          throw new Error(`${entry.source} changed size while being archived`);
        await this.push(pad4(entry.size));
        return;
      }
    }
  }

  /** Writes the trailer and ends the stream. */
  async finish(): Promise<void> {
    await this.header("TRAILER!!!", 0, 0, 1);
    await new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.out.once("error", reject);
      this.out.end(resolve);
    });
  }
}

/** One member of a newc archive as read back: its data is a view into the archive's buffer. */
export interface CpioMember {
  path: string;
  mode: number;
  mtime: number;
  data: Buffer;
}

/**
 * Reads every member of an uncompressed newc archive, or of several concatenated as the kernel
 * reads an initramfs: after a TRAILER!!!, zero padding, then the next archive.
 */
export function readNewc(archive: Buffer): CpioMember[] {
  const members: CpioMember[] = [];
  const pad = (n: number) => (n + 3) & ~3;
  let at = 0;
  for (;;) {
    while (at < archive.length && archive[at] === 0) at += 4;
    if (at + 110 > archive.length) break;
    const header = archive.toString("latin1", at, at + 110);
    if (!header.startsWith("070701") && !header.startsWith("070702")) {
      throw new Error(`not a newc cpio archive (bad header at byte ${at})`);
    }
    const field = (index: number) => parseInt(header.slice(6 + index * 8, 14 + index * 8), 16);
    const nameSize = field(11);
    const size = field(6);
    const path = archive.toString("latin1", at + 110, at + 110 + nameSize - 1);
    const start = pad(at + 110 + nameSize);
    if (path === "TRAILER!!!") {
      at = pad(start + size);
      continue;
    }
    if (start + size > archive.length) throw new Error(`${path}: the archive is truncated`);
    members.push({
      path,
      mode: field(1),
      mtime: field(5),
      data: archive.subarray(start, start + size),
    });
    at = pad(start + size);
  }
  return members;
}
