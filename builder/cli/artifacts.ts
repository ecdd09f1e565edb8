// `podboot size` and `podboot diff`: what fills a build's ISO, and why two builds differ.
import path from "node:path";
import { Command } from "commander";
import { PodbootError } from "../errors.ts";

export function registerArtifactCommands(program: Command): void {
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
      const { runSize } = await import("../commands/size.ts");
      const { defaultCacheDir } = await import("../cache/store.ts");
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
      const { diffArtifacts } = await import("../commands/diff.ts");
      const lines = await diffArtifacts(path.resolve(a), path.resolve(b));
      if (lines.length === 0) {
        process.stdout.write(`${a} and ${b} are byte-identical\n`);
        return;
      }
      process.stdout.write(lines.join("\n") + "\n");
      process.exitCode = 1;
    });
}
