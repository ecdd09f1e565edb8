// Reads what the dynamic linker needs to know of an ELF file (64-bit little-endian, x86-64): its
// type, whether it asks for an interpreter (an executable or PIE), its soname, the libraries it
// needs and where it looks for them. Enough to compute which shared libraries an image's
// programs load, without running anything.
import { open } from "node:fs/promises";

export interface ElfInfo {
  /** An executable (ET_EXEC, or anything with an interpreter: PIE, libc) or a shared library. */
  kind: "executable" | "library";
  soname?: string;
  needed: string[];
  /** DT_RUNPATH (or DT_RPATH) entries, $ORIGIN unexpanded. */
  runpath: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_SONAME = 14n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

/** The ELF facts of a file, or undefined when it is not a 64-bit little-endian ELF file. */
export async function readElf(file: string): Promise<ElfInfo | undefined> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(64);
    await handle.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return undefined;
    const size = (await handle.stat()).size;
    const data = Buffer.alloc(size);
    await handle.read(data, 0, size, 0);
    return parseElf(data);
  } finally {
    await handle.close();
  }
}

/** The same from the file's bytes (pure; unit-tested on the host's own programs). */
export function parseElf(data: Buffer): ElfInfo | undefined {
  if (data.length < 64 || data.readUInt32BE(0) !== 0x7f454c46 || data[4] !== 2 || data[5] !== 1) {
    return undefined;
  }
  const type = data.readUInt16LE(16);
  const phoff = Number(data.readBigUInt64LE(32));
  const phentsize = data.readUInt16LE(54);
  const phnum = data.readUInt16LE(56);
  const segments = Array.from({ length: phnum }, (_, i) => {
    const at = phoff + i * phentsize;
    return {
      type: data.readUInt32LE(at),
      offset: Number(data.readBigUInt64LE(at + 8)),
      vaddr: Number(data.readBigUInt64LE(at + 16)),
      filesz: Number(data.readBigUInt64LE(at + 32)),
    };
  });
  const interp = segments.some((s) => s.type === PT_INTERP);
  const kind = type === 2 || interp ? "executable" : "library";
  const dynamic = segments.find((s) => s.type === PT_DYNAMIC);
  if (!dynamic) return { kind, needed: [], runpath: [] };
  // The dynamic section names strings by offset into DT_STRTAB, an address: map it to the file.
  const entries: [bigint, bigint][] = [];
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.filesz; at += 16) {
    const tag = data.readBigInt64LE(at);
    if (tag === 0n) break;
    entries.push([tag, data.readBigUInt64LE(at + 8)]);
  }
  const strtab = Number(entries.find(([tag]) => tag === DT_STRTAB)?.[1] ?? 0n);
  const load = segments.find(
    (s) => s.type === PT_LOAD && strtab >= s.vaddr && strtab < s.vaddr + s.filesz,
  );
  if (!load) return { kind, needed: [], runpath: [] };
  const base = load.offset + (strtab - load.vaddr);
  const string = (offset: bigint) => {
    const start = base + Number(offset);
    return data.toString("latin1", start, data.indexOf(0, start));
  };
  const values = (wanted: bigint) =>
    entries.filter(([tag]) => tag === wanted).map(([, value]) => string(value));
  return {
    kind,
    ...(values(DT_SONAME)[0] !== undefined && { soname: values(DT_SONAME)[0] }),
    needed: values(DT_NEEDED),
    runpath: [...values(DT_RUNPATH), ...values(DT_RPATH)].flatMap((p) => p.split(":")),
  };
}
