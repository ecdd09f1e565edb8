// `podboot boot`: runs the ISO in QEMU with the serial console on this terminal.
import { access } from "node:fs/promises";
import { runQemuInteractive } from "../tools/qemu.ts";
import { PodbootError } from "../errors.ts";
import { preflight } from "../host/preflight.ts";
import { chooseAccel, qemuArgs, type Firmware } from "../vm/qemu.ts";

export interface BootOptions {
  iso: string;
  memoryMiB: number;
  firmware: Firmware;
  media: "cdrom" | "usb";
  accel: "auto" | "kvm" | "tcg";
  sshPort: number;
  disk?: string;
}

export async function bootCommand(options: BootOptions): Promise<number> {
  await access(options.iso).catch(() => {
    throw new PodbootError(`no ISO at ${options.iso}`, "build one first: npm run build-iso");
  });
  await preflight(["boot"], {
    install: true,
    say: (line) => process.stderr.write(`podboot: ${line}\n`),
  });
  const accel = await chooseAccel(options.accel);
  const args = qemuArgs({
    iso: options.iso,
    memoryMiB: options.memoryMiB,
    firmware: options.firmware,
    media: options.media,
    accel,
    sshPort: options.sshPort,
    disks: options.disk ? [options.disk] : [],
  });
  process.stderr.write(
    `podboot: booting ${options.iso} with ${options.memoryMiB} MiB, ${options.firmware.toUpperCase()}, ${accel.toUpperCase()}; ssh port ${options.sshPort}; Ctrl-A X quits\n`,
  );
  return runQemuInteractive(args);
}
