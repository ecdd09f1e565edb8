// The benchmark's `podboot machine` rows: `machine start` to podman answering over SSH (the first
// start, which formats the data disk, and a second one), a small-file workload in a shared folder
// over each transport, and the host memory QEMU gives back through the balloon after a container
// that used 300 MiB exits. Runs alone with `tsx bench/machine.ts` (it prints the rows) or as
// part of `npm run bench`.
import { execa } from "execa";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findVirtiofsd } from "../builder/machine/volumes.ts";

export interface Row {
  figure: string;
  measured: string;
  target: string;
  met: boolean | null;
}

const projectDir = path.resolve(import.meta.dirname, "..");
const say = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** The machine commands with their state in a scratch directory. */
function machines(work: string) {
  const env = { ...process.env, XDG_DATA_HOME: path.join(work, "data"), HOME: work };
  return async (...args: string[]) => {
    const result = await execa(
      "node",
      [path.join(projectDir, "bin/podboot.js"), "machine", ...args],
      {
        env,
        reject: false,
        all: true,
      },
    );
    if (result.exitCode !== 0) throw new Error(`machine ${args.join(" ")}: ${result.all}`);
    return result.stdout;
  };
}

const startSeconds = (output: string) =>
  Number(/podman answered over SSH after ([\d.]+) s/.exec(output)?.[1] ?? NaN);

/** Creates 10,000 files in the shared folder and stats them: seconds, by the guest's clock. */
const SMALL_FILES = [
  "cd /shared && mkdir w && cd w",
  "a=$(cut -d' ' -f1 /proc/uptime)",
  "i=0; while [ $i -lt 100 ]; do mkdir d$i; j=0; while [ $j -lt 100 ]; do : > d$i/f$j; j=$((j+1)); done; i=$((i+1)); done",
  "b=$(cut -d' ' -f1 /proc/uptime)",
  "find . -type f -exec stat -c %s {} + >/dev/null",
  "c=$(cut -d' ' -f1 /proc/uptime)",
  'echo "$a $b $c"',
].join("; ");

/** QEMU's resident memory (MiB) by its pid file. */
async function qemuRss(work: string, name: string): Promise<number> {
  const pid = (
    await readFile(path.join(work, "data/podboot/machines", name, "qemu.pid"), "utf8")
  ).trim();
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

export async function machineRows(iso: string): Promise<Row[]> {
  const rows: Row[] = [];
  const work = await mkdtemp(path.join(os.tmpdir(), "podboot-bench-machine-"));
  const machine = machines(work);
  try {
    say("machine start, first and second…");
    await machine(
      "init",
      "bench",
      "--iso",
      iso,
      "--memory",
      "1024",
      "--disk-size",
      "20",
      "--no-connection",
    );
    const first = startSeconds(await machine("start", "bench"));
    // The balloon: QEMU's RSS at its peak while a container holds 300 MiB, and once it has
    // settled after the container exits. Sampled, not read at fixed times: at a slow host's
    // pace the fill can take longer than any fixed wait, and free page reporting gives the
    // memory back in batches.
    const before = await qemuRss(work, "bench");
    const hold =
      "busybox dd if=/dev/zero of=/dev/shm/fill bs=1M count=300 2>/dev/null && busybox sleep 15";
    let running = true;
    const container = machine(
      ...[
        "ssh",
        "bench",
        "--",
        `podman run --rm --shm-size 400m localhost/podboot-hello /bin/busybox sh -c '${hold}'`,
      ],
    ).finally(() => {
      running = false;
    });
    let during = before;
    while (running) {
      during = Math.max(during, await qemuRss(work, "bench"));
      await sleep(1000);
    }
    await container;
    let after = await qemuRss(work, "bench");
    for (let waited = 0; waited < 60; waited += 5) {
      await sleep(5000);
      const now = await qemuRss(work, "bench");
      const settled = now > after - 2;
      after = Math.min(after, now);
      if (settled) break;
    }
    await machine("stop", "bench");
    const second = startSeconds(await machine("start", "bench"));
    await machine("rm", "--force", "bench");
    rows.push({
      figure:
        "`machine start` to podman answering over SSH (TCG; first start formats a 20 GiB disk / second)",
      measured: `${first.toFixed(1)} s / ${second.toFixed(1)} s`,
      target: "—",
      met: null,
    });
    rows.push({
      figure:
        "QEMU RSS: idle / peak while a container held 300 MiB / settled after it exited (balloon, free page reporting, -m 1024)",
      measured: `${before} / ${during} / ${after} MiB`,
      target: "memory given back",
      met: after < during - 150,
    });

    const transports = (await findVirtiofsd()) ? ["virtiofs", "9p"] : ["9p"];
    for (const transport of transports) {
      const shared = path.join(work, `shared-${transport}`);
      await mkdir(shared);
      const name = `fs-${transport === "9p" ? "ninep" : transport}`;
      await machine(
        ...["init", name, "--iso", iso, "--memory", "768", "--disk-size", "2", "--no-connection"],
        ...["--volume", `${shared}:/shared`, "--mount-type", transport],
      );
      await machine("start", name);
      say(`10,000 small files over ${transport}…`);
      const [a, b, c] = (await machine("ssh", name, "--", SMALL_FILES))
        .trim()
        .split(/\s+/)
        .map(Number);
      await machine("rm", "--force", name);
      rows.push({
        figure: `10,000 files created / stat'ed in a shared folder over ${transport} (TCG)`,
        measured: `${(b! - a!).toFixed(1)} s / ${(c! - b!).toFixed(1)} s`,
        target: "—",
        met: null,
      });
      await rm(shared, { recursive: true, force: true });
    }
  } finally {
    for (const name of ["bench", "fs-virtiofs", "fs-ninep"])
      await machine("rm", "--force", name).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.filename === process.argv[1]) {
  const iso = process.argv[2] ?? path.join(projectDir, "out", "podboot.iso");
  for (const row of await machineRows(iso)) {
    process.stdout.write(
      `| ${row.figure} | ${row.measured} | ${row.target} | ${row.met === null ? "—" : row.met ? "yes" : "no"} |\n`,
    );
  }
}
