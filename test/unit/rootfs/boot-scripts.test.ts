// The boot scripts' decisions, run on the host by plain sh with the command line and the disk
// tree injected (PODBOOT_CMDLINE, PODBOOT_SYS, PODBOOT_DEV): which boot codes apply, which disk
// holds the data. The e2e tests then prove the same scripts in a booted VM.
import { execa } from "execa";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const scripts = path.resolve(import.meta.dirname, "../../../rootfs-overlay/usr/lib/podboot");

async function shell(script: string, env: Record<string, string>) {
  return execa("sh", ["-c", script], { env, reject: false, extendEnv: true });
}

describe("bootcodes", () => {
  async function codes(cmdline: string) {
    const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-cmdline-"));
    await writeFile(path.join(dir, "cmdline"), `${cmdline}\n`);
    const show =
      'printf "%s|%s|%s|%s|%s|%s|%s" "$DATA_LABEL" "$NOPERSIST" "$NOAUTOFORMAT" "$WAITDISK" "$NOAPI" "$ENABLE" "$BOOT_SSHKEYS"';
    const result = await shell(`. ${scripts}/bootcodes; ${show}`, {
      PODBOOT_CMDLINE: path.join(dir, "cmdline"),
    });
    return { values: result.stdout.split("\n").at(-1)!.split("|"), output: result.stdout };
  }

  it("has the defaults on a plain command line", async () => {
    expect((await codes("console=ttyS0 loglevel=4")).values).toEqual([
      "podboot-data",
      "",
      "",
      "",
      "",
      "",
      "",
    ]);
  });

  it("reads each code it knows", async () => {
    const { values } = await codes(
      "podboot.data=work podboot.nopersist podboot.noautoformat podboot.waitdisk=10 podboot.noapi podboot.enable=docker podboot.sshkey=ssh-ed25519,AAAAC3x,me@host",
    );
    expect(values.slice(0, 6)).toEqual(["work", "1", "1", "10", "1", " docker"]);
    expect(values[6]).toBe("ssh-ed25519 AAAAC3x me@host\n".trimEnd());
  });

  it("ignores a malformed or unknown code with a warning naming it, and goes on", async () => {
    const { values, output } = await codes(
      "podboot.data=bad/label podboot.waitdisk=61 podboot.enable=dockr podboot.colour=blue podboot.noapi",
    );
    expect(values.slice(0, 5)).toEqual(["podboot-data", "", "", "", "1"]);
    expect(output).toContain("boot code 'podboot.data=bad/label' ignored");
    expect(output).toContain("boot code 'podboot.waitdisk=61' ignored: at most 60 seconds");
    expect(output).toContain("unknown service 'dockr'");
    expect(output).toContain("boot code 'podboot.colour=blue' ignored: unknown podboot boot code");
  });
});

describe("persist: which disk holds the data", () => {
  const MAGIC = "podboot, please format-me";

  /** A fake /sys/class/block and /dev: each disk an image file. */
  async function disks(
    layout: Record<string, "data" | "other" | "marked" | "blank" | "partition">,
  ) {
    const root = await mkdtemp(path.join(os.tmpdir(), "podboot-disks-"));
    const sys = path.join(root, "sys");
    const dev = path.join(root, "dev");
    await mkdir(dev, { recursive: true });
    for (const [name, kind] of Object.entries(layout)) {
      await mkdir(path.join(sys, "class/block", name), { recursive: true });
      const image = path.join(dev, name);
      if (kind === "partition")
        await writeFile(path.join(sys, "class/block", name, "partition"), "1\n");
      if (kind === "marked" || kind === "partition") {
        await writeFile(image, Buffer.concat([Buffer.from(MAGIC), Buffer.alloc(4096)]));
      } else if (kind === "blank") {
        await writeFile(image, Buffer.alloc(65536));
      } else {
        await writeFile(image, Buffer.alloc(4 * 1024 * 1024));
        await execa("mkfs.ext4", [
          "-q",
          "-F",
          "-L",
          kind === "data" ? "podboot-data" : "scratch",
          image,
        ]);
      }
    }
    return { PODBOOT_SYS: sys, PODBOOT_DEV: dev };
  }

  /** data_disk_choice after the boot codes, as rc.boot runs them, with `before` set first. */
  async function choice(env: Record<string, string>, before = "") {
    const script = `PODBOOT_CMDLINE=/dev/null; . ${scripts}/bootcodes; ${before}. ${scripts}/persist; data_disk_choice`;
    const result = await shell(script, env);
    expect(result.stderr).toBe("");
    return result.stdout.trim().replaceAll(env.PODBOOT_DEV!, "/dev");
  }

  it("uses the one disk labelled podboot-data, whatever else is attached", async () => {
    expect(await choice(await disks({ vda: "other", vdb: "data", vdc: "blank" }))).toBe(
      "use /dev/vdb",
    );
  });

  it("uses none when two disks carry the label (it will not guess)", async () => {
    expect(await choice(await disks({ vda: "data", vdb: "data" }))).toBe(
      "several /dev/vda /dev/vdb",
    );
  });

  it("formats a whole disk marked 'podboot, please format-me', unless podboot.noautoformat", async () => {
    const env = await disks({ vda: "blank", vdb: "marked" });
    expect(await choice(env)).toBe("format /dev/vdb");
    expect(await choice(env, "NOAUTOFORMAT=1; ")).toBe("refuse-format /dev/vdb");
  });

  it("never formats a partition, a CD-ROM or a loop device, nor reads their labels", async () => {
    expect(await choice(await disks({ vda1: "partition", sr0: "data", loop0: "marked" }))).toBe(
      "none",
    );
  });

  it("looks for the label podboot.data= names", async () => {
    const env = await disks({ vda: "data", vdb: "other" });
    expect(await choice(env, "DATA_LABEL=scratch; ")).toBe("use /dev/vdb");
  });
});

