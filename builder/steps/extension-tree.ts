// Shaping an extension's staged tree: compiled files in place of their package's, the drop
// rules, the CA bundle for the extension that ships ca-certificates, and for the extension that
// ships busybox the root's merged-/usr links and an applet link for every command no package
// provides.
import {
  cp,
  lstat,
  mkdir,
  readdir,
  readFile,
  rm,
  rmdir,
  symlink,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import picomatch from "picomatch";
import { listTree, walkTree } from "../fs/tree.ts";
import type { StepLog } from "../report/events.ts";
import { run } from "../tools/run.ts";
import type { BuiltFile } from "./compile.ts";

/** Puts a compiled component's files in place of the same paths from its Debian package. */
export async function replaceWithCompiled(
  stage: string,
  compiled: { tree: string; files: BuiltFile[] },
): Promise<void> {
  for (const file of compiled.files) {
    const target = path.join(stage, file.path);
    await rm(target, { force: true });
    await mkdir(path.dirname(target), { recursive: true });
    await cp(path.join(compiled.tree, file.path), target, { preserveTimestamps: false });
  }
}

export const CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt";
const CA_SOURCES = "usr/share/ca-certificates";

/**
 * The one file TLS clients read (Go's crypto/x509 among them): every certificate ca-certificates
 * ships, concatenated in path order, which is what its maintainer script (update-ca-certificates,
 * never run here) would write. Returns how many it holds; 0 when the tree has none.
 */
export async function writeCaBundle(stage: string): Promise<number> {
  const certs = (await walkTree(path.join(stage, CA_SOURCES)).catch(() => []))
    .filter((entry) => entry.type === "file" && entry.path.endsWith(".crt"))
    .map((entry) => entry.path)
    .sort();
  if (certs.length === 0) return 0;
  const parts: string[] = [];
  for (const cert of certs) {
    const text = await readFile(path.join(stage, CA_SOURCES, cert), "utf8");
    parts.push(text.endsWith("\n") ? text : `${text}\n`);
  }
  await mkdir(path.dirname(path.join(stage, CA_BUNDLE)), { recursive: true });
  await writeFile(path.join(stage, CA_BUNDLE), parts.join(""), { mode: 0o644 });
  return certs.length;
}

/**
 * Deletes every file matching a drop rule unless a keep rule matches it, then the directories the
 * deletions left empty (directories that were empty to begin with stay: they are mount points).
 */
export async function applyDropRules(
  root: string,
  drop: string[],
  keep: string[],
): Promise<number> {
  const dropped = picomatch(drop, { dot: true });
  const kept = picomatch(keep.length > 0 ? keep : ["\0never"], { dot: true });
  const touched = new Set<string>();
  let count = 0;
  for (const entry of await listTree(root)) {
    if (dropped(entry.path) && !kept(entry.path)) {
      await rm(path.join(root, entry.path));
      touched.add(path.dirname(entry.path));
      count++;
    }
  }
  // Deepest first, so a parent is looked at after its children are gone.
  const dirs = [...touched].flatMap(ancestors).sort((a, b) => b.length - a.length);
  for (const dir of new Set(dirs)) {
    const full = path.join(root, dir);
    if ((await readdir(full).catch(() => ["?"])).length === 0) await rmdir(full);
  }
  return count;
}

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; d !== "." && d !== ""; d = path.dirname(d)) out.push(d);
  return out;
}

/**
 * The root's merged-/usr links (bin → usr/bin …) and busybox's applet links for every command no
 * package in this extension provides. Other extensions sit above this one and win where they
 * ship a real program of the same name.
 */
export async function installRootLinks(stage: string, log: StepLog): Promise<void> {
  for (const [link, target] of [
    ["bin", "usr/bin"],
    ["sbin", "usr/sbin"],
    ["lib", "usr/lib"],
    ["lib64", "usr/lib64"],
  ] as const) {
    const linkPath = path.join(stage, link);
    const existing = await lstat(linkPath).catch(() => undefined);
    if (existing?.isDirectory()) {
      await mkdir(path.join(stage, target), { recursive: true });
      await cp(linkPath, path.join(stage, target), { recursive: true, verbatimSymlinks: true });
      await rm(linkPath, { recursive: true });
    } else if (existing) {
      continue;
    }
    await mkdir(path.join(stage, target), { recursive: true });
    await symlink(target, linkPath);
  }
  const applets = await run(path.join(stage, "usr/bin/busybox"), ["--list-full"], { log });
  for (const applet of applets.split("\n").filter(Boolean)) {
    const rel = applet.replace(/^(s?bin)\//, "usr/$1/");
    const target = path.join(stage, rel);
    if (await lstat(target).catch(() => undefined)) continue;
    await mkdir(path.dirname(target), { recursive: true });
    // Relative, so the link also resolves while the tree is mounted somewhere else (stage 1).
    await symlink(path.relative(path.dirname(target), path.join(stage, "usr/bin/busybox")), target);
  }
}
