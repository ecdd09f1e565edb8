import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import tar from "tar-stream";
import { Readable } from "node:stream";
import { buildOciArchive } from "../../../../builder/image/oci.ts";

async function untar(data: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => void chunks.push(c as Buffer));
      stream.on("end", () => {
        files.set(header.name, Buffer.concat(chunks));
        next();
      });
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  Readable.from([data]).pipe(extract);
  await done;
  return files;
}

const input = {
  reference: "localhost/hello:latest",
  files: [
    { path: "bin", mode: 0o755, directory: true },
    { path: "bin/echo", mode: 0o755, data: Buffer.from("binary") },
    { path: "bin/sh", mode: 0o777, symlinkTo: "echo" },
  ],
  cmd: ["/bin/echo", "hi"],
  epoch: 1_700_000_000,
};

describe("OCI image archive", () => {
  it("is a valid image layout whose digests match the blobs", async () => {
    const { archive, manifestDigest } = await buildOciArchive(input);
    const files = await untar(archive);
    expect(JSON.parse(files.get("oci-layout")!.toString())).toEqual({
      imageLayoutVersion: "1.0.0",
    });
    const index = JSON.parse(files.get("index.json")!.toString());
    expect(index.manifests[0].digest).toBe(manifestDigest);
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe(
      "localhost/hello:latest",
    );
    for (const [name, body] of files) {
      if (!name.startsWith("blobs/sha256/") || body.length === 0) continue;
      expect(createHash("sha256").update(body).digest("hex")).toBe(
        name.slice("blobs/sha256/".length),
      );
    }
    const manifest = JSON.parse(files.get(`blobs/sha256/${manifestDigest.slice(7)}`)!.toString());
    const config = JSON.parse(
      files.get(`blobs/sha256/${manifest.config.digest.slice(7)}`)!.toString(),
    );
    expect(config.config.Cmd).toEqual(["/bin/echo", "hi"]);
    expect(config.rootfs.diff_ids).toEqual([manifest.layers[0].digest]);
  });

  it("is reproducible", async () => {
    expect(
      (await buildOciArchive(input)).archive.equals((await buildOciArchive(input)).archive),
    ).toBe(true);
  });
});