describe("clock: a VM follows the host's clock (the RTC) after a pause", () => {
  /** A fake /proc/cpuinfo and RTC; `date` stays the host's own (it is read, never set). */
  async function machine(flags: string, rtcOffset: number | undefined) {
    const root = await mkdtemp(path.join(os.tmpdir(), "podboot-clock-"));
    await writeFile(path.join(root, "cpuinfo"), `processor\t: 0\nflags\t\t: fpu ${flags} sse\n`);
    if (rtcOffset !== undefined) {
      await mkdir(path.join(root, "class/rtc/rtc0"), { recursive: true });
      const rtc = Math.floor(Date.now() / 1000) + rtcOffset;
      await writeFile(path.join(root, "class/rtc/rtc0/since_epoch"), `${rtc}\n`);
    }
    return { PODBOOT_SYS: root, PODBOOT_PROC: root };
  }
  // One turn of the loop: sleep succeeds once, then ends it; stepping and logging are recorded.
  const oneTurn =
    'n=0; sleep() { n=$((n + 1)); [ "$n" -le 1 ]; }; clock_step() { echo "step to $1"; }; logger() { echo "log: $*"; }; clock_follow';

  it("runs only under a hypervisor", async () => {
    const inVm = await shell(`. ${scripts}/clock; in_vm`, await machine("hypervisor", 0));
    expect(inVm.exitCode).toBe(0);
    const bare = await shell(`. ${scripts}/clock; in_vm`, await machine("vmx", 0));
    expect(bare.exitCode).toBe(1);
  });

  it("steps the clock to the RTC when it lags 2 s or more, and says so in the log", async () => {
    const behind = await shell(`. ${scripts}/clock; ${oneTurn}`, await machine("hypervisor", 60));
    expect(behind.stdout).toMatch(/^step to \d+\nlog: -t podboot clock stepped by (59|60|61) s/);
    const ahead = await shell(`. ${scripts}/clock; ${oneTurn}`, await machine("hypervisor", -30));
    expect(ahead.stdout).toMatch(/clock stepped by -(29|30|31) s/);
  });

  it("leaves a clock within a second of the RTC alone, and stops without an RTC", async () => {
    const close = await shell(`. ${scripts}/clock; ${oneTurn}`, await machine("hypervisor", 0));
    expect(close.stdout).toBe("");
    const none = await shell(
      `. ${scripts}/clock; ${oneTurn}; echo ended`,
      await machine("hypervisor", undefined),
    );
    expect(none.stdout).toBe("ended");
  });
});

describe("podboot-load: what it refuses before mounting anything", () => {
  const good = "x".repeat(20);
  const roots: string[] = [];
  afterEach(async () => {
    for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
  });
  async function system() {
    const root = await mkdtemp(path.join(os.tmpdir(), "podboot-load-"));
    roots.push(root);
    await mkdir(path.join(root, "run/podboot"), { recursive: true });
    await mkdir(path.join(root, "var/lib/podboot/extensions"), { recursive: true });
    const sha = createHash("sha256").update(good).digest("hex");
    await writeFile(
      path.join(root, "run/podboot/extensions.order"),
      `base ${"a".repeat(64)} required\npodman ${"b".repeat(64)} optional\ntools ${sha} loadable\n`,
    );
    await writeFile(path.join(root, "run/podboot/extensions"), " base podman overlay\n");
    return root;
  }
  const load = async (root: string, ...args: string[]) =>
    shell(`sh ${scripts}/load ${args.join(" ")}`, { PODBOOT_ROOT: root });

  it("names the loadable extensions when asked for another, or for one of the image's", async () => {
    const root = await system();
    const unknown = await load(root, "nope");
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toBe(
      "podboot-load: unknown extension 'nope' — the loadable ones are: tools",
    );
    const builtIn = await load(root, "podman");
    expect(builtIn.exitCode).toBe(2);
    expect(builtIn.stderr).toMatch(/podman is not loadable: it is part of the image/);
    expect((await load(root, "'../x'")).exitCode).toBe(2);
  });

  it("says where to put a missing image, and refuses one of another build, leaving nothing", async () => {
    const root = await system();
    const missing = await load(root, "tools");
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(
      /var\/lib\/podboot\/extensions\/tools\.sqfs is not there — copy out\/extensions\/tools\.sqfs/,
    );
    const other = path.join(root, "other.sqfs");
    await writeFile(other, "not the same bytes");
    const refused = await load(root, "tools", other);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/is not this build's tools: its sha256 is not the one/);
    expect(await readdir(path.join(root, "run/podboot/loaded"))).toEqual([]);
    const list = await load(root, "--list");
    expect(list.stdout).toMatch(/^tools {2}not here \(copy out\/extensions\/tools\.sqfs/);
  });
});
