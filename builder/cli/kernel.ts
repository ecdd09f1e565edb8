// `podboot kernel check`: a kernel .config against kernel-config/ fragments.
import path from "node:path";
import { Command } from "commander";
import { PodbootError } from "../errors.ts";

export function registerKernelCommands(program: Command, projectDir: string): void {
  program
    .command("kernel")
    .description("kernel configuration tools")
    .command("check")
    .description(
      "check a kernel .config against kernel-config/ fragments (fails listing what is missing)",
    )
    .argument("<config>", "a .config (or a Debian kernel's /boot/config-*)")
    .option("-f, --fragments <names>", "comma-separated fragment names", "containers")
    .option(
      "--fragments-dir <dir>",
      "where the fragments are",
      path.join(projectDir, "kernel-config"),
    )
    .option("--source <dir>", "kernel source tree, to name unmet Kconfig dependencies")
    .option("--modules", "count a module (=m) as built-in (=y), as for a prebuilt modular kernel")
    .action(
      async (
        config: string,
        opts: { fragments: string; fragmentsDir: string; source?: string; modules?: boolean },
      ) => {
        const { loadFragments, readKconfigIndex, requireKernelConfig } =
          await import("../kernel/check.ts");
        const { readFile } = await import("node:fs/promises");
        const text = await readFile(config, "utf8").catch(() => {
          throw new PodbootError(`cannot read ${config}`, "pass a kernel .config file");
        });
        const settings = await loadFragments(
          path.resolve(opts.fragmentsDir),
          opts.fragments.split(",").filter(Boolean),
        );
        const { version } = requireKernelConfig(settings, text, config, {
          index: opts.source ? await readKconfigIndex(opts.source) : undefined,
          moduleSatisfiesBuiltin: opts.modules ?? false,
          fix: "enable them (and what they depend on) in the kernel configuration",
        });
        process.stdout.write(
          `${config}: Linux ${version} has all ${settings.length} settings of ${opts.fragments}\n`,
        );
      },
    );
}
