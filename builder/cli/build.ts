// `podboot build`, `podboot release` and `podboot check`: the recipe's commands and the flags
// they share.
import path from "node:path";
import { Command, Option } from "commander";
import type { EngineName } from "../tools/engine.ts";

export function registerBuildCommands(program: Command, projectDir: string): void {
  const defaultRecipe = path.join(projectDir, "recipes", "podboot.yaml");
  program
    .command("build")
    .description("build out/NAME.iso, out/SHA256SUMS and out/manifest.json from a recipe")
    .argument("[recipe]", "recipe file", defaultRecipe)
    .option("-o, --out <dir>", "output directory", path.join(projectDir, "out"))
    .option(
      "--sign-key <file>",
      "sign SHA256SUMS, the ISO and the initramfs with this minisign key",
    )
    .addOption(
      new Option(
        "--format <format>",
        "also write the podman stack as a systemd-sysext image (out/NAME.raw)",
      ).choices(["sysext"]),
    )
    .action(
      async (recipe: string, opts: SharedBuildFlags & { signKey?: string; format?: "sysext" }) => {
        const { build } = await import("../commands/build.ts");
        await build({
          ...buildOptions(recipe, opts, projectDir),
          signKey: opts.signKey && path.resolve(opts.signKey),
          sysext: opts.format === "sysext",
        });
      },
    );
  addBuildFlags(program.commands.at(-1)!);

  program
    .command("release")
    .description(
      "make the release set (ISO, initramfs, sysext, SHA256SUMS, signatures, SBOM, catalog) in out/release/",
    )
    .argument("[recipe]", "recipe file", defaultRecipe)
    .option("-o, --out <dir>", "release directory", path.join(projectDir, "out", "release"))
    .option(
      "--sign-key <file>",
      "minisign secret key (default: $PODBOOT_SIGN_KEY, else podboot.key)",
    )
    .option("--no-boot-test", "skip booting the ISO under QEMU before the set is published")
    .action(
      async (recipe: string, opts: SharedBuildFlags & { signKey?: string; bootTest: boolean }) => {
        const { release } = await import("../commands/release.ts");
        await release({
          ...buildOptions(recipe, opts, projectDir),
          signKey: path.resolve(opts.signKey ?? (process.env.PODBOOT_SIGN_KEY || "podboot.key")),
          bootTest: opts.bootTest,
        });
      },
    );
  addBuildFlags(program.commands.at(-1)!);

  program
    .command("check")
    .description(
      "check a recipe and every file it names (components, toolchains, kernel fragments) without building: no network, no root; exit 0 or 2",
    )
    .argument("[recipe]", "recipe file", defaultRecipe)
    .option(
      "--with <extensions>",
      "also check these optional extensions can be added (comma-separated)",
      (value: string) => value.split(",").filter(Boolean),
    )
    .option(
      "--without <extensions>",
      "also check these default extensions can be left out (comma-separated)",
      (value: string) => value.split(",").filter(Boolean),
    )
    .action(async (recipe: string, opts: { with?: string[]; without?: string[] }) => {
      const { checkRecipe } = await import("../commands/check.ts");
      process.stdout.write(`${await checkRecipe(path.resolve(recipe), projectDir, opts)}\n`);
    });
}

/** The flags `build` and `release` share. */
interface SharedBuildFlags {
  out: string;
  mirror?: string;
  cache?: string;
  refresh?: boolean;
  quiet?: boolean;
  prebuilt?: boolean;
  kernel?: "build" | "debian";
  strictSource?: boolean;
  engine: EngineName;
  with?: string[];
  without?: string[];
}

function addBuildFlags(command: Command): void {
  command
    .option("--mirror <url>", "Debian mirror (default: the recipe's, else the host's apt sources)")
    .option("--cache <dir>", "cache directory (default: $PODBOOT_CACHE or $XDG_CACHE_HOME/podboot)")
    .option("--refresh", "refresh the Debian package lists even when they are fresh")
    .option("-q, --quiet", "print only warnings and the result")
    .option(
      "--prebuilt",
      "the fast path: verified Debian binaries for every component and Debian's prebuilt kernel",
    )
    .addOption(
      new Option(
        "--kernel <source>",
        "compile the kernel (build) or take Debian's prebuilt one (debian); default: the recipe's",
      ).choices(["build", "debian"]),
    )
    .option("--strict-source", "fail when a component's preferred source cannot be obtained")
    .option(
      "--with <extensions>",
      "also build these optional extensions (comma-separated, e.g. kubectl)",
      (value: string) => value.split(",").filter(Boolean),
    )
    .option(
      "--without <extensions>",
      "leave these default extensions out (comma-separated, e.g. tools for no buildah and skopeo)",
      (value: string) => value.split(",").filter(Boolean),
    )
    .addOption(
      new Option(
        "--engine <engine>",
        "what runs the build containers: runc (a generated OCI bundle, no daemon), podman or docker",
      )
        .choices(["runc", "podman", "docker"])
        .default("runc"),
    );
}

function buildOptions(recipe: string, opts: SharedBuildFlags, projectDir: string) {
  return {
    recipe: path.resolve(recipe),
    outDir: path.resolve(opts.out),
    mirror: opts.mirror,
    cacheDir: opts.cache,
    refresh: opts.refresh,
    projectDir,
    quiet: opts.quiet,
    prebuilt: opts.prebuilt,
    kernel: opts.kernel,
    strictSource: opts.strictSource,
    engine: opts.engine,
    with: opts.with,
    without: opts.without,
  };
}
