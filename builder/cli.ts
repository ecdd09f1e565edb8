// The podboot command line: parses arguments, runs one command, and is the only place that turns
// errors into exit codes (1: a build or boot failed, 2: bad input or a host problem). bin/podboot.js
// calls run() with the checkout's directory (recipes/, rootfs-overlay/, kernel-config/, iso/).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { fromSystemError, isPodbootError } from "./errors.ts";
import { installHandlers, removeTracked } from "./cleanup.ts";
import { registerArtifactCommands } from "./cli/artifacts.ts";
import { registerBuildCommands } from "./cli/build.ts";
import { registerCacheCommands } from "./cli/cache.ts";
import { registerKernelCommands } from "./cli/kernel.ts";
import { registerKeyCommands } from "./cli/keys.ts";
import { registerMachineCommands } from "./cli/machine.ts";
import { registerVmCommands } from "./cli/vm.ts";

async function parse(argv: string[], projectDir: string): Promise<void> {
  const pkg = JSON.parse(await readFile(path.join(projectDir, "package.json"), "utf8"));
  const program = new Command()
    .name("podboot")
    .description(
      "Build a small, RAM-resident Linux ISO whose only job is running containers with Podman.",
    )
    .version(pkg.version as string, "-V, --version", "print podboot's version")
    .showHelpAfterError();
  registerBuildCommands(program, projectDir);
  registerVmCommands(program, projectDir);
  registerArtifactCommands(program);
  registerKeyCommands(program);
  registerKernelCommands(program, projectDir);
  registerCacheCommands(program);
  registerMachineCommands(program, projectDir);
  await program.parseAsync(argv);
}

export async function run(argv: string[], projectDir: string): Promise<void> {
  installHandlers();
  try {
    await parse(argv, projectDir);
  } catch (thrown: unknown) {
    removeTracked();
    const error = fromSystemError(thrown) ?? thrown;
    if (isPodbootError(error)) {
      // A failed tool run (exit 1) shows its last lines above the one-line summary.
      if (error.detail && (error.exitCode === 1 || process.env.PODBOOT_VERBOSE)) {
        process.stderr.write(`${error.detail}\n`);
      }
      process.stderr.write(`${error.oneLine()}\n`);
      process.exit(error.exitCode);
    }
    process.stderr.write(`podboot: ${(error as Error).message ?? String(error)}\n`);
    if (process.env.PODBOOT_VERBOSE) process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  }
}
