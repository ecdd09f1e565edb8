// `podboot check-host`: finds every host tool a command needs. As root on Debian it installs the
// missing packages; otherwise it prints the exact apt-get line and fails with exit code 2.
import { access, constants } from "node:fs/promises";
import path from "node:path";
import { run } from "../tools/run.ts";
import { PodbootError } from "../errors.ts";

export type Purpose = "build" | "boot" | "test";

export interface HostRequirement {
  /** A program on PATH, or an absolute file path. */
  need: string;
  debianPackage: string;
  purposes: Purpose[];
}

export const HOST_REQUIREMENTS: HostRequirement[] = [
  { need: "apt-get", debianPackage: "apt", purposes: ["build", "test"] },
  { need: "dpkg-deb", debianPackage: "dpkg", purposes: ["build", "test"] },
  {
    need: "/usr/share/keyrings/debian-archive-keyring.gpg",
    debianPackage: "debian-archive-keyring",
    purposes: ["build", "test"],
  },
  { need: "mksquashfs", debianPackage: "squashfs-tools", purposes: ["build", "test"] },
  // podboot size and --format sysext read extensions back
  { need: "unsquashfs", debianPackage: "squashfs-tools", purposes: ["build", "test"] },
  { need: "xorriso", debianPackage: "xorriso", purposes: ["build", "test"] },
  { need: "grub-mkrescue", debianPackage: "grub-common", purposes: ["build", "test"] },
  {
    need: "/usr/lib/grub/i386-pc/boot.img",
    debianPackage: "grub-pc-bin",
    purposes: ["build", "test"],
  },
  {
    need: "/usr/lib/grub/x86_64-efi/linux.mod",
    debianPackage: "grub-efi-amd64-bin",
    purposes: ["build", "test"],
  },
  { need: "mformat", debianPackage: "mtools", purposes: ["build", "test"] },
  { need: "zstd", debianPackage: "zstd", purposes: ["build", "test"] },
  { need: "xz", debianPackage: "xz-utils", purposes: ["build", "test"] },
  // build containers: a Debian root made by mmdebstrap, run by runc; git for `git` sources
  { need: "mmdebstrap", debianPackage: "mmdebstrap", purposes: ["build", "test"] },
  { need: "runc", debianPackage: "runc", purposes: ["build", "test"] },
  { need: "git", debianPackage: "git", purposes: ["build", "test"] },
  // the e2e tests log in over SSH and make seeded data disks
  { need: "ssh", debianPackage: "openssh-client", purposes: ["test"] },
  { need: "ssh-keygen", debianPackage: "openssh-client", purposes: ["test"] },
  { need: "debugfs", debianPackage: "e2fsprogs", purposes: ["test"] },
  // the machine test makes a CA and a registry certificate signed by it
  { need: "openssl", debianPackage: "openssl", purposes: ["test"] },
  // ... and pulls through a proxy from Debian's registry, run by the test on a port of its own
  // (Debian enables the package's own service where systemd runs; the tests do not use it)
  { need: "docker-registry", debianPackage: "docker-registry", purposes: ["test"] },
  // the e2e tests drive the VM's podman remotely, as a user would (podman --url ssh://…)
  { need: "podman", debianPackage: "podman", purposes: ["test"] },
  // `npm run lint` checks the image's shell scripts
  { need: "shellcheck", debianPackage: "shellcheck", purposes: ["test"] },
  // the cpio writer's test reads archives back with GNU cpio
  { need: "cpio", debianPackage: "cpio", purposes: ["test"] },
  // podboot's signatures are checked against minisign itself, both ways
  { need: "minisign", debianPackage: "minisign", purposes: ["test"] },
  // the sysext test merges the image into a scratch root, as a systemd host would
  { need: "systemd-sysext", debianPackage: "systemd", purposes: ["test"] },
  { need: "qemu-system-x86_64", debianPackage: "qemu-system-x86", purposes: ["boot", "test"] },
  { need: "/usr/share/ovmf/OVMF.fd", debianPackage: "ovmf", purposes: ["boot", "test"] },
];

export async function onPath(program: string): Promise<boolean> {
  const dirs = (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin"]);
  for (const dir of dirs) {
    try {
      await access(path.join(dir, program), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

export async function isPresent(need: string): Promise<boolean> {
  if (need.startsWith("/"))
    return access(need).then(
      () => true,
      () => false,
    );
  return onPath(need);
}

export async function missingPackages(purposes: Purpose[]): Promise<string[]> {
  const missing = new Set<string>();
  for (const req of HOST_REQUIREMENTS) {
    if (!req.purposes.some((p) => purposes.includes(p))) continue;
    if (!(await isPresent(req.need))) missing.add(req.debianPackage);
  }
  return [...missing].sort();
}

export function installCommand(packages: string[]): string {
  return `apt-get install -y --no-install-recommends ${packages.join(" ")}`;
}

export interface PreflightResult {
  installed: string[];
}

/**
 * Makes sure the host has what `purposes` need. `install` is false when the caller only wants a
 * report. Installing needs root and apt; otherwise the error carries the exact command to run.
 */
export async function preflight(
  purposes: Purpose[],
  options: { install: boolean; say: (line: string) => void },
): Promise<PreflightResult> {
  const missing = await missingPackages(purposes);
  if (missing.length === 0) return { installed: [] };
  const command = installCommand(missing);
  const isRoot = process.getuid?.() === 0;
  if (!options.install || !isRoot || !(await onPath("apt-get"))) {
    throw new PodbootError(
      `missing host packages: ${missing.join(", ")}`,
      `run as root: ${command}${isRoot ? "" : " (or run podboot as root and it installs them)"}`,
    );
  }
  options.say(`installing host packages: ${missing.join(" ")}`);
  const env = { ...(process.env as Record<string, string>), DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    run("apt-get", command.split(" ").slice(1), { env }).then(
      () => "",
      (error: PodbootError) => (error.detail ?? error.message).trim().split("\n").at(-1) ?? "",
    );
  let tail = await install();
  if (tail) {
    await run("apt-get", ["update", "-q"], { env }).catch(() => undefined);
    tail = await install();
  }
  const still = await missingPackages(purposes);
  if (tail || still.length > 0) {
    throw new PodbootError(
      `could not install ${still.join(", ") || missing.join(", ")}: ${tail}`,
      `fix apt on this host, then run: ${command}`,
    );
  }
  return { installed: missing };
}
