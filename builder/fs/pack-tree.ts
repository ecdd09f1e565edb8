// A directory as a reproducible tar: entries in path order, owned by root, dated with one fixed
// time, modes reduced to what git keeps (executable or not). The same files give the same bytes,
// wherever the checkout is and whoever owns it.
import { readFile, readlink } from "node:fs/promises";
import path from "node:path";
import tar from "tar-stream";
import { walkTree } from "./tree.ts";

export async function packTree(dir: string, prefix: string, mtime = new Date(0)): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (chunk: unknown) => void chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  const add = (
    header: {
      name: string;
      type: "file" | "directory" | "symlink";
      mode: number;
      linkname?: string;
    },
    body: Buffer = Buffer.alloc(0),
  ) =>
    new Promise<void>((resolve, reject) =>
      pack.entry({ uid: 0, gid: 0, uname: "root", gname: "root", mtime, ...header }, body, (e) =>
        e ? reject(e) : resolve(),
      ),
    );
  await add({ name: `${prefix}/`, type: "directory", mode: 0o755 });
  for (const entry of await walkTree(dir, { dirs: true })) {
    const name = `${prefix}/${entry.path}`;
    const full = path.join(dir, entry.path);
    if (entry.type === "dir") await add({ name: `${name}/`, type: "directory", mode: 0o755 });
    else if (entry.type === "symlink") {
      await add({ name, type: "symlink", linkname: await readlink(full), mode: 0o777 });
    } else if (entry.type === "file") {
      const mode = entry.mode & 0o111 ? 0o755 : 0o644;
      await add({ name, type: "file", mode }, await readFile(full));
    }
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}
