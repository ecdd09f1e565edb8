// The QEMU launcher shared by `podboot boot` and the e2e tests: builds the argument list, probes
// whether KVM really works (on some hosts /dev/kvm exists but guests hang) and falls back to TCG.
import { access, constants } from "node:fs/promises";
import path from "node:path";
import { qemuOutput } from "../tools/qemu.ts";
import { extractFromIso } from "../tools/xorriso.ts";

export type Firmware = "bios" | "uefi";
export type Accel = "kvm" | "tcg";

export interface VmSpec {
  iso: string;
  memoryMiB: number;
  firmware: Firmware;
  accel: Accel;
  /** Host port forwarded to guest port 22, or undefined for none. */
  sshPort?: number;
  disks?: string[];
  /** How the ISO is attached: as a CD-ROM (default) or as a USB stick (the hybrid MBR/GPT path). */
  media?: "cdrom" | "usb";
  /**
   * Boot this kernel and initramfs directly, skipping the ISO's boot menu (the ISO stays attached
   * as the CD-ROM), with this command line (default: the serial console and log level of the
   * default recipe's boot entries) plus these boot codes.
   */
  direct?: { kernel: string; initrd: string; cmdline?: string[]; bootCodes?: string[] };
  /** Extra guest ports: host → guest. */
  forwards?: { host: number; guest: number }[];
  /** vCPUs (default 2). */
  cpus?: number;
  /** The CPU model QEMU shows under TCG (default max: every feature TCG emulates). */
  cpuModel?: string;
  /**
   * QEMU's machine type. q35 (the default, as podman machine and LinuxKit use): PCIe, the CD-ROM
   * on AHCI. pc (i440fx, QEMU's own default, what a bare `qemu-system-x86_64 -cdrom` gives): under
   * TCG the kernel reaches init ~0.2 s later there (ACPI's interrupt routing method runs for
   * each PCI device).
   */
  machine?: "q35" | "pc";
  /**
   * A VM in the background (`podboot machine`): the serial console into a file, a QMP socket to
   * drive it, its pid in a file, and no terminal. Without it, the console is on stdio.
   */
  background?: { consoleLog: string; qmpSocket: string; pidFile: string };
  /** Memory the guest frees goes back to the host (virtio-balloon's free page reporting). */
  balloon?: boolean;
  /**
   * Under TCG, the size (MiB) of QEMU's buffer of translated guest code. QEMU's default is
   * 1 GiB, which a long-running VM fills: it counts in QEMU's resident memory and no balloon gives
   * it back.
   */
  tcgCacheMiB?: number;
  /**
   * Host folders for the guest to mount by tag: 9p served by QEMU itself, or virtiofs through a
   * virtiofsd listening on `socket` (its memory is then shared with the guest's).
   */
  shares?: Share[];
}

export type Share =
  | { transport: "9p"; tag: string; path: string }
  | { transport: "virtiofs"; tag: string; socket: string };

export const OVMF_CODE = "/usr/share/ovmf/OVMF.fd";

/** A direct boot's console: the serial line, and no kernel notices mixed into commands' output. */
const DIRECT_CONSOLE = ["console=ttyS0,115200", "loglevel=4"];

