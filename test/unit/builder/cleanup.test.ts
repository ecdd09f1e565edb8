import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";
import { removeTracked, trackTemp } from "../../../builder/cleanup.ts";

it("on interrupt, moves trash-backed temp trees aside at once and deletes them in the background", async () => {
  const root = await mkdtemp(path.join(tmpdir(), "podboot-cleanup-"));
  const tmp = path.join(root, "tmp");
  const trash = path.join(root, "trash");
  const big = path.join(tmp, "kernel-abc");
  const inside = path.join(big, "bundle");
  const plain = path.join(root, "plain.part");
  await mkdir(path.join(inside, "rootfs"), { recursive: true });
  await writeFile(path.join(inside, "rootfs", "file"), "x");
  await writeFile(plain, "half");
  trackTemp(big, trash);
  trackTemp(inside, trash);
  trackTemp(plain);
  removeTracked();
  // Gone from where they were as soon as removeTracked returns.
  expect(await readdir(tmp)).toEqual([]);
  expect((await readdir(root)).sort()).toEqual(["tmp", "trash"]);
  // The background rm empties trash/ shortly after.
  const deadline = Date.now() + 10_000;
  while ((await readdir(trash)).length > 0 && Date.now() < deadline) await sleep(50);
  expect(await readdir(trash)).toEqual([]);
});
