// A read-only containers/storage image store (overlay driver) holding the baked images, written at
// build time so that nothing is loaded at boot: podman finds them through `additionalimagestores`
// in /etc/containers/storage.conf, for root and for rootless users, the moment it starts. The
// layout is what containers/storage itself writes when it loads an image (checked against it):
//   overlay/ID/diff/…            the layer's files          overlay/ID/link   its short name
//   overlay/l/SHORT → ../ID/diff                           (lower directories are named by it)
//   overlay-layers/layers.json, ID.tar-split.gz, layers.lock
//   overlay-images/images.json, IMAGE/manifest and its other "big data", images.lock
// Every byte is a function of the images, so a rebuild is identical.
import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { sha256 } from "../fs/hash.ts";
import type { LayerFile, OciImage } from "./oci.ts";
import { tarSplit } from "./tar-split.ts";

export interface StoredImage {
  /** localhost/NAME:TAG */
  reference: string;
  image: OciImage;
  files: LayerFile[];
}

const hex = (digest: string) => digest.replace(/^sha256:/, "");

/** containers/storage's file name for a "big data" key (its makeBigDataBaseName). */
export function bigDataFileName(key: string): string {
  return /^[.0-9a-z]*$/.test(key) ? key : `=${Buffer.from(key).toString("base64")}`;
}

/** A layer's short name in overlay/l/: 26 characters of base32, as storage makes them (here
 * derived from the layer's id instead of random). */
export function linkName(layerId: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bytes = Buffer.from(sha256(`podboot link ${layerId}`), "hex");
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

export async function writeImageStore(dir: string, images: StoredImage[]): Promise<void> {
  const layersDir = path.join(dir, "overlay-layers");
  const imagesDir = path.join(dir, "overlay-images");
  await mkdir(path.join(dir, "overlay", "l"), { recursive: true });
  await mkdir(layersDir, { recursive: true });
  await mkdir(imagesDir, { recursive: true });
  const layers: object[] = [];
  const records: object[] = [];
  for (const { reference, image, files } of images) {
    // A base layer's id is its chain id, which for the first layer is its diff id.
    const layerId = hex(image.layerDigest);
    const layerDir = path.join(dir, "overlay", layerId);
    await writeLayerFiles(path.join(layerDir, "diff"), files);
    const link = linkName(layerId);
    await writeFile(path.join(layerDir, "link"), link);
    await symlink(`../${layerId}/diff`, path.join(dir, "overlay", "l", link));
    await writeFile(path.join(layersDir, `${layerId}.tar-split.gz`), tarSplit(image.layer));
    layers.push({
      id: layerId,
      created: image.created,
      "compressed-diff-digest": image.layerDigest,
      "compressed-size": image.layer.length,
      "diff-digest": image.layerDigest,
      "diff-size": image.layer.length,
      uidset: [0],
      gidset: [0],
    });
    records.push(await writeImageRecord(imagesDir, reference, image, layerId));
  }
  await writeFile(path.join(layersDir, "layers.json"), JSON.stringify(layers));
  await writeFile(path.join(imagesDir, "images.json"), JSON.stringify(records));
  // Readers take a shared lock on these; on a read-only filesystem they must already exist.
  for (const lock of [
    path.join(layersDir, "layers.lock"),
    path.join(imagesDir, "images.lock"),
    path.join(dir, "storage.lock"),
  ]) {
    await writeFile(lock, "");
  }
}

/** The image's entry of images.json, and its big data files: config, manifest, signatures. */
async function writeImageRecord(
  imagesDir: string,
  reference: string,
  image: OciImage,
  layerId: string,
): Promise<object> {
  const id = hex(image.configDigest);
  const manifestKey = `manifest-${image.manifestDigest}`;
  const signatureKey = `signature-${hex(image.manifestDigest)}`;
  const bigData: [string, Buffer][] = [
    [image.configDigest, image.config],
    [manifestKey, image.manifest],
    ["manifest", image.manifest],
    [signatureKey, Buffer.alloc(0)],
  ];
  await mkdir(path.join(imagesDir, id));
  for (const [key, data] of bigData) {
    await writeFile(path.join(imagesDir, id, bigDataFileName(key)), data);
  }
  return {
    id,
    digest: image.manifestDigest,
    names: [reference],
    "names-history": [reference],
    layer: layerId,
    metadata: JSON.stringify({ "signatures-sizes": { [image.manifestDigest]: [] } }),
    "big-data-names": bigData.map(([key]) => key),
    "big-data-sizes": Object.fromEntries(bigData.map(([key, data]) => [key, data.length])),
    "big-data-digests": Object.fromEntries(
      bigData.map(([key, data]) => [key, `sha256:${sha256(data)}`]),
    ),
    created: image.created,
  };
}

async function writeLayerFiles(root: string, files: LayerFile[]): Promise<void> {
  await mkdir(root, { recursive: true });
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const target = path.join(root, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    if (file.directory) await mkdir(target, { recursive: true });
    else if (file.symlinkTo) await symlink(file.symlinkTo, target);
    else await writeFile(target, file.data ?? Buffer.alloc(0));
    if (!file.symlinkTo) await chmod(target, file.mode);
  }
}
