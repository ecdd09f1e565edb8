// How fast this machine runs a VM, relative to the machine the e2e tests' and benchmarks' time
// limits were measured on (2 cores, TCG). A limit is never a constant tuned on one host: it is
// the measured time on the reference machine times the pace, which is
//   - before a boot, the machine's pace: a short CPU calibration (PODBOOT_PACE, set by the test
//     run's global setup, at least 1);
//   - after a boot, the larger of that and how much slower than the reference the VM itself
//     reported reaching "ready" (the guest's own uptime, so host load during the boot counts).
/** Seconds the calibration takes on the reference machine (its median of 3 there). */
export const REFERENCE_CALIBRATION_S = 0.47;
/** Uptime at "podboot: ready" of the default ISO on the reference machine, TCG (bench). */
export const REFERENCE_READY_S = 10;

/**
 * A fixed single-threaded workload of integer arithmetic and memory accesses (TCG's speed
 * follows single-core speed; hashing would measure the CPU's SHA instructions instead): the
 * median of three runs, in seconds.
 */
export function calibrate(): number {
  const runs = [0, 1, 2].map(() => {
    const started = process.hrtime.bigint();
    const table = new Uint32Array(1 << 20);
    let x = 2463534242;
    let sink = 0;
    for (let i = 0; i < 60_000_000; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      const j = x & 0xfffff;
      table[j] = (table[j]! + i) >>> 0;
      sink ^= table[(j * 7) & 0xfffff]!;
    }
    if (sink === 0.5) throw new Error("unreachable"); // keeps the loop from being optimised away
    return Number(process.hrtime.bigint() - started) / 1e9;
  });
  return runs.sort((a, b) => a - b)[1]!;
}

/** The pace a calibration run of `seconds` gives (never below 1: limits only grow). */
export function paceOf(seconds: number): number {
  return Math.max(1, seconds / REFERENCE_CALIBRATION_S);
}

/** This machine's pace (≥ 1) from PODBOOT_PACE, else 1. */
export function machinePace(env: NodeJS.ProcessEnv = process.env): number {
  const pace = Number(env.PODBOOT_PACE);
  return Number.isFinite(pace) && pace >= 1 ? pace : 1;
}

/** The pace after a boot that reached ready at `readyUptime` seconds. */
export function bootPace(readyUptime: number, env: NodeJS.ProcessEnv = process.env): number {
  return Math.max(machinePace(env), readyUptime / REFERENCE_READY_S);
}
