// Published ports, followed: a container run in the machine with `-p 8080:80` — by root or
// rootless by the podboot user — is reachable on the host's 127.0.0.1:8080 with no forward added
// by hand. A small process per running machine (started by `machine start`, ended by `stop` or
// when QEMU is gone) follows podman's event logs over SSH (`tail -F` of the files podman writes,
// so no podman process stays resident for it); on each container event it lists the running
// containers' published ports and adds or removes QEMU user-network forwards through the monitor
// (hostfwd_add/hostfwd_remove over QMP). A host port that is taken is written to the machine's
// ports log and shown by `ls`/`inspect`.
import { readFile, rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { writeAtomically } from "../fs/atomic.ts";
import { processAlive, startDetached } from "../tools/run.ts";
import { sshFollow, sshProbe } from "../tools/ssh.ts";
import { qmp } from "../vm/qmp.ts";
import type { MachineConfig, MachinePaths } from "./store.ts";

export interface Forward {
  protocol: "tcp" | "udp";
  port: number;
}

export interface PortsState {
  forwarded: string[];
  /** Published in the machine but taken on the host: reachable only inside the machine. */
  taken: string[];
}

interface PsPort {
  host_ip?: string;
  host_port?: number;
  range?: number;
  protocol?: string;
}

/**
 * The host ports published by `podman ps --format json`'s containers. Ports bound to one of the
 * guest's own addresses (e.g. 127.0.0.1 inside it) are not reachable through QEMU's network and
 * are left out.
 */
export function publishedPorts(psJson: string): Forward[] {
  // Warnings podman printed first (WARN[0000] …) are not part of the listing.
  const lines = psJson.split("\n");
  const start = lines.findIndex((line) => line.startsWith("["));
  const listing = start < 0 ? "[]" : lines.slice(start).join("\n");
  const containers = JSON.parse(listing) as { Ports?: PsPort[] | null }[];
  const found = new Map<string, Forward>();
  for (const container of containers) {
    for (const p of container.Ports ?? []) {
      if (!p.host_port || !["", "0.0.0.0", "::", undefined].includes(p.host_ip)) continue;
      const protocol = p.protocol === "udp" ? "udp" : p.protocol === "tcp" ? "tcp" : undefined;
      if (!protocol) continue;
      for (let i = 0; i < (p.range ?? 1); i++) {
        const forward = { protocol, port: p.host_port + i } as const;
        found.set(forwardKey(forward), forward);
      }
    }
  }
  return [...found.values()];
}

/**
 * Where podman (events_logger = "file") writes its events: root's under /run/libpod, the podboot
 * user's under its runtime directory. busybox's `tail -F` waits for a file that is not there yet.
 */
export const EVENTS_COMMAND =
  "tail -q -F -n 0 /run/libpod/events/events.log " +
  '"/run/user/$(id -u podboot)/libpod/tmp/events/events.log" 2>/dev/null';

/** The users whose containers are listed: root's, then the podboot user's (rootless). */
const PS_COMMANDS = ["podman ps --format json", "su - podboot -c 'podman ps --format json'"];
const PS_END = "@@podboot-ps-end";

/**
 * Both listings in one SSH session (a login costs ~0.5 s under TCG), each part ended by a marker
 * line carrying its exit status. Each command's errors are taken into its own part (ssh carries
 * stderr apart from stdout, so they could otherwise arrive after the marker).
 */
export const PS_COMMAND = PS_COMMANDS.map(
  (command) => `out=$(${command} 2>&1); status=$?; printf '%s\\n' "$out"; echo "${PS_END} $status"`,
).join("; ");

/** PS_COMMAND's output split into its parts, each with the command's exit status. */
export function psParts(output: string): { command: string; exitCode: number; text: string }[] {
  const parts: { command: string; exitCode: number; text: string }[] = [];
  let lines: string[] = [];
  for (const line of output.split("\n")) {
    const end = new RegExp(`^${PS_END} (\\d+)$`).exec(line);
    if (!end) {
      lines.push(line);
      continue;
    }
    const command = PS_COMMANDS[parts.length] ?? "?";
    parts.push({ command, exitCode: Number(end[1]), text: lines.join("\n") });
    lines = [];
  }
  return parts;
}

/** Whether an event-log line is a container event that can change what is published. */
export function isPortEvent(line: string): boolean {
  return (
    line.includes('"Type":"container"') &&
    /"Status":"(start|died|remove|stop|restart|cleanup)"/.test(line)
  );
}

export function forwardKey(forward: Forward): string {
  return `${forward.port}/${forward.protocol}`;
}

function parseKey(key: string): Forward {
  const [port, protocol] = key.split("/");
  return { port: Number(port), protocol: protocol as Forward["protocol"] };
}

/** The monitor's rule: the host's loopback only, to the same port on the guest. */
export function hostfwdRule(forward: Forward): string {
  return `${forward.protocol}:127.0.0.1:${forward.port}-:${forward.port}`;
}

/** Runs one human-monitor command; resolves with its output ("" when it went well). */
async function monitor(socket: string, commandLine: string): Promise<string> {
  const reply = await qmp(socket, "human-monitor-command", { "command-line": commandLine });
  if (reply.error) return reply.error.desc;
  return typeof reply.return === "string" ? reply.return.trim() : "";
}

export function portsFiles(paths: MachinePaths) {
  return {
    state: `${paths.dir}/ports.json`,
    log: `${paths.dir}/ports.log`,
    pid: `${paths.dir}/ports.pid`,
  };
}

export async function readPorts(paths: MachinePaths): Promise<PortsState> {
  const text = await readFile(portsFiles(paths).state, "utf8").catch(() => "");
  try {
    return JSON.parse(text) as PortsState;
  } catch {
    return { forwarded: [], taken: [] };
  }
}

/** Starts the follower for a machine that just became ready. */
export async function startFollower(name: string, paths: MachinePaths): Promise<void> {
  const files = portsFiles(paths);
  await rm(files.state, { force: true });
  const entry = process.argv[1]!;
  const pid = startDetached(
    process.execPath,
    [...process.execArgv, entry, "machine", "follow-ports", name],
    files.log,
  );
  await writeAtomically(files.pid, `${pid}\n`);
}

export async function stopFollower(paths: MachinePaths): Promise<void> {
  const files = portsFiles(paths);
  const pid = Number((await readFile(files.pid, "utf8").catch(() => "")).trim());
  if (Number.isInteger(pid) && pid > 0 && (await processAlive(pid))) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // gone meanwhile
    }
  }
  await rm(files.pid, { force: true });
  await rm(files.state, { force: true });
}

