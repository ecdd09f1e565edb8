// `podboot size`: what fills the ISO — by extension, by Debian package and the largest files — as
// a table on stdout and as a chart (out/size.svg, rendered to out/size.png) next to the ISO, so a
// user can see what to trim. It reads what the build wrote: the manifest, and the initramfs, whose
// stage 1 files are counted as they are and whose squashfs extensions are listed with unsquashfs;
// files are attributed to packages by the .debs' own file lists in the cache.
import { Resvg } from "@resvg/resvg-js";
import { listSquashfs } from "../tools/unsquashfs.ts";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { pathExists } from "fs-extra";
import os from "node:os";
import path from "node:path";
import { replaceAtomically } from "../fs/atomic.ts";
import { readNewc } from "../cpio/newc.ts";
import { PodbootError } from "../errors.ts";
import type { Manifest } from "../publish/manifest.ts";
import {
  parseSquashfsListing,
  summarize,
  type ImageFile,
  type LibraryFacts,
  type SizeReport,
} from "./size-report.ts";
import { debFileName } from "../tools/apt.ts";
import { decompressToBuffer, type Codec } from "../tools/compress.ts";
import { debPaths } from "../tools/dpkg-deb.ts";

export { parseSquashfsListing, summarize } from "./size-report.ts";
export type { ImageFile, LibraryFacts, SizeReport } from "./size-report.ts";

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // Figures are right-aligned, names left-aligned.
  const numeric = headers.map((_, i) => rows.every((r) => /^[\d.]+( MB)?$/.test(r[i]!)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function loadableNote(report: SizeReport): string[] {
  const loadable = report.extensions.filter((e) => e.loadable).map((e) => e.name);
  return loadable.length > 0
    ? [`(not in the ISO: ${loadable.join(", ")}, beside it in extensions/ for podboot-load)`]
    : [];
}

/** "the kernel 4.9 MB, stage 1 0.3 MB unpacked (bin/busybox 0.3 MB)" */
function bootParts(report: SizeReport): string {
  const kernel = report.kernel === undefined ? "the kernel" : `the kernel ${mb(report.kernel)}`;
  const [largest] = report.stage1;
  if (!largest) return `${kernel}, stage 1`;
  const bytes = report.stage1.reduce((sum, f) => sum + f.size, 0);
  return `${kernel}, stage 1 ${mb(bytes)} unpacked (${largest.path} ${mb(largest.size)})`;
}

export function sizeText(report: SizeReport, top: number): string {
  return [
    `${report.iso.file}: ${mb(report.iso.size)}: ${bootParts(report)} and the extensions below (stage 1 copies them into RAM; initrd.img, ${mb(report.initramfs.size)} ${report.initramfs.compression}, holds both for a network boot)`,
    "",
    table(
      ["extension", "squashfs", "codec", "unpacked", "files", "unused libraries left out"],
      report.extensions.map((e) => [
        e.name,
        mb(e.size),
        e.compression,
        mb(e.unpackedSize),
        String(e.files),
        e.unused.files > 0 ? `${e.unused.files} (${mb(e.unused.bytes)})` : "-",
      ]),
    ),
    ...loadableNote(report),
    "",
    table(
      ["package (unpacked in the image)", "extension", "size", "files"],
      report.packages.slice(0, top).map((p) => [p.name, p.extension, mb(p.bytes), String(p.files)]),
    ),
    "",
    table(
      ["largest files", "owner", "size", "a library: needed by"],
      report.largest.map((f) => [f.path, f.owner, mb(f.size), f.neededBy ?? ""]),
    ),
    "",
  ].join("\n");
}

const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A horizontal bar chart: extensions (squashfs size in the ISO), then the largest packages. */
export function sizeSvg(report: SizeReport, top: number): string {
  const width = 900;
  const label = 300;
  const barMax = width - label - 110;
  const rowHeight = 22;
  const parts: string[] = [];
  let y = 40;
  const section = (title: string, rows: { name: string; bytes: number }[], color: string) => {
    parts.push(
      `<text x="10" y="${y}" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    );
    y += 12;
    const max = Math.max(1, ...rows.map((r) => r.bytes));
    for (const row of rows) {
      const length = Math.max(1, Math.round((row.bytes / max) * barMax));
      parts.push(
        `<text x="${label - 8}" y="${y + 15}" font-size="12" text-anchor="end">${escapeXml(row.name)}</text>`,
        `<rect x="${label}" y="${y + 3}" width="${length}" height="${rowHeight - 6}" fill="${color}"/>`,
        `<text x="${label + length + 6}" y="${y + 15}" font-size="12">${mb(row.bytes)}</text>`,
      );
      y += rowHeight;
    }
    y += 28;
  };
  section(
    `Extensions (squashfs in the initramfs; ISO ${mb(report.iso.size)})`,
    report.extensions.map((e) => ({ name: e.name, bytes: e.size })),
    "#3b6ea8",
  );
  section(
    `Largest ${top} packages (unpacked in the image)`,
    report.packages
      .slice(0, top)
      .map((p) => ({ name: `${p.name} [${p.extension}]`, bytes: p.bytes })),
    "#c0703a",
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="17">What fills ${escapeXml(report.iso.file)}</text>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

/**
 * Reads the build in outDir: every extension's files (unsquashfs) and what its .info says of its
 * libraries.
 */
async function imageFiles(
  outDir: string,
  manifest: Manifest,
): Promise<{ files: Map<string, ImageFile[]>; libraries: LibraryFacts; stage1: ImageFile[] }> {
  const initrd = path.join(outDir, "initrd.img");
  const codec = manifest.initramfs.compression as Codec;
  const archive =
    codec === "none" ? await readFile(initrd) : await decompressToBuffer(initrd, codec);
  const work = await mkdtemp(path.join(os.tmpdir(), "podboot-size-"));
  try {
    const files = new Map<string, ImageFile[]>();
    const libraries: LibraryFacts = { neededBy: new Map(), unused: new Map() };
    // The network boot's initramfs is stage 1 and the extensions in one archive.
    const stage1: ImageFile[] = [];
    for (const member of readNewc(archive)) {
      if (!member.path.startsWith("podboot/extensions/") && member.data.length > 0) {
        stage1.push({ path: member.path, size: member.data.length });
      }
      const info = /^podboot\/extensions\/([^/]+)\.info$/.exec(member.path)?.[1];
      if (info) readLibraryFacts(info, member.data, libraries);
      const name = /^podboot\/extensions\/([^/]+)\.sqfs$/.exec(member.path)?.[1];
      if (!name) continue;
      const image = path.join(work, `${name}.sqfs`);
      await writeFile(image, member.data);
      files.set(name, parseSquashfsListing(await listSquashfs(image)));
      await rm(image);
    }
    // Loadable extensions are beside the ISO, not in it.
    for (const e of manifest.extensions.filter((x) => x.loadable)) {
      const image = path.join(outDir, "extensions", `${e.name}.sqfs`);
      if (await pathExists(image))
        files.set(e.name, parseSquashfsListing(await listSquashfs(image)));
    }
    return { files, libraries, stage1 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function readLibraryFacts(extension: string, data: Buffer, into: LibraryFacts): void {
  const info = JSON.parse(data.toString("utf8")) as {
    librariesNeededBy?: Record<string, string>;
    unusedLibraries?: { path: string; size: number }[];
  };
  for (const [library, by] of Object.entries(info.librariesNeededBy ?? {})) {
    into.neededBy.set(library, by);
  }
  const unused = info.unusedLibraries ?? [];
  into.unused.set(extension, {
    files: unused.length,
    bytes: unused.reduce((sum, f) => sum + f.size, 0),
  });
}

/** Which package each image path comes from, by the cached .debs' own file lists. */
async function packageOwners(
  manifest: Manifest,
  cacheRoot: string,
): Promise<{ owners: Map<string, { name: string; extension: string }>; missing: string[] }> {
  const owners = new Map<string, { name: string; extension: string }>();
  const missing: string[] = [];
  for (const pkg of manifest.packages) {
    const candidates = ["amd64", "all"].map((arch) =>
      path.join(cacheRoot, "debs", debFileName(pkg.name, pkg.version, arch)),
    );
    let deb: string | undefined;
    for (const candidate of candidates) if (await pathExists(candidate)) deb = candidate;
    if (!deb) {
      missing.push(pkg.name);
      continue;
    }
    for (const file of await debPaths(deb)) {
      owners.set(file, { name: pkg.name, extension: pkg.extension });
    }
  }
  return { owners, missing };
}

export async function runSize(
  outDir: string,
  options: { cacheRoot: string; top: number; png: boolean },
): Promise<{ text: string; written: string[]; missing: string[] }> {
  const manifestFile = path.join(outDir, "manifest.json");
  if (!(await pathExists(manifestFile)) || !(await pathExists(path.join(outDir, "initrd.img")))) {
    throw new PodbootError(
      `no build in ${outDir} (manifest.json or initrd.img is missing)`,
      "run `podboot build` first, or pass --out with the directory of a build",
    );
  }
  const manifest = JSON.parse(await readFile(manifestFile, "utf8")) as Manifest;
  const { files, libraries, stage1 } = await imageFiles(outDir, manifest);
  const { owners, missing } = await packageOwners(manifest, options.cacheRoot);
  const report = summarize(manifest, files, owners, options.top, libraries, stage1);
  const svg = sizeSvg(report, options.top);
  const written = [path.join(outDir, "size.svg")];
  await replaceAtomically(written[0]!, (tmp) => writeFile(tmp, svg));
  if (options.png) {
    const png = new Resvg(svg, { fitTo: { mode: "original" }, background: "#ffffff" })
      .render()
      .asPng();
    written.push(path.join(outDir, "size.png"));
    await replaceAtomically(written[1]!, (tmp) => writeFile(tmp, png));
  }
  return { text: sizeText(report, options.top), written, missing };
}
