// Running a machine: QEMU in the background with its console in a file and a QMP socket; a
// start that waits until podman answers over SSH (never a half-booted VM, never an endless
// wait: a panic, a QEMU that exits or the time limit ends it with the console's last lines);
// a stop that asks the guest to power off (ACPI) before it kills.
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { PodbootError } from "../errors.ts";
import { startQemuDetached } from "../tools/qemu.ts";
import { processAlive } from "../tools/run.ts";
import { sshProbe } from "../tools/ssh.ts";
import { machinePace } from "../vm/pace.ts";
import { isoDirectBoot } from "../vm/direct.ts";
import { chooseAccel, qemuArgs } from "../vm/qemu.ts";
import { qmp } from "../vm/qmp.ts";
import { makeSocketDir, type MachineConfig, type MachinePaths } from "./store.ts";
import { followLog } from "./console-log.ts";
import { guestConfigScript, guestProxy } from "./guest-config.ts";
import { knownHostsFile, pinHostKeys, PRINT_HOST_KEYS, publicKeys } from "./known-hosts.ts";
import { startFollower, stopFollower } from "./ports.ts";
import { mountScript, sharesFor, startVirtiofsd } from "./volumes.ts";

/** How long a start may take on the reference machine (TCG, 2 cores), before the pace. */
const START_LIMIT_MS = 240_000;
const STOP_LIMIT_MS = 60_000;
/**
 * A machine under TCG keeps 256 MiB of translated code instead of QEMU's 1 GiB. Measured (-m
 * 1024, a container filling 300 MiB): QEMU's RSS while it ran 1140 → 856 MiB, after it exited
 * 945 → 600 MiB; a `podman run` ~1 s slower the first time, the same after (bench/results.md).
 */
const TCG_CACHE_MIB = 256;
/** How long the power button gets before the guest is asked over SSH (an image without acpid). */
const BUTTON_WAIT_MS = 20_000;

export async function runningPid(paths: MachinePaths): Promise<number | undefined> {
  const pid = Number((await readFile(paths.pidFile, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.includes("qemu") && cmdline.includes(paths.qmpSocket) ? pid : undefined;
}

/** Whether a TCP port on the loopback can be listened on. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A free port chosen by the kernel, not one of `taken`. */
export async function freePort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
      });
    });
    if (!taken.has(port)) return port;
  }
  throw new PodbootError("no free port for SSH on 127.0.0.1", "free some ports and try again");
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export async function startMachine(
  config: MachineConfig,
  paths: MachinePaths,
  say: (line: string) => void,
): Promise<{ seconds: number; accel: string }> {
  if (await runningPid(paths)) {
    throw new PodbootError(
      `machine ${config.name} is already running`,
      `stop it first: podboot machine stop ${config.name}`,
    );
  }
  await stat(config.iso).catch(() => {
    throw new PodbootError(
      `machine ${config.name}'s ISO ${config.iso} is gone`,
      "build it again (npm run build-iso), or make the machine again with --iso",
    );
  });
  if (!(await portFree(config.sshPort))) {
    throw new PodbootError(
      `machine ${config.name}'s SSH port ${config.sshPort} is in use on 127.0.0.1`,
      `free it, or give the machine another: podboot machine set ${config.name} --ssh-port PORT`,
    );
  }
  // The shell's proxy settings are checked before anything boots.
  const proxy = guestProxy(process.env);
  const accel = await chooseAccel("auto");
  await makeSocketDir(paths);
  for (const file of [paths.consoleLog, paths.qmpSocket, paths.pidFile])
    await rm(file, { force: true });
  // The ISO's default entry booted directly: no firmware reading GRUB from the CD-ROM, no menu
  // countdown (an ISO whose menu has no such entry boots through it).
  const direct = await isoDirectBoot(config.iso, paths.boot);
  const shares = sharesFor(config.volumes, config.mountType, paths.sockets);
  await startVirtiofsd(shares, config.volumes, paths.dir);
  const args = qemuArgs({
    iso: config.iso,
    memoryMiB: config.memoryMiB,
    cpus: config.cpus,
    firmware: "bios",
    accel,
    sshPort: config.sshPort,
    disks: [paths.disk],
    ...(direct && { direct }),
    balloon: true,
    tcgCacheMiB: TCG_CACHE_MIB,
    shares,
    background: {
      consoleLog: paths.consoleLog,
      qmpSocket: paths.qmpSocket,
      pidFile: paths.pidFile,
    },
  });
  const started = Date.now();
  const pid = startQemuDetached(args, `${paths.consoleLog}.qemu`);
  await writeFile(
    paths.run,
    JSON.stringify({ pid, started: new Date(started).toISOString(), accel }) + "\n",
  );
  say(
    `machine ${config.name}: booting (${accel.toUpperCase()}, ${config.memoryMiB} MiB, ${config.cpus} CPUs)…`,
  );
  const hostKeys = await waitReady(config, paths, pid, started);
  // The machine runs either way: a known_hosts podboot cannot write is worth a warning, not a
  // failed start.
  await pinHostKeys(config.sshPort, hostKeys).catch((error: Error) =>
    say(
      `warning: the machine's host keys could not be written to ${knownHostsFile()} (${error.message}); podman may refuse the connection if that file holds an older key for port ${config.sshPort}`,
    ),
  );
  if (config.volumes.length > 0) await mountVolumes(config, paths);
  await configureGuest(config, paths, proxy);
  await startFollower(config.name, paths);
  return { seconds: (Date.now() - started) / 1000, accel };
}

