// runc: runs one command in a generated OCI bundle. Build containers get their own network
// namespace with only loopback (no network while compiling; a fetch step whose downloads are
// verified is the one exception), a read-only root filesystem, sources bound read-only and only
// the work and output directories writable.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { onInterrupt, trackTemp } from "../cleanup.ts";
import type { StepLog } from "../report/events.ts";
import { run } from "./run.ts";

export interface Bind {
  source: string;
  destination: string;
  readonly: boolean;
}

export interface ContainerSpec {
  /** The root filesystem directory (mounted read-only). */
  rootfs: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  binds: Bind[];
  hostname: string;
  /**
   * "none" (the default): its own network namespace with only loopback. "host": the host's
   * network, only for a fetch step whose downloads are checked against pinned hashes.
   */
  network?: "none" | "host";
}

// Docker's default set: enough to build software and run `install -o root`, nothing more.
export const CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
];

/** The bundle's config.json: pure, so it is unit-tested without runc. */
export function ociConfig(spec: ContainerSpec): Record<string, unknown> {
  const tmpfs = (destination: string, options: string[]) => ({
    destination,
    type: "tmpfs",
    source: "tmpfs",
    options: ["nosuid", ...options],
  });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: spec.args,
      env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      cwd: spec.cwd,
      capabilities: Object.fromEntries(
        ["bounding", "effective", "permitted"].map((set) => [set, CAPABILITIES]),
      ),
      noNewPrivileges: true,
    },
    root: { path: spec.rootfs, readonly: true },
    hostname: spec.hostname,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      // /dev holds the device nodes runc creates, so it must not be nodev.
      tmpfs("/dev", ["strictatime", "mode=755", "size=65536k"]),
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
      },
      tmpfs("/dev/shm", ["nodev", "noexec", "mode=1777", "size=65536k"]),
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "ro"] },
      tmpfs("/tmp", ["nodev", "mode=1777"]),
      tmpfs("/run", ["nodev", "mode=755"]),
      ...spec.binds.map((bind) => ({
        destination: bind.destination,
        type: "bind",
        source: bind.source,
        options: ["rbind", bind.readonly ? "ro" : "rw", "nosuid", "nodev"],
      })),
    ],
    linux: {
      namespaces: [
        "pid",
        "ipc",
        "uts",
        "mount",
        ...(spec.network === "host" ? [] : ["network"]),
      ].map((type) => ({ type })),
      maskedPaths: ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
}

/**
 * Runs the container to completion in the foreground; its output goes to the step log. The
 * container is force-deleted when the build is interrupted or the command fails.
 */
export async function runContainer(
  spec: ContainerSpec,
  options: {
    bundleDir: string;
    stateDir: string;
    log: StepLog;
    fix: string;
    onLine?: (line: string) => void;
  },
): Promise<void> {
  const id = `podboot-${path.basename(spec.hostname)}-${randomBytes(4).toString("hex")}`;
  await mkdir(options.bundleDir, { recursive: true });
  await mkdir(options.stateDir, { recursive: true });
  await writeFile(
    path.join(options.bundleDir, "config.json"),
    JSON.stringify(ociConfig(spec), null, 2),
  );
  const runcArgs = (...args: string[]) => ["--root", options.stateDir, ...args];
  const untrackBundle = trackTemp(options.bundleDir);
  const forget = onInterrupt(() =>
    execFileSync("runc", runcArgs("delete", "--force", id), { stdio: "ignore" }),
  );
  try {
    await run("runc", runcArgs("run", "--bundle", options.bundleDir, id), {
      log: options.log,
      fix: options.fix,
      onLine: options.onLine,
    });
  } finally {
    forget();
    await run("runc", runcArgs("delete", "--force", id)).catch(() => undefined);
    await rm(options.bundleDir, { recursive: true, force: true });
    untrackBundle();
  }
}
