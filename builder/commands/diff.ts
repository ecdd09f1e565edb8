// `podboot diff A B`: why two builds differ, file by file. It looks inside what podboot makes — an
// ISO (its files), an initramfs (decompressed, its cpio members), a squashfs extension (its
// files) — and compares paths, types, modes, times and contents, descending into a container that
// differs until it finds the files that make the difference.
import { unsquashfs } from "../tools/unsquashfs.ts";
import { extractFromIso } from "../tools/xorriso.ts";
import { createHash } from "node:crypto";
import { lstat, mkdtemp, open, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { readNewc } from "../cpio/newc.ts";
import { PodbootError } from "../errors.ts";
import { sha256File } from "../fs/hash.ts";
import { decompressToBuffer } from "../tools/compress.ts";

interface Entry {
  kind: "file" | "dir" | "link" | "other";
  mode: number;
  mtime: number;
  size: number;
  /** sha256 of the content (a link: of its target). */
  sha256: string;
  /** For a file podboot can look into (ISO, initramfs, squashfs): its contents. */
  open?: () => Promise<Tree | undefined>;
}

type Tree = Map<string, Entry>;

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const MAX_LINES = 200;

async function head(file: string, length: number, position = 0): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

type Format = "iso" | "squashfs" | "cpio" | "zstd" | "xz" | "gzip";

async function formatOf(file: string): Promise<Format | undefined> {
  const start = await head(file, 6);
  if (start.subarray(0, 4).equals(Buffer.from("hsqs"))) return "squashfs";
  if (start.toString("latin1").startsWith("07070")) return "cpio";
  if (start.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return "zstd";
  if (start.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return "xz";
  if (start.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))) return "gzip";
  if ((await head(file, 5, 0x8001)).toString("latin1") === "CD001") return "iso";
  return undefined;
}

/** The contents of a file podboot knows how to open, or undefined for any other file. */
async function openContainer(file: string, work: string): Promise<Tree | undefined> {
  const format = await formatOf(file);
  if (!format) return undefined;
  const into = await mkdtemp(path.join(work, `${format}-`));
  switch (format) {
    case "iso":
      await extractFromIso(file, "/", into);
      return treeOfDir(into, work);
    case "squashfs":
      await unsquashfs(file, path.join(into, "root"));
      return treeOfDir(path.join(into, "root"), work);
    case "cpio":
      return treeOfCpio(await readFile(file), work);
    default: {
      const inner = path.join(into, "decompressed");
      await writeFile(inner, await decompressToBuffer(file, format));
      return openContainer(inner, work);
    }
  }
}

async function treeOfDir(root: string, work: string): Promise<Tree> {
  const tree: Tree = new Map();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(root, rel))).sort()) {
      const child = rel ? `${rel}/${name}` : name;
      const full = path.join(root, child);
      const stat = await lstat(full);
      const base = { mode: stat.mode & 0o7777, mtime: Math.floor(stat.mtimeMs / 1000) };
      if (stat.isDirectory()) {
        tree.set(child, { kind: "dir", ...base, size: 0, sha256: "" });
        await walk(child);
      } else if (stat.isSymbolicLink()) {
        const target = await readlink(full);
        tree.set(child, { kind: "link", ...base, size: target.length, sha256: sha256(target) });
      } else if (stat.isFile()) {
        tree.set(child, {
          kind: "file",
          ...base,
          size: stat.size,
          sha256: await sha256File(full),
          open: () => openContainer(full, work),
        });
      } else {
        tree.set(child, { kind: "other", ...base, size: 0, sha256: "" });
      }
    }
  };
  await walk("");
  return tree;
}

function treeOfCpio(archive: Buffer, work: string): Tree {
  const tree: Tree = new Map();
  for (const member of readNewc(archive)) {
    const type = member.mode & 0o170000;
    const kind =
      type === 0o040000 ? "dir" : type === 0o100000 ? "file" : type === 0o120000 ? "link" : "other";
    tree.set(member.path.replace(/^\.\//, ""), {
      kind,
      mode: member.mode & 0o7777,
      mtime: member.mtime,
      size: member.data.length,
      sha256: sha256(member.data),
      open:
        kind === "file"
          ? async () => {
              const file = path.join(await mkdtemp(path.join(work, "member-")), "data");
              await writeFile(file, member.data);
              return openContainer(file, work);
            }
          : undefined,
    });
  }
  return tree;
}

/** Lines describing how tree b differs from tree a; descends into containers that differ. */
async function compare(a: Tree, b: Tree, indent: string, lines: string[]): Promise<void> {
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const p of paths) {
    if (lines.length >= MAX_LINES) return;
    const x = a.get(p);
    const y = b.get(p);
    if (!x) {
      lines.push(`${indent}${p}: only in B`);
      continue;
    }
    if (!y) {
      lines.push(`${indent}${p}: only in A`);
      continue;
    }
    const what: string[] = [];
    if (x.kind !== y.kind) what.push(`${x.kind} vs ${y.kind}`);
    if (x.mode !== y.mode) what.push(`mode ${x.mode.toString(8)} vs ${y.mode.toString(8)}`);
    if (x.mtime !== y.mtime) what.push(`mtime ${x.mtime} vs ${y.mtime}`);
    const contentDiffers = x.sha256 !== y.sha256;
    if (contentDiffers) {
      what.push(
        x.size === y.size
          ? `content differs (same size ${x.size})`
          : `content differs (size ${x.size} vs ${y.size})`,
      );
    }
    if (what.length === 0) continue;
    lines.push(`${indent}${p}: ${what.join(", ")}`);
    if (contentDiffers && x.open && y.open) {
      const [inA, inB] = [await x.open(), await y.open()];
      if (inA && inB) {
        const before = lines.length;
        await compare(inA, inB, `${indent}  `, lines);
        if (lines.length === before) {
          lines.push(`${indent}  (the same files inside: the difference is in its own metadata)`);
        }
      }
    }
  }
}

/** Compares two artifacts; returns the explanation (empty when they are byte-identical). */
export async function diffArtifacts(a: string, b: string): Promise<string[]> {
  for (const file of [a, b]) {
    const stat = await lstat(file).catch(() => undefined);
    if (!stat?.isFile()) {
      throw new PodbootError(
        `${file} is not a file`,
        "pass two ISOs, initramfs images or .sqfs files",
      );
    }
  }
  const [shaA, shaB] = await Promise.all([sha256File(a), sha256File(b)]);
  if (shaA === shaB) return [];
  const work = await mkdtemp(path.join(os.tmpdir(), "podboot-diff-"));
  try {
    const [treeA, treeB] = [await openContainer(a, work), await openContainer(b, work)];
    const lines = [
      `${path.basename(a)} and ${path.basename(b)} differ (sha256 ${shaA.slice(0, 12)}… vs ${shaB.slice(0, 12)}…)`,
    ];
    if (!treeA || !treeB) {
      lines.push("  (not an ISO, initramfs or squashfs image: nothing more to say than the bytes)");
      return lines;
    }
    const before = lines.length;
    await compare(treeA, treeB, "  ", lines);
    if (lines.length === before) {
      lines.push("  the same files inside: the difference is in the image's own metadata");
    }
    if (lines.length >= MAX_LINES) lines.push(`  … (stopped after ${MAX_LINES} lines)`);
    return lines;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
