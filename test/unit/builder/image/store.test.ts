import { lstat, mkdtemp, readFile, readlink, readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { buildOciImage, type LayerFile } from "../../../../builder/image/oci.ts";
import { bigDataFileName, linkName, writeImageStore } from "../../../../builder/image/store.ts";
import { crc64Iso, tarSplit } from "../../../../builder/image/tar-split.ts";

const files: LayerFile[] = [
  { path: "bin", mode: 0o755, directory: true },
  { path: "bin/busybox", mode: 0o755, data: Buffer.from("#!pretend busybox\n".repeat(100)) },
  { path: "bin/sh", mode: 0o777, symlinkTo: "busybox" },
  { path: "tmp", mode: 0o1777, directory: true },
  { path: `etc/${"a-very-long-name-".repeat(8)}`, mode: 0o644, data: Buffer.from("long\n") },
];

/** Rebuilds the tar from tar-split and the files, as containers/storage does for `podman save`. */
function reassemble(split: Buffer, content: (name: string) => Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const line of gunzipSync(split).toString().split("\n").filter(Boolean)) {
    const entry = JSON.parse(line) as {
      type: number;
      name?: string;
      size?: number;
      payload: string | null;
    };
    if (entry.type === 2) parts.push(Buffer.from(entry.payload ?? "", "base64"));
    else if (entry.size) {
      const data = content(entry.name!);
      expect(crc64Iso(data).toString("base64")).toBe(entry.payload);
      parts.push(data);
    }
  }
  return Buffer.concat(parts);
}

describe("tar-split", () => {
  it("computes CRC-64/ISO as Go's hash/crc64 does", () => {
    expect(crc64Iso(Buffer.from("123456789")).toString("hex")).toBe("b90956c775a41001");
  });

  it("lets the exact layer tar be rebuilt from the unpacked files", async () => {
    const image = await buildOciImage({ files, cmd: ["/bin/sh"], epoch: 946684800 });
    const byName = new Map(files.filter((f) => f.data).map((f) => [f.path, f.data!]));
    const rebuilt = reassemble(tarSplit(image.layer), (name) => byName.get(name)!);
    expect(rebuilt.equals(image.layer)).toBe(true);
  });
});

describe("writeImageStore", () => {
  it("writes the layout containers/storage reads, the same every time", async () => {
    const image = await buildOciImage({ files, cmd: ["/bin/sh"], epoch: 946684800 });
    const write = async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-store-"));
      await writeImageStore(dir, [{ reference: "localhost/hello:latest", image, files }]);
      return dir;
    };
    const [a, b] = [await write(), await write()];
    const layerId = image.layerDigest.slice("sha256:".length);
    const imageId = image.configDigest.slice("sha256:".length);
    const link = linkName(layerId);
    expect(link).toMatch(/^[A-Z2-7]{26}$/);
    expect(await readFile(path.join(a, "overlay", layerId, "link"), "utf8")).toBe(link);
    expect(await readlink(path.join(a, "overlay", "l", link))).toBe(`../${layerId}/diff`);
    expect((await lstat(path.join(a, "overlay", layerId, "diff/bin/busybox"))).mode & 0o777).toBe(
      0o755,
    );
    expect(await readlink(path.join(a, "overlay", layerId, "diff/bin/sh"))).toBe("busybox");
    const layers = JSON.parse(await readFile(path.join(a, "overlay-layers/layers.json"), "utf8"));
    expect(layers).toEqual([
      expect.objectContaining({
        id: layerId,
        "diff-digest": image.layerDigest,
        "diff-size": image.layer.length,
      }),
    ]);
    const images = JSON.parse(await readFile(path.join(a, "overlay-images/images.json"), "utf8"));
    expect(images[0]).toMatchObject({
      id: imageId,
      names: ["localhost/hello:latest"],
      layer: layerId,
      digest: image.manifestDigest,
    });
    expect((await readdir(path.join(a, "overlay-images", imageId))).sort()).toEqual(
      [
        bigDataFileName(image.configDigest),
        bigDataFileName(`manifest-${image.manifestDigest}`),
        "manifest",
        bigDataFileName(`signature-${image.manifestDigest.slice("sha256:".length)}`),
      ].sort(),
    );
    for (const lock of ["overlay-layers/layers.lock", "overlay-images/images.lock"]) {
      expect((await lstat(path.join(a, lock))).isFile()).toBe(true);
    }
    // Byte for byte the same store from the same image.
    for (const file of [
      "overlay-layers/layers.json",
      "overlay-images/images.json",
      `overlay-layers/${layerId}.tar-split.gz`,
    ]) {
      expect((await readFile(path.join(a, file))).equals(await readFile(path.join(b, file)))).toBe(
        true,
      );
    }
  });

  it("names big data files as containers/storage does", () => {
    expect(bigDataFileName("manifest")).toBe("manifest");
    expect(bigDataFileName("sha256:abc")).toBe(`=${Buffer.from("sha256:abc").toString("base64")}`);
  });
});
