// Builds the ISO exactly as a user does (`podboot build`) and boots it under QEMU twice, by BIOS
// (SeaBIOS) and by UEFI (OVMF), driving the serial console. TCG unless a KVM probe succeeds.
import { execa } from "execa";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { extractFromIso } from "../../builder/tools/xorriso.ts";
import { chooseAccel, isoKernel, type Firmware } from "../../builder/vm/qemu.ts";
import { FIRST_BUILD_LIMIT, buildIso, e2eOut, iso, outPath, paced, projectDir } from "./build.ts";
import { SerialVm } from "../../builder/vm/console.ts";

let vm: SerialVm | undefined;

beforeAll(async () => {
  await buildIso();
}, FIRST_BUILD_LIMIT);

afterEach(() => {
  vm?.kill();
  vm = undefined;
});

describe("podboot build", () => {
  it("writes the ISO, SHA256SUMS and a manifest with provenance", async () => {
    const manifest = JSON.parse(await readFile(outPath("manifest.json"), "utf8"));
    expect(manifest.iso.size).toBe((await stat(iso)).size);
    const sums = await readFile(outPath("SHA256SUMS"), "utf8");
    expect(sums).toContain(`${manifest.iso.sha256}  podboot.iso`);
    expect(manifest.packages.find((p: { name: string }) => p.name === "podman").provenance).toMatch(
      /Debian binary/,
    );
    // The C components are compiled from source in a runc build container on every CI run.
    expect(manifest.kernel.origin).toBe("build");
    for (const name of ["busybox", "catatonit", "conmon", "crun"]) {
      const component = manifest.components.find((c: { name: string }) => c.name === name);
      expect(component.provenance).toMatch(/^compiled from source/);
      expect(component.source.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(component.buildContainer.toolchain.join(" ")).toMatch(/gcc-\d+/);
    }
    // Stage 1's busybox too, with musl, and it stands in for no package the image ships.
    const busybox = manifest.initramfs.busybox;
    expect(busybox.provenance).toMatch(/^compiled from source/);
    expect(busybox.buildContainer.toolchain.join(" ")).toMatch(/musl-dev/);
    expect(busybox.package).toBeUndefined();
    expect(manifest.extensions.map((e: { name: string }) => e.name)).toEqual([
      "base",
      "system",
      "runtime",
      "network",
      "rootless",
      "podman",
      "tools",
      "overlay",
    ]);
    // buildah and skopeo are loadable: beside the ISO, in SHA256SUMS, and not in the ISO itself.
    const tools = manifest.extensions.find((e: { name: string }) => e.name === "tools");
    expect(tools.loadable).toBe(true);
    expect(sums).toContain(`${tools.sha256}  extensions/tools.sqfs`);
    const onIso = await execa("xorriso", ["-indev", iso, "-find", "/", "-name", "*.sqfs"], {
      all: true,
    });
    expect(onIso.all).not.toMatch(/tools\.sqfs/);
    // The SBOM lists every package, every compiled component and the kernel; it is in SHA256SUMS.
    const sbom = JSON.parse(await readFile(outPath("podboot.cdx.json"), "utf8"));
    expect(sbom.specVersion).toBe("1.6");
    const compiledCount = [...manifest.components, busybox].filter(
      (c: { files?: unknown }) => c.files,
    ).length;
    expect(sbom.components).toHaveLength(manifest.packages.length + compiledCount + 1);
    expect(sums).toMatch(/ {2}podboot\.cdx\.json\n/);
    expect(sums).toMatch(/ {2}catalog\.md\n/);
    const catalog = await readFile(outPath("catalog.md"), "utf8");
    expect(catalog).toMatch(
      /\| \/etc\/containers\/containers\.conf \| overlay \| rootfs-overlay\//,
    );
    const check = await execa("sha256sum", ["--check", "--quiet", "SHA256SUMS"], {
      cwd: e2eOut,
      reject: false,
    });
    expect(check.exitCode).toBe(0);
  });

  it("on a terminal, a rebuild shows the live task list of the compiles (all cached now)", async () => {
    // script(1) gives podboot a pseudo-terminal; CI is unset, as on a user's terminal.
    const env = { ...process.env };
    delete env.CI;
    const tty = await execa(
      "script",
      [
        "--quiet",
        "--return",
        "--command",
        `node bin/podboot.js build --out ${e2eOut}`,
        "/dev/null",
      ],
      // extendEnv: false, or execa would add CI back from this process's environment.
      {
        cwd: projectDir,
        env: { ...env, COLUMNS: "100" },
        extendEnv: false,
        reject: false,
        all: true,
      },
    );
    expect(tty.exitCode, tty.all?.slice(-2000)).toBe(0);
    const screen = tty.all ?? "";
    // The list is redrawn in place: cursor up over the rows drawn before, clear to the end.
    const esc = String.fromCharCode(27);
    expect(screen).toMatch(new RegExp(`${esc}\\[\\d+F${esc}\\[J`));
    const manifest = JSON.parse(await readFile(outPath("manifest.json"), "utf8"));
    for (const c of manifest.components as { name: string; provenance: string }[]) {
      const row = c.provenance.startsWith("compiled")
        ? new RegExp(`✓ ${c.name} +cached +\\S`)
        : new RegExp(`– ${c.name} +prebuilt +Debian binary`);
      expect(screen).toMatch(row);
    }
    expect(screen).toMatch(/✓ kernel +cached/);
  });

  it("podboot size: what fills the ISO, as a table and as an SVG + PNG chart next to it", async () => {
    const out = e2eOut;
    const size = await execa("node", ["bin/podboot.js", "size", "--out", out, "--top", "5"], {
      cwd: projectDir,
    });
    const manifest = JSON.parse(await readFile(path.join(out, "manifest.json"), "utf8"));
    for (const e of manifest.extensions) {
      expect(size.stdout).toMatch(new RegExp(`^${e.name} +${(e.size / 1e6).toFixed(1)} MB`, "m"));
    }
    // podman's binary is the largest package in the image, attributed through the .deb's file list
    expect(size.stdout).toMatch(/^package \(unpacked in the image\) .*\n-+.*\npodman +podman /m);
    expect(size.stdout).toMatch(/^usr\/bin\/podman +podman +\d+\.\d MB$/m);
    const svg = await readFile(path.join(out, "size.svg"), "utf8");
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain(">tools<");
    const png = await readFile(path.join(out, "size.png"));
    expect(png.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  });
});

describe("the ISO's boot records", () => {
  const report = async (what: string) =>
    (await execa("xorriso", ["-indev", iso, what, "plain"], { all: true })).all ?? "";

  it("has El Torito entries for BIOS and UEFI (CD/DVD boot)", async () => {
    const torito = await report("-report_el_torito");
    expect(torito).toMatch(/El Torito boot img :\s+1\s+BIOS\s+y/);
    expect(torito).toMatch(/El Torito boot img :\s+2\s+UEFI\s+y/);
  });

  it("is hybrid for USB sticks: GRUB in the MBR (BIOS) and an EFI partition in the GPT (UEFI)", async () => {
    const area = await report("-report_system_area");
    expect(area).toMatch(/System area summary: MBR .*grub2-mbr.* GPT/);
    expect(area).toMatch(/GPT partname local :\s+\d+\s+EFI boot partition/);
  });
});

/** Boots an ISO, runs podman and checks that what ran is what its manifest says was built. */
async function bootAndRunPodman(
  image: string,
  outDir: string,
  firmware: Firmware,
  media: "cdrom" | "usb",
  machine: "q35" | "pc" = "q35",
): Promise<void> {
  const accel = await chooseAccel("auto");
  vm = SerialVm.start({ iso: image, memoryMiB: 512, firmware, accel, media, machine });
  await vm.waitForShell();

  const info = await vm.run(
    "podman info --format '{{.Host.CgroupsVersion}} {{.Host.CgroupManager}}'",
    120_000,
  );
  expect(info).toEqual({ output: "v2 cgroupfs", status: 0 });

  const hello = await vm.run(
    "podman run --rm localhost/podboot-hello 2>&1 | grep -v '^\\['",
    180_000,
  );
  expect(hello.status).toBe(0);
  expect(hello.output).toContain("Hello from podboot");

  // The kernel and binaries that ran are the ones the manifest records (sha256 for compiled ones).
  const manifest = JSON.parse(await readFile(path.join(outDir, "manifest.json"), "utf8"));
  // (buildah and skopeo are in the loadable tools extension, which is not on the ISO)
  const beside = new Set(
    manifest.extensions
      .filter((e: { loadable?: true }) => e.loadable)
      .flatMap((e: { packages: string[] }) => e.packages),
  );
  const compiled = manifest.components
    .filter((c: { name: string }) => !beside.has(c.name))
    .flatMap((c: { files?: { path: string; sha256: string }[] }) => c.files ?? []);
  if (compiled.length > 0) {
    const sums = await vm.run(
      `sha256sum ${compiled.map((f: { path: string }) => `/${f.path}`).join(" ")}`,
    );
    for (const file of compiled) expect(sums.output).toContain(`${file.sha256}  /${file.path}`);
  }
  // Logins are logged to the RAM syslog (logread), not onto the console.
  const logged = await vm.run("logread | grep -c 'root login on'");
  expect(Number(logged.output)).toBeGreaterThan(0);
  const release = await vm.run("uname -r; . /etc/podboot-release; echo $PODBOOT_VERSION");
  expect(release.output).toBe(`${manifest.kernel.release}\n0.1.0`);
  // docker is opt-in: not in this image, and asking for it says how to get it.
  expect(await vm.run("podboot-enable docker 2>&1")).toEqual({
    output:
      "podboot-enable: docker is not in this image — build one with: podboot build --with docker",
    status: 1,
  });

  expect(await vm.poweroff(90_000)).toBe(0);
}

// The BIOS CD-ROM boot on QEMU's own default machine (pc), as the README's bare
// `qemu-system-x86_64 -m 512 -cdrom` gives it; the others on q35, which podboot's VMs use.
describe.each<{ firmware: Firmware; media: "cdrom" | "usb"; machine: "q35" | "pc" }>([
  { firmware: "bios", media: "cdrom", machine: "pc" },
  { firmware: "uefi", media: "cdrom", machine: "q35" },
  { firmware: "bios", media: "usb", machine: "q35" },
  { firmware: "uefi", media: "usb", machine: "q35" },
])("the ISO booted by $firmware from $media on QEMU's $machine", ({ firmware, media, machine }) => {
  it(
    "runs podman info and the baked-in image offline, then powers off",
    () => bootAndRunPodman(iso, e2eOut, firmware, media, machine),
    paced(10 * 60_000),
  );
});

describe("stage 1 and the boot medium", () => {
  it(
    "the menu's last entry: the boot loader reads the extensions, stage 1 does not look for them",
    async () => {
      const accel = await chooseAccel("auto");
      vm = SerialVm.start({ iso, memoryMiB: 512, firmware: "bios", accel });
      await vm.waitFor(/the boot loader reads the extensions/, 120_000);
      // Two presses of the down arrow (a VT100 terminal's keys, as GRUB's serial console reads
      // them) and Enter, sent the moment the menu is drawn: the first stops its 1 s countdown.
      vm.send("\x1b[B");
      vm.send("\x1b[B");
      vm.send("\r");
      await vm.waitForShell();
      expect(vm.transcript).not.toMatch(/extensions copied into RAM from/);
      expect(await vm.run("grep -c 'boot medium' /run/podboot/boot-times")).toEqual({
        output: "0",
        status: 1,
      });
      const hello = await vm.run("podman run --rm localhost/podboot-hello | tail -n 1", 180_000);
      expect(hello.output).toContain("Hello from podboot");
    },
    paced(10 * 60_000),
  );

  it(
    "without its medium: a disc of another build is passed over, then the rescue shell names the entry to boot",
    async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-medium-"));
      try {
        // A disc with an extension list, but not this build's.
        await mkdir(path.join(dir, "disc/boot"), { recursive: true });
        await writeFile(
          path.join(dir, "disc/boot/extensions.order"),
          `base ${"0".repeat(64)} required\n`,
        );
        const other = path.join(dir, "other.iso");
        await execa("xorriso", ["-as", "mkisofs", "-quiet", "-o", other, path.join(dir, "disc")]);
        const stage1 = path.join(dir, "initrd.img");
        await extractFromIso(iso, "/boot/initrd.img", stage1);
        const accel = await chooseAccel("auto");
        vm = SerialVm.start({
          iso: other,
          memoryMiB: 512,
          firmware: "bios",
          accel,
          direct: {
            kernel: await isoKernel(iso, dir),
            initrd: stage1,
            bootCodes: ["podboot.waitmedium=3"],
          },
        });
        await vm.waitFor(
          /the boot medium was not found within 3 s \(no CD-ROM, USB stick or disk holds this build's \/boot\/extensions\.cpio\); boot the menu's last entry/,
          120_000,
        );
        await vm.waitFor(/starting a rescue shell/, 30_000);
        expect(vm.transcript).not.toMatch(/extensions copied into RAM/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    paced(5 * 60_000),
  );
});

describe("the fast path: podboot build --prebuilt", () => {
  const outDir = outPath("prebuilt");

  it(
    "uses Debian's kernel and binaries, recorded as such, and passes the same boot test",
    async () => {
      await buildIso({ out: outDir, flags: ["--prebuilt"] });
      const manifest = JSON.parse(await readFile(path.join(outDir, "manifest.json"), "utf8"));
      expect(manifest.kernel.origin).toBe("debian");
      expect(manifest.kernel.provenance).toMatch(/^Debian binary package/);
      expect(manifest.kernel.release).toMatch(/-amd64$/);
      for (const component of manifest.components) {
        expect(component.provenance).toMatch(/^Debian binary/);
      }
      // QEMU's own default machine (pc), as a --prebuilt user runs it with the README's command
      await bootAndRunPodman(path.join(outDir, "podboot.iso"), outDir, "bios", "cdrom", "pc");
    },
    paced(30 * 60_000),
  );
});