/**
 * Follows the machine's container events until QEMU is gone: each start, death or removal of a
 * container brings the forwards in line with what is published.
 */
export async function followPorts(
  config: MachineConfig,
  paths: MachinePaths,
  qemuRunning: () => Promise<boolean>,
): Promise<void> {
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const state: PortsState = { forwarded: [], taken: [] };
  let syncing: Promise<void> | undefined;
  let again = false;

  const sync = async () => {
    const wanted = new Set<string>();
    const ps = await sshProbe(config.sshPort, config.identity, PS_COMMAND, 60_000);
    const parts = psParts(ps.output);
    if (parts.length !== PS_COMMANDS.length) {
      // No listing to go by (the connection failed): keep the forwards as they are.
      log(`listing the containers failed: ${ps.output.trim().split("\n").pop()}`);
      return;
    }
    for (const part of parts) {
      if (part.exitCode !== 0) {
        log(`${part.command} failed: ${part.text.trim().split("\n").pop()}`);
        continue;
      }
      for (const forward of publishedPorts(part.text)) wanted.add(forwardKey(forward));
    }
    for (const key of state.forwarded.filter((k) => !wanted.has(k))) {
      const forward = parseKey(key);
      const out = await monitor(
        paths.qmpSocket,
        `hostfwd_remove net0 ${forward.protocol}:127.0.0.1:${forward.port}`,
      );
      log(out ? `${key}: could not remove the forward (${out})` : `${key}: forward removed`);
    }
    const forwarded = state.forwarded.filter((k) => wanted.has(k));
    const taken: string[] = [];
    for (const key of [...wanted].filter((k) => !forwarded.includes(k))) {
      const out = await monitor(paths.qmpSocket, `hostfwd_add net0 ${hostfwdRule(parseKey(key))}`);
      if (out === "") {
        forwarded.push(key);
        log(`${key}: forwarded from 127.0.0.1:${parseKey(key).port}`);
      } else {
        taken.push(key);
        if (!state.taken.includes(key))
          log(`${key}: taken on the host, reachable only inside the machine (${out})`);
      }
    }
    state.forwarded = forwarded.sort();
    state.taken = taken.sort();
    await writeAtomically(portsFiles(paths).state, JSON.stringify(state) + "\n");
  };

  const request = () => {
    if (syncing) {
      again = true;
      return;
    }
    syncing = (async () => {
      do {
        again = false;
        await sync().catch((error: Error) => log(`sync failed: ${error.message}`));
      } while (again);
      syncing = undefined;
    })();
  };

  while (await qemuRunning()) {
    request();
    await sshFollow(config.sshPort, config.identity, EVENTS_COMMAND, (line) => {
      if (isPortEvent(line)) request();
    });
    await sleep(2000);
  }
  await syncing;
  log("the machine is not running; done");
}
