// `podboot boot`: the ISO under QEMU with its serial console on this terminal.
import path from "node:path";
import { Command, Option } from "commander";
import { parsePositive } from "./numbers.ts";

export function registerVmCommands(program: Command, projectDir: string): void {
  program
    .command("boot")
    .description("boot the ISO in QEMU with the serial console on this terminal (Ctrl-A X quits)")
    .argument("[iso]", "ISO to boot", path.join(projectDir, "out", "podboot.iso"))
    .option("-m, --memory <MiB>", "guest memory in MiB", "512")
    .addOption(
      new Option("--firmware <kind>", "firmware").choices(["bios", "uefi"]).default("bios"),
    )
    .addOption(
      new Option("--media <kind>", "attach the ISO as a CD-ROM or as a USB stick")
        .choices(["cdrom", "usb"])
        .default("cdrom"),
    )
    .addOption(
      new Option("--accel <kind>", "accelerator: auto probes KVM and falls back to TCG")
        .choices(["auto", "kvm", "tcg"])
        .default("auto"),
    )
    .option("--ssh-port <port>", "host port forwarded to the VM's SSH port 22", "2222")
    .option("--disk <file>", "attach a disk image (e.g. a podboot-data disk)")
    .action(
      async (
        iso: string,
        opts: {
          memory: string;
          firmware: "bios" | "uefi";
          media: "cdrom" | "usb";
          accel: "auto" | "kvm" | "tcg";
          sshPort: string;
          disk?: string;
        },
      ) => {
        const { bootCommand } = await import("../commands/boot.ts");
        process.exitCode = await bootCommand({
          iso: path.resolve(iso),
          memoryMiB: parsePositive(opts.memory, "--memory"),
          firmware: opts.firmware,
          media: opts.media,
          accel: opts.accel,
          sshPort: parsePositive(opts.sshPort, "--ssh-port"),
          disk: opts.disk,
        });
      },
    );
}
