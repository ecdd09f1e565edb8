// git, for what podboot asks of a checkout (the last commit's date, the build's SOURCE_DATE_EPOCH)
// and of upstream repositories (fetching a pinned commit into the source pool, steps/sources.ts).
import type { StepLog } from "../report/events.ts";
import { run } from "./run.ts";

/** git must not read the user's or the system's configuration (url rewrites, hooks …). */
export function gitEnv(): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
  };
}

export function git(args: string[], options: { cwd: string; log?: StepLog }): Promise<string> {
  return run("git", args, { ...options, env: gitEnv() });
}

/** The committer date of HEAD in seconds, or undefined outside a git checkout. */
export async function gitCommitTime(dir: string): Promise<number | undefined> {
  const out = await run("git", ["log", "-1", "--format=%ct"], { cwd: dir }).catch(() => "");
  return /^[0-9]+$/.test(out.trim()) ? Number(out.trim()) : undefined;
}
