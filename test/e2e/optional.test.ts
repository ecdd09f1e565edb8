// Optional extensions: left out of the default image, built with `podboot build --with NAME` and
// then loaded at boot like any other. kubectl is the recipe's first one.
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SerialVm } from "../../builder/vm/console.ts";
import { chooseAccel } from "../../builder/vm/qemu.ts";
import { buildIso, projectDir } from "./build.ts";

let out: string;
let vm: SerialVm | undefined;

beforeAll(async () => {
  out = await mkdtemp(path.join(os.tmpdir(), "podboot-with-"));
  await buildIso({ out, flags: ["--with", "kubectl"] });
  await buildIso();
}, 40 * 60_000);

afterAll(() => vm?.kill());

const extensionsOf = async (dir: string): Promise<string[]> =>
  JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")).extensions.map(
    (e: { name: string }) => e.name,
  );

describe("optional extensions", () => {
  it("kubectl is not in the default image and is with --with kubectl, below the overlay", async () => {
    expect(await extensionsOf(path.join(projectDir, "out"))).not.toContain("kubectl");
    expect((await extensionsOf(out)).slice(-2)).toEqual(["kubectl", "overlay"]);
  });

  it("the image built --with kubectl boots and runs kubectl", async () => {
    const accel = await chooseAccel("auto");
    vm = SerialVm.start({
      iso: path.join(out, "podboot.iso"),
      memoryMiB: 512,
      firmware: "bios",
      accel,
    });
    await vm.waitFor(/podboot: ready/, 240_000);
    await vm.waitFor(/root@podboot/, 60_000);
    const version = await vm.run("kubectl version --client 2>&1", 60_000);
    expect(version.status).toBe(0);
    expect(version.output).toMatch(/Client Version: v1\.\d+\.\d+/);
    expect((await vm.run("cat /run/podboot/extensions")).output).toMatch(/kubectl/);
  });
});
