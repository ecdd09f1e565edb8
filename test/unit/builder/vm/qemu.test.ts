import { describe, expect, it } from "vitest";
import { qemuArgs } from "../../../../builder/vm/qemu.ts";

describe("qemuArgs, direct boot", () => {
  const base = { iso: "/o/podboot.iso", memoryMiB: 512, firmware: "bios", accel: "tcg" } as const;
  const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

  it("boots the kernel and initramfs given, with the serial console, loglevel=4 and the boot codes", () => {
    const args = qemuArgs({
      ...base,
      direct: { kernel: "/w/vmlinuz", initrd: "/o/initrd.img", bootCodes: ["podboot.noapi"] },
    });
    expect(after(args, "-kernel")).toBe("/w/vmlinuz");
    expect(after(args, "-initrd")).toBe("/o/initrd.img");
    expect(after(args, "-append")).toBe("console=ttyS0,115200 loglevel=4 podboot.noapi");
    expect(after(args, "-cdrom")).toBe("/o/podboot.iso");
  });

  it("passes an ISO's own command line instead of the console settings when given one", () => {
    const args = qemuArgs({
      ...base,
      direct: { kernel: "/k", initrd: "/i", cmdline: ["console=tty0", "console=ttyS0,115200"] },
    });
    expect(after(args, "-append")).toBe("console=tty0 console=ttyS0,115200");
  });

  it("without boot codes appends the console settings alone; without direct, no -kernel", () => {
    const direct = qemuArgs({ ...base, direct: { kernel: "/k", initrd: "/i" } });
    expect(after(direct, "-append")).toBe("console=ttyS0,115200 loglevel=4");
    expect(qemuArgs(base)).not.toContain("-kernel");
  });
});

describe("qemuArgs, the accelerator", () => {
  const base = { iso: "/o/podboot.iso", memoryMiB: 512, firmware: "bios" } as const;
  const accel = (spec: Parameters<typeof qemuArgs>[0]) => {
    const args = qemuArgs(spec);
    return args[args.indexOf("-accel") + 1];
  };

  it("sizes TCG's translation buffer when asked (a machine), and leaves QEMU's default otherwise", () => {
    expect(accel({ ...base, accel: "tcg", tcgCacheMiB: 256 })).toBe(
      "tcg,thread=single,tb-size=256",
    );
    expect(accel({ ...base, accel: "tcg" })).toBe("tcg,thread=single");
    expect(accel({ ...base, accel: "kvm", tcgCacheMiB: 256 })).toBe("kvm");
  });
});

describe("qemuArgs, the machine type", () => {
  const base = { iso: "/o/podboot.iso", memoryMiB: 512, firmware: "bios", accel: "tcg" } as const;
  const machine = (args: string[]) => args[args.indexOf("-machine") + 1];

  it("is q35 unless the spec asks for QEMU's own default, pc", () => {
    expect(machine(qemuArgs(base))).toBe("q35");
    expect(machine(qemuArgs({ ...base, machine: "pc" }))).toBe("pc");
  });
});