export function qemuArgs(spec: VmSpec): string[] {
  const forwards = [
    ...(spec.sshPort ? [{ host: spec.sshPort, guest: 22 }] : []),
    ...(spec.forwards ?? []),
  ];
  const netdev = [
    "user",
    "id=net0",
    ...forwards.map((f) => `hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`),
  ].join(",");
  const args = [
    "-machine",
    spec.machine ?? "q35",
    "-m",
    String(spec.memoryMiB),
    "-smp",
    String(spec.cpus ?? 2),
    "-accel",
    // Multi-threaded TCG panicked the guest twice in CI (RIP inside an instruction while the kernel
    // patched its own code at module load, ~28 s uptime): one host thread runs both vCPUs instead.
    spec.accel === "tcg"
      ? `tcg,thread=single${spec.tcgCacheMiB ? `,tb-size=${spec.tcgCacheMiB}` : ""}`
      : spec.accel,
    ...(spec.accel === "kvm" ? ["-cpu", "host"] : ["-cpu", spec.cpuModel ?? "max"]),
    ...(spec.media === "usb"
      ? [
          "-device",
          "qemu-xhci",
          "-drive",
          `if=none,id=stick,format=raw,readonly=on,file=${spec.iso}`,
          "-device",
          "usb-storage,drive=stick,bootindex=0",
        ]
      : ["-cdrom", spec.iso, "-boot", "d"]),
    "-netdev",
    netdev,
    "-device",
    "virtio-net-pci,netdev=net0",
    "-device",
    "virtio-rng-pci",
    ...(spec.background
      ? [
          ...["-display", "none", "-monitor", "none"],
          ...["-serial", `file:${spec.background.consoleLog}`],
          ...["-qmp", `unix:${spec.background.qmpSocket},server=on,wait=off`],
          ...["-pidfile", spec.background.pidFile],
          // The guest's clock follows the host's after a pause (a suspended laptop).
          ...["-rtc", "base=utc,driftfix=slew"],
        ]
      : ["-nographic", "-serial", "mon:stdio"]),
    "-no-reboot",
  ];
  if (spec.firmware === "uefi") args.push("-bios", OVMF_CODE);
  if (spec.direct) {
    args.push("-kernel", spec.direct.kernel, "-initrd", spec.direct.initrd);
    const cmdline = spec.direct.cmdline ?? DIRECT_CONSOLE;
    args.push("-append", [...cmdline, ...(spec.direct.bootCodes ?? [])].join(" "));
  }
  for (const disk of spec.disks ?? []) args.push("-drive", `file=${disk},format=raw,if=virtio`);
  if (spec.balloon) args.push("-device", "virtio-balloon-pci,free-page-reporting=on");
  args.push(...shareArgs(spec.shares ?? [], spec.memoryMiB));
  return args;
}

function shareArgs(shares: Share[], memoryMiB: number): string[] {
  const args: string[] = [];
  // virtiofsd maps the guest's memory: it must be one shared memory object.
  if (shares.some((s) => s.transport === "virtiofs")) {
    args.push("-object", `memory-backend-memfd,id=mem,size=${memoryMiB}M,share=on`);
    args.push("-numa", "node,memdev=mem");
  }
  for (const [index, share] of shares.entries()) {
    if (share.transport === "9p") {
      // QEMU as root keeps owners and modes as the guest sets them; as a user it cannot, and
      // "none" lets those calls succeed without effect instead of failing.
      const model = process.getuid?.() === 0 ? "passthrough" : "none";
      args.push(
        "-virtfs",
        `local,path=${share.path},mount_tag=${share.tag},security_model=${model},id=fs${index}`,
      );
    } else {
      args.push("-chardev", `socket,id=fs${index},path=${share.socket}`);
      args.push("-device", `vhost-user-fs-pci,chardev=fs${index},tag=${share.tag}`);
    }
  }
  return args;
}

/** Copies the ISO's kernel to DIR/vmlinuz for a direct boot; returns its path. */
export async function isoKernel(iso: string, dir: string): Promise<string> {
  const kernel = path.join(dir, "vmlinuz");
  await extractFromIso(iso, "/boot/vmlinuz", kernel);
  return kernel;
}

let kvmVerdict: Promise<boolean> | undefined;

/**
 * True when a KVM guest actually runs here: a tiny guest (no disk, firmware only) must reach
 * its boot menu output within a few seconds. Cached for the process.
 */
export function kvmWorks(): Promise<boolean> {
  kvmVerdict ??= (async () => {
    if (process.env.PODBOOT_ACCEL === "tcg") return false;
    try {
      await access("/dev/kvm", constants.R_OK | constants.W_OK);
    } catch {
      return false;
    }
    // The same CPU model and SMP as a real run: on broken nested setups the firmware may start
    // and QEMU then dies on an MSR write, or the guest hangs.
    const output = await qemuOutput(
      [
        "-accel",
        "kvm",
        "-cpu",
        "host",
        "-smp",
        "2",
        "-m",
        "64",
        "-nographic",
        "-nodefaults",
        "-serial",
        "stdio",
        "-no-reboot",
        "-boot",
        "n",
      ],
      5000,
    );
    // SeaBIOS prints its banner on the serial port within a fraction of a second when KVM works.
    return /SeaBIOS/.test(output) && !/error|Assertion|failed/i.test(output);
  })();
  return kvmVerdict;
}

export async function chooseAccel(requested: "auto" | Accel): Promise<Accel> {
  if (requested !== "auto") return requested;
  return (await kvmWorks()) ? "kvm" : "tcg";
}
