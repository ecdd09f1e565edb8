// Walking directory trees: the one walker every step, command and test uses, so that symlinks,
// sorting and path separators are treated the same everywhere.
import { lstat, readdir } from "node:fs/promises";
import path from "node:path";

export interface TreeEntry {
  /** Relative to the root, with "/" separators. */
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  /** Bytes of a file (a symlink's target length, as lstat reports it). */
  size: number;
  mode: number;
}

/**
 * Every entry below root, depth first, sorted by path. Directories are listed too when
 * `dirs` is set; symlinks are never followed.
 */
export async function walkTree(
  root: string,
  options: { dirs?: boolean } = {},
): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const visit = async (rel: string): Promise<void> => {
    for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      const stat = await lstat(path.join(root, child));
      const type = entry.isDirectory()
        ? "dir"
        : entry.isSymbolicLink()
          ? "symlink"
          : entry.isFile()
            ? "file"
            : "other";
      if (type !== "dir" || options.dirs)
        out.push({ path: child, type, size: stat.size, mode: stat.mode });
      if (type === "dir") await visit(child);
    }
  };
  await visit("");
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Every non-directory entry below root with its size: what an extension's .list records. */
export async function listTree(root: string): Promise<{ path: string; size: number }[]> {
  return (await walkTree(root)).map(({ path: p, size }) => ({ path: p, size }));
}
