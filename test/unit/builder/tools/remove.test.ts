import { mkdir, mkdtemp, readdir, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { removeTreesSync } from "../../../../builder/tools/remove.ts";

describe("removeTreesSync", () => {
  it("removes whole trees, names with spaces, files and missing paths; never what a link points at", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "podboot-remove-"));
    const outside = path.join(dir, "outside");
    await mkdir(outside);
    await writeFile(path.join(outside, "keep me"), "x");
    const tree = path.join(dir, "a tree");
    for (const sub of ["x/y/z", "x/w", "v"]) await mkdir(path.join(tree, sub), { recursive: true });
    for (const file of ["top", "x/one", "x/y/two", "x/y/z/three", "v/four"])
      await writeFile(path.join(tree, file), file);
    await symlink(outside, path.join(tree, "x/link"));
    await symlink(outside, path.join(tree, "x/y/deeper link"));
    const file = path.join(dir, "a file");
    await writeFile(file, "f");
    removeTreesSync([tree, file, path.join(dir, "missing")]);
    expect((await readdir(dir)).sort()).toEqual(["outside"]);
    expect(await readdir(outside)).toEqual(["keep me"]);
  });
});
