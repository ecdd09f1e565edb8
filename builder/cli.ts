// The podboot command line: parses arguments, runs one command, and is the only place that turns
// errors into exit codes (1: a build or boot failed, 2: bad input or a host problem).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { fromSystemError, isPodbootError, PodbootError } from "./errors.ts";
import { installHandlers, removeTracked } from "./cleanup.ts";
import type { EngineName } from "./tools/engine.ts";

const projectDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function projectVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(projectDir, "package.json"), "utf8"));
  return pkg.version as string;
}

async function main(argv: string[]): Promise<void> {
  installHandlers();
  const program = new Command()
    .name("podboot")
    .description(
      "Build a small, RAM-resident Linux ISO whose only job is running containers with Podman.",
    )
    .version(await projectVersion(), "-V, --version", "print podboot's version")
    .showHelpAfterError();

  program
    .command("build")
    .description("build out/NAME.iso, out/SHA256SUMS and out/manifest.json from a recipe")
    .argument("[recipe]", "recipe file", path.join(projectDir, "recipes", "podboot.yaml"))
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
        const { build, requireRoot } = await import("./commands/build.ts");
        requireRoot("podboot build");
        await build({
          ...buildOptions(recipe, opts),
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
    .argument("[recipe]", "recipe file", path.join(projectDir, "recipes", "podboot.yaml"))
    .option("-o, --out <dir>", "release directory", path.join(projectDir, "out", "release"))
    .option(
      "--sign-key <file>",
      "minisign secret key (default: $PODBOOT_SIGN_KEY, else podboot.key)",
    )
    .option("--no-boot-test", "skip booting the ISO under QEMU before the set is published")
    .action(
      async (recipe: string, opts: SharedBuildFlags & { signKey?: string; bootTest: boolean }) => {
        const { requireRoot } = await import("./commands/build.ts");
        const { release } = await import("./commands/release.ts");
        requireRoot("podboot release");
        await release({
          ...buildOptions(recipe, opts),
          signKey: path.resolve(opts.signKey ?? (process.env.PODBOOT_SIGN_KEY || "podboot.key")),
          bootTest: opts.bootTest,
        });
      },
    );
  addBuildFlags(program.commands.at(-1)!);

  program
    .command("boot")
    .description("boot the ISO in QEMU with the serial console on this terminal (Ctrl-A X quits)")
    .argument("[iso]", "ISO to boot", path.join(projectDir, "out", "podboot.iso"))
    .option("-m, --memory <MiB>", "guest memory in MiB", "512")
    .addOption(
      new Option("--firmware <kind>", "firmware").choices(["bios", "uefi"]).default("bios"),
    )
    .addOption(
      new Option("--media <kind>", "attach the ISO as a CD-ROM or as a USB stick")
        .choices(["cdrom", "usb"])
        .default("cdrom"),
    )
    .addOption(
      new Option("--accel <kind>", "accelerator: auto probes KVM and falls back to TCG")
        .choices(["auto", "kvm", "tcg"])
        .default("auto"),
    )
    .option("--ssh-port <port>", "host port forwarded to the VM's SSH port 22", "2222")
    .option("--disk <file>", "attach a disk image (e.g. a podboot-data disk)")
    .action(
      async (
        iso: string,
        opts: {
          memory: string;
          firmware: "bios" | "uefi";
          media: "cdrom" | "usb";
          accel: "auto" | "kvm" | "tcg";
          sshPort: string;
          disk?: string;
        },
      ) => {
        const { bootCommand } = await import("./commands/boot.ts");
        process.exitCode = await bootCommand({
          iso: path.resolve(iso),
          memoryMiB: parsePositive(opts.memory, "--memory"),
          firmware: opts.firmware,
          media: opts.media,
          accel: opts.accel,
          sshPort: parsePositive(opts.sshPort, "--ssh-port"),
          disk: opts.disk,
        });
      },
    );

  program
    .command("size")
    .description(
      "what fills the ISO: by extension, by package and the largest files, as a table and as a chart (size.svg, size.png) next to it",
    )
    .option("--out <dir>", "the build's output directory", "out")
    .option("--top <n>", "how many packages and files to list", "20")
    .option("--no-png", "write only the SVG chart")
    .option("--cache <dir>", "cache directory (for the .debs' file lists)")
    .action(async (opts: { out: string; top: string; png: boolean; cache?: string }) => {
      const top = Number(opts.top);
      if (!Number.isInteger(top) || top < 1) {
        throw new PodbootError(
          `--top takes a positive whole number, got ${opts.top}`,
          "pass e.g. --top 20",
        );
      }
      const { runSize } = await import("./commands/size.ts");
      const { defaultCacheDir } = await import("./cache/store.ts");
      const result = await runSize(path.resolve(opts.out), {
        cacheRoot: opts.cache ?? defaultCacheDir(),
        top,
        png: opts.png,
      });
      process.stdout.write(result.text);
      if (result.missing.length > 0) {
        process.stderr.write(
          `podboot: ${result.missing.length} packages are not in the cache, so their files count as "not from a package": ${result.missing.join(", ")}\n`,
        );
      }
      process.stdout.write(
        `chart: ${result.written.map((f) => path.relative(process.cwd(), f)).join(", ")}\n`,
      );
    });

  program
    .command("diff")
    .description(
      "explain why two builds differ, file by file (ISOs, initramfs images or .sqfs extensions); exit 1 when they do",
    )
    .argument("<a>", "first artifact")
    .argument("<b>", "second artifact")
    .action(async (a: string, b: string) => {
      const { diffArtifacts } = await import("./commands/diff.ts");
      const lines = await diffArtifacts(path.resolve(a), path.resolve(b));
      if (lines.length === 0) {
        process.stdout.write(`${a} and ${b} are byte-identical\n`);
        return;
      }
      process.stdout.write(lines.join("\n") + "\n");
      process.exitCode = 1;
    });

  program
    .command("keygen")
    .description("make a minisign-compatible Ed25519 key pair (the secret key is not encrypted)")
    .option("-s, --secret-key <file>", "secret key to write", "podboot.key")
    .option("-p, --public-key <file>", "public key to write", "podboot.pub")
    .option("--force", "replace existing key files")
    .action(async (opts: { secretKey: string; publicKey: string; force?: boolean }) => {
      const { keygen } = await import("./commands/sign.ts");
      await keygen({ ...opts, force: opts.force ?? false });
      process.stdout.write(`wrote ${opts.secretKey} (keep it secret) and ${opts.publicKey}\n`);
    });

  program
    .command("sign")
    .description("sign files: writes FILE.minisig next to each (minisign format)")
    .requiredOption("-s, --secret-key <file>", "secret key (from podboot keygen or minisign -G -W)")
    .argument("<files...>", "files to sign")
    .action(async (files: string[], opts: { secretKey: string }) => {
      const { signFiles } = await import("./commands/sign.ts");
      await signFiles(opts.secretKey, files, Math.floor(Date.now() / 1000));
    });

  program
    .command("verify")
    .description("verify FILE against FILE.minisig and a public key (minisign format)")
    .requiredOption("-p, --public-key <file>", "public key")
    .option("-x, --signature <file>", "signature file (default: FILE.minisig)")
    .argument("<file>", "file to verify")
    .action(async (file: string, opts: { publicKey: string; signature?: string }) => {
      const { verifyFile } = await import("./commands/sign.ts");
      const comment = await verifyFile({ ...opts, file });
      process.stdout.write(`signature and comment verified\ntrusted comment: ${comment}\n`);
    });

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
          await import("./kernel/check.ts");
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

  const cache = program
    .command("cache")
    .description("show or prune the build cache ($PODBOOT_CACHE, else $XDG_CACHE_HOME/podboot)");
  cache
    .command("ls")
    .description("list what the cache holds, by area, with sizes")
    .option("--cache <dir>", "cache directory")
    .action(async (opts: { cache?: string }) => {
      const { cacheAreas, formatAreas } = await import("./commands/cache.ts");
      const { defaultCacheDir } = await import("./cache/store.ts");
      const root = opts.cache ?? defaultCacheDir();
      process.stdout.write(formatAreas(root, await cacheAreas(root)));
    });
  cache
    .command("prune")
    .description("remove step outputs not used for some days (or everything with --all)")
    .option("--older-than <days>", "remove entries unused for this many days", "30")
    .option("--all", "remove the whole cache")
    .option("--cache <dir>", "cache directory")
    .action(async (opts: { olderThan: string; all?: boolean; cache?: string }) => {
      const { pruneCache } = await import("./commands/cache.ts");
      const { defaultCacheDir } = await import("./cache/store.ts");
      const root = opts.cache ?? defaultCacheDir();
      const days = Number(opts.olderThan);
      if (!Number.isFinite(days) || days < 0) {
        throw new PodbootError(
          `--older-than takes a number of days, got ${opts.olderThan}`,
          "pass e.g. --older-than 30",
        );
      }
      const { removed, bytes } = await pruneCache(root, {
        olderThanDays: days,
        all: opts.all ?? false,
      });
      process.stdout.write(
        `removed ${removed} entries (${(bytes / 1e6).toFixed(1)} MB) from ${root}\n`,
      );
    });

  program
    .command("check-host")
    .description("check (and as root on Debian, install) the host tools podboot needs")
    .option("--no-install", "only report what is missing")
    .option("-q, --quiet", "print nothing when all is present")
    .action(async (opts: { install: boolean; quiet?: boolean }) => {
      const { preflight } = await import("./host/preflight.ts");
      const result = await preflight(["build", "boot", "test"], {
        install: opts.install,
        say: (line) => process.stderr.write(`podboot: ${line}\n`),
      });
      if (!opts.quiet)
        process.stdout.write(
          result.installed.length > 0
            ? `installed: ${result.installed.join(" ")}\n`
            : "host tools: all present\n",
        );
    });

  await program.parseAsync(argv);
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

function buildOptions(recipe: string, opts: SharedBuildFlags) {
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

function parsePositive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new PodbootError(
      `${flag} takes a positive whole number, got ${value}`,
      `pass e.g. ${flag} 512`,
    );
  }
  return n;
}

main(process.argv).catch((thrown: unknown) => {
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
  process.exit(1);
});