/**
 * The last line of the guest's boot, printed once SSH listens. Until it is on the console, an SSH
 * probe would connect to QEMU's forward and wait out its timeout for a banner no one sends yet.
 */
const READY_LINE = "podboot: ready";
/** An image whose console is not the serial line never shows it: it is probed this often. */
const BLIND_PROBE_MS = 20_000;

/**
 * Until podman answers over SSH; a dead QEMU, a panic or the time limit end it loudly. Returns
 * the machine's public host keys.
 */
async function waitReady(
  config: MachineConfig,
  paths: MachinePaths,
  pid: number,
  started: number,
): Promise<string[]> {
  const limit = START_LIMIT_MS * machinePace();
  const follow = followLog(paths.consoleLog);
  let probed = started;
  let ready = false;
  for (;;) {
    const added = await follow();
    ready ||= added.includes(READY_LINE);
    const alive = await processAlive(pid);
    const failed = /Kernel panic|Out of memory|not syncing/.exec(added)?.[0];
    if (!alive || failed || Date.now() - started > limit) {
      const screen = await readFile(paths.consoleLog, "utf8").catch(() => "");
      const qemu = await readFile(`${paths.consoleLog}.qemu`, "utf8").catch(() => "");
      if (alive) process.kill(pid, "SIGKILL");
      const why = failed
        ? `the guest failed: ${failed}`
        : !alive
          ? `QEMU exited${qemu.trim() ? ` (${tail(qemu, 1)})` : ""}`
          : `podman did not answer over SSH within ${Math.round(limit / 1000)} s`;
      throw new PodbootError(
        `machine ${config.name} did not start: ${why}`,
        `read its console: podboot machine logs ${config.name}`,
        { exitCode: 1, detail: tail(screen) },
      );
    }
    if (!ready && Date.now() - probed < BLIND_PROBE_MS * machinePace()) {
      await sleep(200);
      continue;
    }
    probed = Date.now();
    // The same session reads the host keys that podman's remote client will be shown.
    const probe = await sshProbe(
      config.sshPort,
      config.identity,
      `podman info --format '{{.Host.Arch}}' && ${PRINT_HOST_KEYS}`,
      20_000,
    );
    if (probe.exitCode === 0) return publicKeys(probe.output);
    await sleep(500);
  }
}

/** Mounts the shared folders in the guest; a failure stops the machine (never half-made). */
async function mountVolumes(config: MachineConfig, paths: MachinePaths) {
  const mounted = await sshProbe(
    config.sshPort,
    config.identity,
    mountScript(config.volumes, config.mountType),
    60_000 * machinePace(),
  );
  if (mounted.exitCode !== 0) {
    await stopMachine(config, paths, () => undefined);
    throw new PodbootError(
      `machine ${config.name} did not start: its shared folders did not mount over ${config.mountType} (${tail(mounted.output, 1)})`,
      `read its console (podboot machine logs ${config.name}); make the machine with --mount-type ${config.mountType === "9p" ? "virtiofs" : "9p"} to try the other way`,
    );
  }
}

/** The host's proxy settings and the machine's CA certificates, into the guest's /etc. */
async function configureGuest(
  config: MachineConfig,
  paths: MachinePaths,
  proxy: Record<string, string>,
) {
  const caPem = await readFile(paths.caPem, "utf8").catch(() => "");
  const script = guestConfigScript(proxy, caPem);
  if (!script) return;
  const done = await sshProbe(
    config.sshPort,
    config.identity,
    "sh -s",
    60_000 * machinePace(),
    script,
  );
  if (done.exitCode !== 0) {
    await stopMachine(config, paths, () => undefined);
    throw new PodbootError(
      `machine ${config.name} did not start: its proxy settings or CA certificates could not be written (${tail(done.output, 1)})`,
      `read its console: podboot machine logs ${config.name}`,
    );
  }
}

/** Waits up to `ms` for the machine's QEMU to end; true once it has. */
async function exited(paths: MachinePaths, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await runningPid(paths))) return true;
    await sleep(300);
  }
  return false;
}

/**
 * A clean power-off — the ACPI power button (the guest's acpid runs `poweroff`, which stops its
 * containers and unmounts the data disk), then the guest's own `poweroff` over SSH for an image
 * that ignores the button — a bounded wait, then quit, then kill: it always ends stopped.
 */
export async function stopMachine(
  config: MachineConfig,
  paths: MachinePaths,
  say: (line: string) => void,
): Promise<"powered off" | "killed" | "not running"> {
  await stopFollower(paths);
  const pid = await runningPid(paths);
  if (!pid) return "not running";
  const pace = machinePace();
  await qmp(paths.qmpSocket, "system_powerdown").catch(() => undefined);
  if (await exited(paths, BUTTON_WAIT_MS * pace)) return "powered off";
  await sshProbe(config.sshPort, config.identity, "poweroff", 15_000);
  if (await exited(paths, STOP_LIMIT_MS * pace)) return "powered off";
  say("the guest did not power off in time; stopping QEMU");
  await qmp(paths.qmpSocket, "quit").catch(() => undefined);
  await sleep(1000);
  if (await runningPid(paths)) process.kill(pid, "SIGKILL");
  return "killed";
}
