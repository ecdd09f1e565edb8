// `podboot machine init|start|stop|ssh|load|ls|inspect|rm|logs|env|set`: the ISO as a container host
// on this machine, boot2podman's podman-machine model. Each machine is a directory (store.ts)
// with a data disk that formats itself on first boot seeded with the machine's SSH key; init
// registers a podman system connection so the host's podman drives it at once.
import { readFile, rm, truncate } from "node:fs/promises";
import { PodbootError } from "../errors.ts";
import { loadExtension } from "../machine/extensions.ts";
import { allMachines, apiUrl, checkSizes, connectionName } from "../machine/init.ts";
import { runningPid, startMachine, stopMachine } from "../machine/lifecycle.ts";
import { followPorts, readPorts, type PortsState } from "../machine/ports.ts";
import { loadMachine, machinePaths, saveMachine, type MachineConfig } from "../machine/store.ts";
import { addConnection, removeConnection } from "../tools/podman.ts";
import { pinHostKeys } from "../machine/known-hosts.ts";
import { sshInteractive } from "../tools/ssh.ts";

export async function start(name: string, say: (line: string) => void): Promise<string> {
  const config = await loadMachine(name);
  const { seconds } = await startMachine(config, machinePaths(name), say);
  return [
    `machine ${name} is ready (podman answered over SSH after ${seconds.toFixed(1)} s)`,
    `  shell:  podboot machine ssh ${name}`,
    config.connection
      ? `  podman: podman --connection ${connectionName(name)} run --rm localhost/podboot-hello`
      : `  podman: eval "$(podboot machine env ${name})"; podman --remote run --rm localhost/podboot-hello`,
  ].join("\n");
}

export async function stop(name: string, say: (line: string) => void): Promise<string> {
  const config = await loadMachine(name);
  const how = await stopMachine(config, machinePaths(name), say);
  return how === "not running"
    ? `machine ${name} is not running`
    : `machine ${name} stopped (${how})`;
}

export async function ssh(name: string, user: string, command: string[]): Promise<number> {
  const config = await loadMachine(name);
  if (!(await runningPid(machinePaths(name)))) {
    throw new PodbootError(
      `machine ${name} is not running`,
      `start it: podboot machine start ${name}`,
    );
  }
  return sshInteractive(config.sshPort, config.identity, user, command);
}

export interface MachineState extends MachineConfig {
  state: "running" | "stopped";
  /** Seconds since it was started, while it runs. */
  uptime?: number;
  /** Its containers' published ports, while it runs. */
  ports?: PortsState;
}

/** The follow-ports process of a running machine (ports.ts). */
export async function followMachinePorts(name: string): Promise<void> {
  const config = await loadMachine(name);
  const paths = machinePaths(name);
  await followPorts(config, paths, async () => (await runningPid(paths)) !== undefined);
}

export async function list(): Promise<MachineState[]> {
  const states: MachineState[] = [];
  for (const config of await allMachines()) states.push(await stateOf(config));
  return states;
}

async function stateOf(config: MachineConfig): Promise<MachineState> {
  const paths = machinePaths(config.name);
  if (!(await runningPid(paths))) return { ...config, state: "stopped" };
  const run = JSON.parse(await readFile(paths.run, "utf8").catch(() => "{}")) as {
    started?: string;
  };
  const uptime = run.started
    ? Math.round((Date.now() - Date.parse(run.started)) / 1000)
    : undefined;
  return {
    ...config,
    state: "running",
    ...(uptime !== undefined && { uptime }),
    ports: await readPorts(paths),
  };
}

