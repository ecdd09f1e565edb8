// What `podboot machine load` reads of the guest: podboot-load's own --list (run here by plain sh
// on a scratch root), and where it looks for an image by default.
import { execa } from "execa";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { extensionFile, parseLoadableList } from "../../../../builder/machine/extensions.ts";
import type { MachineConfig } from "../../../../builder/machine/store.ts";

const script = path.resolve(import.meta.dirname, "../../../../rootfs-overlay/usr/lib/podboot/load");

describe("machine load", () => {
  it("reads which extensions are loadable and which are loaded from podboot-load --list", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "podboot-machine-load-"));
    await mkdir(path.join(root, "run/podboot"), { recursive: true });
    await mkdir(path.join(root, "var/lib/podboot/extensions"), { recursive: true });
    const sha = "c".repeat(64);
    await writeFile(
      path.join(root, "run/podboot/extensions.order"),
      `base ${sha} required\ntools ${sha} loadable\nkube ${sha} loadable\nextra ${sha} loadable\n`,
    );
    await writeFile(path.join(root, "run/podboot/extensions"), " base overlay tools\n");
    await writeFile(path.join(root, "var/lib/podboot/extensions/kube.sqfs"), "");
    const listed = await execa("sh", [script, "--list"], { env: { PODBOOT_ROOT: root } });
    expect([...parseLoadableList(listed.stdout)]).toEqual([
      ["tools", true],
      ["kube", false],
      ["extra", false],
    ]);
  });

  it("takes the image the build wrote beside the machine's ISO unless given one", () => {
    const config = { iso: "/work/out/podboot.iso" } as MachineConfig;
    expect(extensionFile(config, "tools")).toBe("/work/out/extensions/tools.sqfs");
    expect(extensionFile(config, "tools", "/srv/tools.sqfs")).toBe("/srv/tools.sqfs");
  });
});
