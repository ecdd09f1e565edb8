// `podboot machine …`: the ISO as a container host on this machine (commands/machine.ts).
import path from "node:path";
import { Command } from "commander";
import { PodbootError } from "../errors.ts";
import { parsePositive } from "./numbers.ts";

const say = (line: string) => process.stderr.write(`podboot: ${line}\n`);
const print = (text: string): void =>
  void process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
const load = () => import("../commands/machine.ts");

export function registerMachineCommands(program: Command, projectDir: string): void {
  const machine = program
    .command("machine")
    .description(
      "run the ISO as a container host on this machine ($XDG_DATA_HOME/podboot/machines)",
    );
  registerInit(machine, projectDir);
  machine
    .command("start")
    .description("boot it in the background; returns once podman answers over SSH")
    .argument("[name]", "machine name", "default")
    .action(async (name: string) => print(await (await load()).start(name, say)));
  machine
    .command("stop")
    .description(
      "power it off (the ACPI power button, then poweroff over SSH), waiting a bounded time before stopping QEMU",
    )
    .argument("[name]", "machine name", "default")
    .action(async (name: string) => print(await (await load()).stop(name, say)));
  machine
    .command("follow-ports", { hidden: true })
    .description("(started by start) forward the ports its containers publish")
    .argument("<name>", "machine name")
    .action(async (name: string) => (await load()).followMachinePorts(name));
  registerMachineAccess(machine);
}

function registerInit(machine: Command, projectDir: string): void {
  machine
    .command("init")
    .description(
      "make a machine: its data disk (formatted on first boot, seeded with its SSH key) and its podman connection",
    )
    .argument("[name]", "machine name", "default")
    .option("--iso <file>", "the ISO it boots", path.join(projectDir, "out", "podboot.iso"))
    .option(
      "--recipe <file>",
      "instead of an ISO: build the machine's own image from this recipe (kept with the machine)",
    )
    .option("--cpus <n>", "virtual CPUs", "2")
    .option("--memory <MiB>", "memory", "1024")
    .option("--disk-size <GiB>", "data disk size (sparse)", "20")
    .option(
      "--identity <key>",
      "an SSH key of yours (its .pub beside it); default: one made for the machine",
    )
    .option("--no-connection", "do not register a podman system connection")
    .option(
      "--volume <HOST:GUEST>",
      "share a host folder, mounted at GUEST (repeatable)",
      (value: string, list: string[]) => [...list, value],
      [] as string[],
    )
    .option(
      "--ca-cert <file>",
      "a CA certificate (PEM) the machine trusts besides the usual ones (repeatable)",
      (value: string, list: string[]) => [...list, value],
      [] as string[],
    )
    .option(
      "--mount-type <type>",
      "how folders are shared: virtiofs or 9p (default: virtiofs when virtiofsd is installed)",
    )
    .action((name: string, opts: InitFlags, command: Command) =>
      runInit(name, opts, command, projectDir),
    );
}

interface InitFlags {
  iso: string;
  cpus: string;
  memory: string;
  diskSize: string;
  identity?: string;
  connection: boolean;
  volume: string[];
  mountType?: string;
  caCert: string[];
  recipe?: string;
}

async function runInit(
  name: string,
  opts: InitFlags,
  command: Command,
  projectDir: string,
): Promise<void> {
  const { initMachine, connectionName } = await import("../machine/init.ts");
  if (opts.recipe && command.getOptionValueSource("iso") === "cli") {
    throw new PodbootError(
      "--iso and --recipe both given: a machine boots one image",
      "pass --iso FILE to boot an ISO, or --recipe FILE to build the machine its own",
    );
  }
  const recipe = opts.recipe && path.resolve(opts.recipe);
  const config = await initMachine(
    {
      name,
      iso: path.resolve(opts.iso),
      ...(recipe && {
        build: async (into: string) => {
          const { build } = await import("../commands/build.ts");
          const manifest = await build({ recipe, outDir: into, projectDir });
          return path.join(into, manifest.iso.file);
        },
      }),
      cpus: parsePositive(opts.cpus, "--cpus"),
      memoryMiB: parsePositive(opts.memory, "--memory"),
      diskGiB: parsePositive(opts.diskSize, "--disk-size"),
      identity: opts.identity && path.resolve(opts.identity),
      connection: opts.connection,
      volumes: opts.volume,
      caCerts: opts.caCert,
      ...(opts.mountType && { mountType: parseMountType(opts.mountType) }),
    },
    say,
  );
  print(
    `machine ${name} made: ${config.cpus} CPUs, ${config.memoryMiB} MiB, ${config.diskGiB} GiB disk, SSH on 127.0.0.1:${config.sshPort}${config.volumes.length ? `, ${config.volumes.length} folder(s) over ${config.mountType}` : ""}${config.connection ? `, podman connection ${connectionName(name)}` : ""}\n  start it: podboot machine start${name === "default" ? "" : ` ${name}`}`,
  );
}

