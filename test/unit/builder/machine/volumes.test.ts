import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { mountScript, parseVolume, parseVolumes } from "../../../../builder/machine/volumes.ts";

const root = await mkdtemp(path.join(os.tmpdir(), "podboot-volumes-"));
const src = path.join(root, "src");
await mkdir(src);
await writeFile(path.join(root, "file"), "");

describe("--volume", () => {
  it("HOST:GUEST, or HOST at the same path", async () => {
    expect(await parseVolume(`${src}:/src`)).toEqual({ host: src, guest: "/src" });
    // HOST alone is mounted at the same path: here under /tmp, which the guest keeps for itself.
    await expect(parseVolume(src)).rejects.toThrow(`${src} is the system's own (/tmp)`);
  });

  it.each([
    [`${src}:/a:/b`, /write it HOST:GUEST/],
    [":/src", /write it HOST:GUEST/],
    [`${root}/missing:/src`, /is not a folder on this machine/],
    [`${root}/file:/src`, /is not a folder on this machine/],
    [`${src}:relative`, /must be absolute/],
    [`${src}:/a b`, /must be absolute/],
    [`${src}:/etc`, /is the system's own \(\/etc\)/],
    [`${src}:/var/lib/containers/x`, /is the system's own/],
  ])("refuses %s in one line", async (spec, message) => {
    const error = (await parseVolume(spec).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain("\n");
  });

  it("refuses a host folder with a comma (QEMU's options cannot carry it)", async () => {
    const comma = path.join(root, "a,b");
    await mkdir(comma);
    await expect(parseVolume(`${comma}:/x`)).rejects.toThrow(/has a comma/);
  });

  it("refuses two shares on one guest path or one inside another", async () => {
    await expect(parseVolumes([`${src}:/srv/a`, `${root}:/srv/a`])).rejects.toThrow(
      /already a share's path/,
    );
    await expect(parseVolumes([`${src}:/srv/a`, `${root}:/srv/a/b`])).rejects.toThrow(
      /already a share's path, or inside one/,
    );
    expect(await parseVolumes([`${src}:/srv/a`, `${root}:/srv/ab`])).toHaveLength(2);
  });

  it("mounts each share by its tag, once", () => {
    const volumes = [
      { host: src, guest: "/src" },
      { host: root, guest: "/srv/w" },
    ];
    expect(mountScript(volumes, "9p")).toBe(
      "mkdir -p /src && { mountpoint -q /src || mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 podboot0 /src; } && " +
        "mkdir -p /srv/w && { mountpoint -q /srv/w || mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 podboot1 /srv/w; }",
    );
    expect(mountScript(volumes.slice(0, 1), "virtiofs")).toBe(
      "mkdir -p /src && { mountpoint -q /src || mount -t virtiofs podboot0 /src; }",
    );
  });
});
