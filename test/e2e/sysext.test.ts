// `podboot build --format sysext`: the podman stack as a systemd-sysext image. Its structure and
// release metadata are checked, then systemd-sysext itself merges it — in a private mount
// namespace, into a scratch root made of the image's own base (Debian trixie's C library and
// busybox) — and podman runs from the merged /usr; the setup unit's script installs the default
// /etc files the root lacks.
import { execa } from "execa";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultCacheDir } from "../../builder/cache/store.ts";
import { debFileName } from "../../builder/tools/apt.ts";
import { buildIso, FIRST_BUILD_LIMIT } from "./build.ts";

let out: string;
let raw: string;
let manifest: {
  sysext: { file: string; sha256: string; extensions: string[]; fromHost: string[] };
  extensions: { name: string; sha256: string }[];
  packages: { name: string; version: string }[];
};

beforeAll(async () => {
  out = await mkdtemp(path.join(os.tmpdir(), "podboot-sysext-"));
  await buildIso({ out, flags: ["--format", "sysext"] });
  manifest = JSON.parse(await readFile(path.join(out, "manifest.json"), "utf8"));
  raw = path.join(out, manifest.sysext.file);
}, FIRST_BUILD_LIMIT);

const listing = async () =>
  (await execa("unsquashfs", ["-l", "-d", "", raw])).stdout.split("\n").map((l) => l.trim());

describe("the systemd-sysext image", () => {
  it("is out/podman.raw, in SHA256SUMS and the manifest, made of the podman stack", async () => {
    expect(manifest.sysext.file).toBe("podman.raw");
    expect(manifest.sysext.extensions).toEqual(["runtime", "network", "rootless", "podman"]);
    const sums = await readFile(path.join(out, "SHA256SUMS"), "utf8");
    expect(sums).toContain(`${manifest.sysext.sha256}  podman.raw\n`);
  });

  it("holds only /usr, with the release file, the setup unit and the /etc defaults", async () => {
    const files = await listing();
    expect(files.filter((f) => /^\/[^/]+$/.test(f))).toEqual(["/usr"]);
    for (const file of [
      "/usr/bin/podman",
      "/usr/bin/crun",
      "/usr/bin/conmon",
      "/usr/lib/podman/netavark",
      "/usr/lib/systemd/system/podboot-sysext-podman-setup.service",
      "/usr/libexec/podboot-sysext/setup",
      "/usr/share/podboot-sysext/etc/containers/policy.json",
    ]) {
      expect(files).toContain(file);
    }
    // what every base system has stays the host's
    expect(files).not.toContain("/usr/bin/sed");
    expect(files).not.toContain("/usr/bin/mount");
    const release = await execa("unsquashfs", [
      "-cat",
      raw,
      "usr/lib/extension-release.d/extension-release.podman",
    ]);
    expect(release.stdout).toMatch(/^ID=_any$/m);
    expect(release.stdout).toMatch(/^ARCHITECTURE=x86-64$/m);
  });

  it("systemd-sysext merges it into a root, podman runs from there, setup adds the defaults", async () => {
    const root = path.join(await mkdtemp(path.join(os.tmpdir(), "podboot-sysext-root-")), "root");
    // The root stands for a Debian trixie host: the image's own base and system extensions (the
    // C library, libcrypt …), the base-system packages the sysext leaves to the host, and an
    // os-release, which systemd-sysext requires of every OS tree.
    const cache = defaultCacheDir();
    // system first: base's busybox names are hard links, which a later unsquashfs -f would
    // overwrite through (turning busybox itself into mke2fs)
    for (const name of ["system", "base"]) {
      const { sha256 } = manifest.extensions.find((e) => e.name === name)!;
      const image = (
        await execa("sh", ["-c", `grep -l ${sha256} ${cache}/steps/extension/*/${name}.sha256`])
      ).stdout
        .split("\n")[0]!
        .replace(/\.sha256$/, ".sqfs");
      await execa("unsquashfs", ["-q", "-f", "-d", root, image]);
    }
    expect(manifest.sysext.fromHost).toEqual(expect.arrayContaining(["mount", "sed"]));
    for (const name of manifest.sysext.fromHost) {
      const { version } = manifest.packages.find((p) => p.name === name)!;
      const [deb] = (
        await execa("sh", ["-c", `ls ${cache}/debs/${debFileName(name, version, "*")}`])
      ).stdout.split("\n");
      await execa("dpkg-deb", ["-x", deb!, root]);
    }
    await mkdir(path.join(root, "run/extensions"), { recursive: true });
    await writeFile(path.join(root, "usr/lib/os-release"), "ID=debian\nVERSION_ID=13\n");
    await execa("cp", [raw, path.join(root, "run/extensions/podman.raw")]);

    const script = [
      "set -e",
      // a mount namespace of our own, whose mounts never reach the host
      "mount --make-rshared /",
      "mount -t tmpfs tmpfs /run",
      `systemd-sysext --root=${root} merge`,
      `mkdir -p ${root}/proc && mount -t proc proc ${root}/proc`,
      `chroot ${root} /usr/bin/podman --version`,
      `chroot ${root} /usr/lib/podman/netavark --version`,
      `chroot ${root} /usr/libexec/podboot-sysext/setup`,
    ].join("\n");
    const merged = await execa(
      "unshare",
      ["--mount", "--propagation", "private", "sh", "-c", script],
      {
        all: true,
        reject: false,
      },
    );
    expect(merged.all).toContain(`Merged extensions into '${root}/usr'.`);
    expect(merged.all).toMatch(/^podman version 5\.4\.\d+$/m);
    expect(merged.all).toMatch(/^netavark 1\.14\.\d+$/m);
    expect(merged.all).toContain("podboot-sysext: installed default /etc/containers/policy.json");
    expect(merged.exitCode).toBe(0);
    // the default landed in the root's /etc; the merge itself is gone with the namespace
    expect(
      JSON.parse(await readFile(path.join(root, "etc/containers/policy.json"), "utf8")),
    ).toHaveProperty("default");
    await expect(readFile(path.join(root, "usr/bin/podman"))).rejects.toThrow(/ENOENT/);
  });
});