/** ssh, ls, inspect, rm, logs, env and set. */
function registerMachineAccess(machine: Command): void {
  machine
    .command("ssh")
    .description(
      "a shell in the machine (as root), or run a command: podboot machine ssh NAME -- CMD",
    )
    .argument("[name]", "machine name", "default")
    .argument("[command...]", "command to run")
    .option("--user <user>", "root or podboot", "root")
    .action(async (name: string, command: string[], opts: { user: string }) => {
      process.exitCode = await (await load()).ssh(name, opts.user, command);
    });
  machine
    .command("ls")
    .description("the machines: state, CPUs, memory, disk, SSH port, forwarded ports, uptime")
    .option("--format <format>", "table or json", "table")
    .action(async (opts: { format: string }) => {
      const { list, formatList } = await load();
      const states = await list();
      print(opts.format === "json" ? JSON.stringify(states, null, 2) : formatList(states));
    });
  machine
    .command("inspect")
    .description("a machine's configuration, state and files, as JSON")
    .argument("[name]", "machine name", "default")
    .action(async (name: string) =>
      print(JSON.stringify(await (await load()).inspect(name), null, 2)),
    );
  machine
    .command("rm")
    .description("remove a machine and its data disk (--force stops a running one first)")
    .argument("[name]", "machine name", "default")
    .option("--force", "stop it first when it runs")
    .action(async (name: string, opts: { force?: boolean }) =>
      print(await (await load()).remove(name, opts.force ?? false, say)),
    );
  machine
    .command("load")
    .description(
      "load an extension kept out of the ISO (tools: buildah, skopeo) into a running machine; kept on its data disk, loaded at every boot",
    )
    .argument("<extension>", "the extension, e.g. tools")
    .argument("[name]", "machine name", "default")
    .option(
      "--file <image>",
      "its image (default: extensions/EXTENSION.sqfs beside the machine's ISO, as the build writes it)",
    )
    .action(async (extension: string, name: string, opts: { file?: string }) =>
      print(await (await load()).loadInto(name, extension, opts.file)),
    );
  machine
    .command("logs")
    .description("its console output since the last start")
    .argument("[name]", "machine name", "default")
    .action(async (name: string) => void process.stdout.write(await (await load()).logs(name)));
  machine
    .command("env")
    .description(
      'CONTAINER_HOST and CONTAINER_SSHKEY exports for the podman client: eval "$(podboot machine env)"',
    )
    .argument("[name]", "machine name", "default")
    .action(async (name: string) => void process.stdout.write(await (await load()).env(name)));
  machine
    .command("set")
    .description("change CPUs, memory, the SSH port or the disk size, for the next start")
    .argument("[name]", "machine name", "default")
    .option("--cpus <n>", "virtual CPUs")
    .option("--memory <MiB>", "memory")
    .option("--ssh-port <port>", "host port forwarded to its SSH")
    .option("--disk-size <GiB>", "grow the data disk (while stopped; it grows at the next boot)")
    .action(async (name: string, opts: SetOptions) => {
      const changes = {
        ...(opts.diskSize && { diskGiB: parsePositive(opts.diskSize, "--disk-size") }),
        ...(opts.cpus && { cpus: parsePositive(opts.cpus, "--cpus") }),
        ...(opts.memory && { memoryMiB: parsePositive(opts.memory, "--memory") }),
        ...(opts.sshPort && { sshPort: parsePositive(opts.sshPort, "--ssh-port") }),
      };
      print(await (await load()).set(name, changes));
    });
}

interface SetOptions {
  cpus?: string;
  memory?: string;
  sshPort?: string;
  diskSize?: string;
}

function parseMountType(value: string): "virtiofs" | "9p" {
  if (value === "virtiofs" || value === "9p") return value;
  throw new PodbootError(
    `--mount-type ${value}: folders are shared with virtiofs or 9p`,
    "pass --mount-type virtiofs or --mount-type 9p",
  );
}
