import { SerialVm } from "/work/main/builder/vm/console.ts";
for (const iso of process.argv.slice(2)) {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const vm = SerialVm.start({ iso, memoryMiB: 512, firmware: "bios", accel: "tcg" });
    const m = await vm.waitFor(/podboot: stage 1 started \(uptime ([0-9.]+) s\)/, 240_000);
    times.push(Number(m[1]));
    vm.kill();
  }
  console.log(iso, times.sort((a, b) => a - b).join(" "), "median", times[1]);
}
