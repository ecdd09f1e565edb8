// A machine's data disk: a sparse file that starts with podboot's autoformat marker as the first
// member of a tar whose other member is .ssh/authorized_keys. On its first boot the VM formats it
// as podboot-data and seeds /home/podboot with the key (docs/booting.md).
import { open } from "node:fs/promises";
import tar from "tar-stream";

export const AUTOFORMAT_MARKER = "podboot, please format-me";

export async function seedTar(publicKey: string): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (chunk: unknown) => void chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => pack.on("end", resolve));
  pack.entry({ name: AUTOFORMAT_MARKER, mtime: new Date(0) }, "");
  pack.entry(
    { name: ".ssh/authorized_keys", mode: 0o600, mtime: new Date(0) },
    `${publicKey.trim()}\n`,
  );
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Writes the seed at the start of `file` and makes it `gib` GiB long (sparse). */
export async function makeDataDisk(file: string, publicKey: string, gib: number): Promise<void> {
  const handle = await open(file, "wx");
  try {
    await handle.write(await seedTar(publicKey), 0, undefined, 0);
    await handle.truncate(gib * 1024 ** 3);
  } finally {
    await handle.close();
  }
}
