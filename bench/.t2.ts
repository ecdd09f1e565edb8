import { SerialVm } from "../builder/vm/console.ts";
const iso = process.argv[2]!;
const vm = SerialVm.start({ iso, memoryMiB: 512, firmware: "bios", accel: "tcg", machine: "q35" });
try {
  const ready = await vm.waitForShell(240_000);
  console.log(`--- ready ${ready}`);
  for (const cmd of (process.env.CMDS ?? "").split(";;")) {
    const out = await vm.run(cmd, 120_000);
    console.log(`$ ${cmd}\n${out.output}`);
  }
} finally {
  vm.kill();
}
