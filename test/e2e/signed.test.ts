// A signed build (`podboot build --sign-key`): the artifacts carry minisign signatures the minisign
// CLI accepts, and stage 1 checks the signed list of extensions before mounting anything. One
// byte flipped in an extension gets that extension refused while the boot goes on; a tampered
// list gets every extension refused, with a clear message.
import { execa } from "execa";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readNewc } from "../../builder/cpio/newc.ts";
import { SerialVm } from "../../builder/vm/console.ts";
import { chooseAccel, isoKernel } from "../../builder/vm/qemu.ts";
import { buildIso, FIRST_BUILD_LIMIT, outPath, paced, projectDir } from "./build.ts";

const outDir = outPath("signed");
let work: string;
let kernel: string;
let initramfs: Buffer;

/** The data of one member of the (uncompressed) initramfs: a view into the archive's buffer. */
function cpioData(archive: Buffer, name: string): Buffer {
  const member = readNewc(archive).find((m) => m.path === name);
  if (!member) throw new Error(`${name} is not in the archive`);
  return member.data;
}

async function bootWith(archive: Buffer, label: string): Promise<SerialVm> {
  const initrd = path.join(work, `${label}.cpio`);
  await writeFile(initrd, archive);
  return SerialVm.start({
    iso: path.join(outDir, "podboot.iso"),
    memoryMiB: 512,
    firmware: "bios",
    accel: await chooseAccel("auto"),
    direct: { kernel, initrd },
  });
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "podboot-signed-"));
  const key = path.join(work, "release.key");
  await execa(
    "node",
    ["bin/podboot.js", "keygen", "-s", key, "-p", path.join(work, "release.pub")],
    {
      cwd: projectDir,
    },
  );
  await buildIso({ out: outDir, flags: ["--sign-key", key] });
  kernel = await isoKernel(path.join(outDir, "podboot.iso"), work);
  // The default recipe's initramfs is a plain cpio; a compressed one is opened with zstd.
  const initrd = await readFile(path.join(outDir, "initrd.img"));
  initramfs = initrd.subarray(0, 5).toString("latin1").startsWith("0707")
    ? initrd
    : ((await execa("zstd", ["-dc", path.join(outDir, "initrd.img")], { encoding: "buffer" }))
        .stdout as unknown as Buffer);
}, FIRST_BUILD_LIMIT);

describe("a signed build", () => {
  it("signs SHA256SUMS, the ISO and the initramfs so that the minisign CLI accepts them", async () => {
    for (const file of ["SHA256SUMS", "podboot.iso", "initrd.img"]) {
      const check = await execa(
        "minisign",
        ["-V", "-q", "-p", path.join(work, "release.pub"), "-m", path.join(outDir, file)],
        { reject: false },
      );
      expect(check.exitCode, file).toBe(0);
    }
    const manifest = JSON.parse(await readFile(path.join(outDir, "manifest.json"), "utf8"));
    const verifier = manifest.components.find((c: { name: string }) => c.name === "minisign");
    expect(verifier.provenance).toMatch(/^compiled from source/);
  });

  it(
    "refuses an extension with one flipped byte, says so, and boots on",
    async () => {
      const archive = Buffer.from(initramfs);
      const image = cpioData(archive, "podboot/extensions/network.sqfs");
      const middle = Math.floor(image.length / 2);
      image[middle] = image[middle]! ^ 0xff;
      const vm = await bootWith(archive, "flipped");
      try {
        await vm.waitFor(/extension list: signature verified/, 240_000);
        await vm.waitFor(/extension network REFUSED: its checksum does not match/, 60_000);
        // every other extension is mounted, in order (a loadable one is not on the ISO)
        const manifest = JSON.parse(await readFile(path.join(outDir, "manifest.json"), "utf8"));
        const others = manifest.extensions
          .filter((e: { loadable?: true }) => !e.loadable)
          .map((e: { name: string }) => e.name)
          .filter((name: string) => name !== "network");
        await vm.waitFor(new RegExp(`podboot: extensions: ${others.join(" ")}\\s`), 60_000);
        await vm.waitFor(/podboot: ready/, 240_000);
      } finally {
        vm.kill();
      }
    },
    paced(10 * 60_000),
  );

  it(
    "refuses every extension when the signed list itself was changed",
    async () => {
      const archive = Buffer.from(initramfs);
      const list = cpioData(archive, "podboot/extensions.order");
      const digit = list.indexOf(" ") + 1; // first character of the first sha256
      list[digit] = list[digit] === 0x30 ? 0x31 : 0x30;
      const vm = await bootWith(archive, "list");
      try {
        await vm.waitFor(/extension list REFUSED: its signature does not verify/, 240_000);
        await vm.waitFor(/could not assemble the root filesystem/, 60_000);
      } finally {
        vm.kill();
      }
    },
    paced(10 * 60_000),
  );
});