export function formatList(states: MachineState[]): string {
  const rows = states.map((m) => [
    m.name,
    m.state,
    String(m.cpus),
    `${m.memoryMiB} MiB`,
    `${m.diskGiB} GiB`,
    String(m.sshPort),
    formatPorts(m.ports),
    m.uptime === undefined ? "-" : `${m.uptime} s`,
  ]);
  const headers = ["NAME", "STATE", "CPUS", "MEMORY", "DISK", "SSH PORT", "PORTS", "UPTIME"];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [headers, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** 8080/tcp,5353/udp; a port taken on the host is marked. */
function formatPorts(ports: PortsState | undefined): string {
  const all = [...(ports?.forwarded ?? []), ...(ports?.taken ?? []).map((p) => `${p}(taken)`)];
  return all.length ? all.join(",") : "-";
}

export async function inspect(name: string): Promise<MachineState & { paths: object }> {
  const config = await loadMachine(name);
  return { ...(await stateOf(config)), paths: machinePaths(name) };
}

export async function remove(
  name: string,
  force: boolean,
  say: (line: string) => void,
): Promise<string> {
  const config = await loadMachine(name);
  const paths = machinePaths(name);
  if (await runningPid(paths)) {
    if (!force)
      throw new PodbootError(
        `machine ${name} is running`,
        `stop it first, or pass --force: podboot machine rm --force ${name}`,
      );
    await stopMachine(config, paths, say);
  }
  if (config.connection) await removeConnection(connectionName(name));
  // A stale entry left by a known_hosts podboot cannot write is replaced at the next start on
  // that port: it must not keep the machine from being removed.
  await pinHostKeys(config.sshPort, []).catch(() => undefined);
  await rm(paths.dir, { recursive: true, force: true });
  await rm(paths.sockets, { recursive: true, force: true });
  return `machine ${name} removed (its data disk too)`;
}

/** `load`: a loadable extension onto a running machine's data disk, loaded at once. */
export async function loadInto(name: string, extension: string, file?: string): Promise<string> {
  return loadExtension(await loadMachine(name), machinePaths(name), extension, file);
}

export async function logs(name: string): Promise<string> {
  await loadMachine(name);
  return readFile(machinePaths(name).consoleLog, "utf8").catch(() => "");
}

export async function env(name: string): Promise<string> {
  const config = await loadMachine(name);
  return [
    `export CONTAINER_HOST=${apiUrl(config)}`,
    `export CONTAINER_SSHKEY=${config.identity}`,
    "",
  ].join("\n");
}

/** Settings for the next start: memory, CPUs, the SSH port; a bigger data disk. */
export async function set(
  name: string,
  changes: { cpus?: number; memoryMiB?: number; sshPort?: number; diskGiB?: number },
): Promise<string> {
  const config = await loadMachine(name);
  const paths = machinePaths(name);
  checkSizes(changes);
  if (changes.sshPort !== undefined && !(changes.sshPort >= 1024 && changes.sshPort <= 65535)) {
    throw new PodbootError(
      `--ssh-port ${changes.sshPort}: give a port from 1024 to 65535`,
      "pass e.g. --ssh-port 2223",
    );
  }
  if (changes.diskGiB !== undefined && changes.diskGiB !== config.diskGiB) {
    if (changes.diskGiB < config.diskGiB) {
      throw new PodbootError(
        `--disk-size ${changes.diskGiB}: machine ${name}'s data disk is ${config.diskGiB} GiB and only grows`,
        `give more than ${config.diskGiB}, or make a new machine for a smaller disk`,
      );
    }
    if (await runningPid(paths)) {
      throw new PodbootError(
        `machine ${name} is running: its disk grows only while it is stopped`,
        `stop it first: podboot machine stop ${name}`,
      );
    }
    // The partition and the filesystem grow into the new space at the next boot.
    await truncate(paths.disk, changes.diskGiB * 1024 ** 3);
  }
  const updated = { ...config, ...changes };
  await saveMachine(updated, paths.dir);
  if (changes.sshPort !== undefined) {
    // The old port's host keys go; the next start writes the new port's.
    await pinHostKeys(config.sshPort, []).catch(() => undefined);
    if (config.connection) {
      await removeConnection(connectionName(name));
      await addConnection(connectionName(name), apiUrl(updated), updated.identity);
    }
  }
  const running = await runningPid(paths);
  return `machine ${name}: ${updated.cpus} CPUs, ${updated.memoryMiB} MiB, ${updated.diskGiB} GiB disk, SSH port ${updated.sshPort}${running ? " (from its next start)" : ""}`;
}
