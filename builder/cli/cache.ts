// `podboot cache ls|prune` and `podboot check-host`: the build cache and the host's tools.
import { Command } from "commander";
import { PodbootError } from "../errors.ts";

export function registerCacheCommands(program: Command): void {
  const cache = program
    .command("cache")
    .description("show or prune the build cache ($PODBOOT_CACHE, else $XDG_CACHE_HOME/podboot)");
  cache
    .command("ls")
    .description("list what the cache holds, by area, with sizes")
    .option("--cache <dir>", "cache directory")
    .action(async (opts: { cache?: string }) => {
      const { cacheAreas, formatAreas } = await import("../commands/cache.ts");
      const { defaultCacheDir } = await import("../cache/store.ts");
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
      const { pruneCache } = await import("../commands/cache.ts");
      const { defaultCacheDir } = await import("../cache/store.ts");
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
        onWait: (holder) =>
          process.stderr.write(
            `podboot: waiting for the cache ${root}: it is in use by ${holder}\n`,
          ),
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
      const { preflight } = await import("../host/preflight.ts");
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
}
