// The one error type podboot raises on purpose. It carries a cause and a fix so the CLI can print
// a single line, and an exit code: 1 for a failed build or test, 2 for bad input or a host problem.

export type ExitCode = 1 | 2;

export class PodbootError extends Error {
  readonly fix: string;
  readonly exitCode: ExitCode;
  readonly detail: string | undefined;

  constructor(
    message: string,
    fix: string,
    options: { exitCode?: ExitCode; detail?: string } = {},
  ) {
    super(message);
    this.name = "PodbootError";
    this.fix = fix;
    this.exitCode = options.exitCode ?? 2;
    this.detail = options.detail;
  }

  /** The one line a user sees: what went wrong, then what to do. */
  oneLine(): string {
    return `podboot: ${this.message} — ${this.fix}`;
  }
}

export function isPodbootError(error: unknown): error is PodbootError {
  return error instanceof PodbootError;
}

/** Turns the operating-system errors a user can fix (full disk, permissions) into PodbootErrors. */
export function fromSystemError(error: unknown, file?: string): PodbootError | undefined {
  const { code, path: errorPath } = (error ?? {}) as { code?: string; path?: string };
  const path = errorPath ?? file;
  const where = path ? ` writing ${path}` : "";
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new PodbootError(
      `no space left on device${where}`,
      "free some space there, or pass --out / --cache on a larger filesystem",
      { exitCode: 1 },
    );
  }
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new PodbootError(
      `permission denied${path ? ` on ${path}` : ""} (${code})`,
      "run as root, or pass --out / --cache in a directory you can write",
    );
  }
  return undefined;
}
