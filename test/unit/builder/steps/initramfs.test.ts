import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readNewc } from "../../../../builder/cpio/newc.ts";
import { SilentLogger } from "../../../../builder/report/console.ts";
import { buildInitramfs, type BootParts } from "../../../../builder/steps/initramfs.ts";

let work = "";
afterEach(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function parts(): Promise<BootParts> {
  work = await mkdtemp(path.join(os.tmpdir(), "podboot-initramfs-"));
  const file = async (name: string, text: string) => {
    await writeFile(path.join(work, name), text);
    return path.join(work, name);
  };
  await mkdir(path.join(work, "modules"));
  return {
    init: await file("init", "#!/bin/busybox sh\n"),
    busybox: await file("busybox", "ELF"),
    kernel: { modulesDir: path.join(work, "modules"), modules: [] },
    extensions: [
      {
        name: "base",
        sha256: "a".repeat(64),
        image: await file("base.sqfs", "hsqs base"),
        sidecars: [await file("base.list", "usr/bin/busybox\n")],
        loadable: false,
      },
      {
        name: "podman",
        sha256: "b".repeat(64),
        image: await file("podman.sqfs", "hsqs"),
        sidecars: [],
        loadable: false,
      },
      {
        name: "tools",
        sha256: "c".repeat(64),
        image: await file("tools.sqfs", "hsqs"),
        sidecars: [],
        loadable: true,
      },
    ],
  };
}

const paths = async (file: string) => readNewc(await readFile(file)).map((m) => m.path);

describe("the boot archives", () => {
  it("keep stage 1 apart from the extensions, and join them for a network boot; a loadable one is in neither", async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), "podboot-initramfs-out-"));
    try {
      const log = new SilentLogger().stepLog();
      const built = await buildInitramfs(out, await parts(), {
        epoch: 1,
        codec: "none",
        stage1Codec: "none",
        log,
      });
      const stage1 = await paths(built.stage1);
      expect(stage1).toEqual(
        expect.arrayContaining(["init", "bin/busybox", "podboot/extensions.order"]),
      );
      expect(stage1.filter((p) => p.endsWith(".sqfs"))).toEqual([]);
      expect((await paths(built.extensions)).filter((p) => !p.endsWith("/extensions"))).toEqual([
        "podboot",
        "podboot/extensions/base.sqfs",
        "podboot/extensions/base.list",
        "podboot/extensions/podman.sqfs",
      ]);
      expect(await paths(built.full)).toEqual([...stage1, ...(await paths(built.extensions))]);
      // The list stage 1 matches the medium by names every extension with its hash.
      const order = readNewc(await readFile(built.stage1)).find(
        (m) => m.path === "podboot/extensions.order",
      );
      expect(order?.data.toString()).toBe(
        `base ${"a".repeat(64)} required\npodman ${"b".repeat(64)} optional\n` +
          `tools ${"c".repeat(64)} loadable\n`,
      );
      // The ISO's copy of the list is the one stage 1 holds, byte for byte.
      expect(built.order).toBe(order?.data.toString());
      // Nothing but the three archives is left behind.
      expect((await readdir(out)).sort()).toEqual(["extensions.cpio", "initrd.img", "stage1.img"]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
