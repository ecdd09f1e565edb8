// Builds a one-layer OCI image archive (an OCI image layout in a tar, what `podman load` reads)
// without a registry or a container engine. Every timestamp is the build epoch, so the same
// inputs always give the same digests.
import { createHash } from "node:crypto";
import tar from "tar-stream";

export interface LayerFile {
  path: string;
  mode: number;
  data?: Buffer;
  symlinkTo?: string;
  directory?: boolean;
}

export interface ImageInput {
  /** Full reference, e.g. localhost/podboot-hello:latest */
  reference: string;
  files: LayerFile[];
  cmd: string[];
  epoch: number;
}

async function packTar(
  entries: {
    name: string;
    data?: Buffer;
    mode: number;
    type: "file" | "directory" | "symlink";
    linkname?: string;
  }[],
  mtime: Date,
): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (chunk: unknown) => void chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  for (const entry of entries) {
    const header = {
      name: entry.name,
      mode: entry.mode,
      mtime,
      uid: 0,
      gid: 0,
      uname: "root",
      gname: "root",
      type: entry.type,
      linkname: entry.linkname,
    };
    const body = entry.type === "file" ? (entry.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    await new Promise<void>((resolve, reject) =>
      pack.entry(header, body, (error) => (error ? reject(error) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** An image's blobs: its one layer (a tar), its config and its manifest, with their digests. */
export interface OciImage {
  layer: Buffer;
  layerDigest: string;
  config: Buffer;
  configDigest: string;
  manifest: Buffer;
  manifestDigest: string;
  created: string;
}

/** The image's blobs; the same inputs always give the same bytes. */
export async function buildOciImage(input: Omit<ImageInput, "reference">): Promise<OciImage> {
  const mtime = new Date(input.epoch * 1000);
  const layerEntries = [...input.files]
    .sort((a, b) => (a.path < b.path ? -1 : 1))
    .map((file) => ({
      name: file.path,
      mode: file.mode,
      data: file.data,
      type: file.directory
        ? ("directory" as const)
        : file.symlinkTo
          ? ("symlink" as const)
          : ("file" as const),
      linkname: file.symlinkTo,
    }));
  const layer = await packTar(layerEntries, mtime);
  const layerDigest = `sha256:${sha256(layer)}`;
  const created = mtime.toISOString().replace(/\.000Z$/, "Z");
  const config = Buffer.from(
    JSON.stringify({
      created: mtime.toISOString(),
      architecture: "amd64",
      os: "linux",
      config: { Cmd: input.cmd, Env: ["PATH=/bin"], WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: [layerDigest] },
      history: [{ created: mtime.toISOString(), created_by: "podboot (busybox-static layer)" }],
    }),
  );
  const configDigest = `sha256:${sha256(config)}`;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: configDigest,
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar",
          digest: layerDigest,
          size: layer.length,
        },
      ],
    }),
  );
  const manifestDigest = `sha256:${sha256(manifest)}`;
  return { layer, layerDigest, config, configDigest, manifest, manifestDigest, created };
}

export async function buildOciArchive(
  input: ImageInput,
): Promise<{ archive: Buffer; manifestDigest: string }> {
  const image = await buildOciImage(input);
  const mtime = new Date(input.epoch * 1000);
  return {
    archive: await layoutArchive(input.reference, image, mtime),
    manifestDigest: image.manifestDigest,
  };
}

/** The OCI image layout (oci-layout, index.json naming the reference, blobs/) as one tar. */
async function layoutArchive(reference: string, blobs: OciImage, mtime: Date): Promise<Buffer> {
  const { config, configDigest, layer, layerDigest, manifest, manifestDigest } = blobs;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: manifestDigest,
          size: manifest.length,
          annotations: { "org.opencontainers.image.ref.name": reference },
        },
      ],
    }),
  );
  const blob = (digest: string) => `blobs/sha256/${digest.slice("sha256:".length)}`;
  return packTar(
    [
      { name: "blobs", mode: 0o755, type: "directory" },
      { name: "blobs/sha256", mode: 0o755, type: "directory" },
      { name: blob(configDigest), mode: 0o644, type: "file", data: config },
      { name: blob(layerDigest), mode: 0o644, type: "file", data: layer },
      { name: blob(manifestDigest), mode: 0o644, type: "file", data: manifest },
      { name: "index.json", mode: 0o644, type: "file", data: index },
      {
        name: "oci-layout",
        mode: 0o644,
        type: "file",
        data: Buffer.from('{"imageLayoutVersion":"1.0.0"}'),
      },
    ],
    mtime,
  );
}
