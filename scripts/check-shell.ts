// shellcheck over the scripts that run in the image (rootfs-overlay/) and around it (iso/, .ci/),
// in `npm run lint`. The image's shell is busybox sh, so they are checked as POSIX sh; the files
// sourced by rc.boot have no #! line and are checked as sh too.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";

const root = path.resolve(import.meta.dirname, "..");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return files(full);
    return entry.isFile() ? [full] : [];
  });
}

/** A shell script: a #! line naming sh, or a file rc.boot sources ("# Sourced by …"). */
function isShell(file: string): boolean {
  if (statSync(file).size === 0) return false;
  const first = readFileSync(file, "utf8").split("\n")[0] ?? "";
  return /^#!.*\b(sh|bash)\b/.test(first) || /^# Sourced by/.test(first);
}

const scripts = ["rootfs-overlay", "iso", ".ci"]
  .flatMap((dir) => files(path.join(root, dir)))
  .filter(isShell)
  .map((file) => path.relative(root, file));
const result = await execa(
  "shellcheck",
  [
    "--shell=sh",
    "--external-sources",
    "--source-path=SCRIPTDIR",
    "--format=gcc",
    ...scripts.filter((f) => !f.startsWith(".ci")),
  ],
  {
    cwd: root,
    reject: false,
  },
);
const bash = await execa(
  "shellcheck",
  ["--format=gcc", ...scripts.filter((f) => f.startsWith(".ci"))],
  {
    cwd: root,
    reject: false,
  },
);
const found = [result.stdout, bash.stdout].filter(Boolean).join("\n");
if (result.exitCode !== 0 || bash.exitCode !== 0) {
  process.stderr.write(`${found}\nshellcheck: the scripts above need fixing\n`);
  process.exit(1);
}
process.stdout.write(`shellcheck: ${scripts.length} scripts ok\n`);
