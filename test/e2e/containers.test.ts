// Containers on the default ISO's from-source kernel. The in-VM kernel probe: what containers need
// is not only configured but works — cgroup v2 controllers handed to containers, memory limits
// with swap accounting (an OOM kill past --memory, swap used up to --memory-swap), overlayfs and
// unprivileged user namespaces. Then rootless podman as user podboot, which stands on those.
// Container-to-container networking over a netavark bridge (veth, bridge, nftables NAT) is
// exercised on the same kernel by network.test.ts.
import { execa } from "execa";
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SerialVm } from "../../builder/vm/console.ts";
import { chooseAccel } from "../../builder/vm/qemu.ts";
import { FIRST_BUILD_LIMIT, buildIso, iso, outPath, paced } from "./build.ts";

const IMAGE = "localhost/podboot-hello";
let vm: SerialVm;

beforeAll(async () => {
  await buildIso();
  // A blank disk to swap on, so that --memory-swap has something to allow.
  const swap = path.join(await mkdtemp(path.join(os.tmpdir(), "podboot-swap-")), "swap.img");
  await execa("truncate", ["-s", "256M", swap]);
  // The loadable tools extension (buildah, skopeo) as a second disk: its bytes are the image.
  vm = SerialVm.start({
    iso,
    memoryMiB: 512,
    firmware: "bios",
    accel: await chooseAccel("auto"),
    disks: [swap, outPath("extensions", "tools.sqfs")],
  });
  await vm.waitForShell();
  const load = await vm.run(
    "cat /dev/vdb > /tmp/tools.sqfs && podboot-load tools /tmp/tools.sqfs && rm /tmp/tools.sqfs",
    180_000,
  );
  if (load.status !== 0) throw new Error(`podboot-load tools failed: ${load.output}`);
}, FIRST_BUILD_LIMIT);

afterAll(() => vm?.kill());

const lastLine = (output: string) => output.trim().split("\n").at(-1)!.trim();

it("boots the kernel podboot compiled, with everything built in", async () => {
  const manifest = JSON.parse(await readFile(outPath("manifest.json"), "utf8"));
  expect(manifest.kernel.origin).toBe("build");
  expect(manifest.kernel.provenance).toMatch(/^compiled from source: linux-source-6\.12 /);
  const uname = await vm.run("uname -r");
  expect(lastLine(uname.output)).toBe(manifest.kernel.release);
  expect(manifest.kernel.release).toMatch(/-podboot$/);
  const modules = await vm.run("test -e /proc/modules && echo modular || echo built-in");
  expect(lastLine(modules.output)).toBe("built-in");
});

it(
  "mounts cgroup2 and hands memory, pids, cpu, cpuset and io to containers",
  async () => {
    const host = await vm.run("grep -c '^cgroup2 /sys/fs/cgroup cgroup2' /proc/mounts");
    expect(lastLine(host.output)).toBe("1");
    const inside = await vm.run(
      `podman run --rm ${IMAGE} sh -c 'cat /sys/fs/cgroup/cgroup.controllers; ls /sys/fs/cgroup/memory.swap.max'`,
      180_000,
    );
    expect(inside.status).toBe(0);
    const controllers = inside.output.split("\n").find((l) => /\bmemory\b/.test(l)) ?? "";
    for (const controller of ["memory", "pids", "cpu", "cpuset", "io"]) {
      expect(controllers.split(/\s+/)).toContain(controller);
    }
    expect(inside.output).toContain("/sys/fs/cgroup/memory.swap.max");
  },
  paced(240_000),
);

it("has overlayfs and lets an unprivileged user make a user namespace", async () => {
  const overlay = await vm.run("grep -cw overlay /proc/filesystems");
  expect(lastLine(overlay.output)).toBe("1");
  const userns = await vm.run("su podboot -c 'unshare --user --map-root-user id -u'");
  expect(lastLine(userns.output)).toBe("0");
  expect(userns.status).toBe(0);
});

it(
  "--init: catatonit (static, compiled) is the container's PID 1 and passes its exit status on",
  async () => {
    const run = await vm.run(
      `podman run --rm --init ${IMAGE} sh -c '/run/podman-init --version; tr "\\0" " " </proc/1/cmdline; echo; exit 7'; echo exit=$?`,
      180_000,
    );
    // podman mounts catatonit into the container as /run/podman-init.
    expect(run.output).toMatch(/version [\d.]+_catatonit/);
    expect(run.output).toMatch(/\/run\/podman-init -- sh -c/);
    expect(lastLine(run.output)).toBe("exit=7");
  },
  paced(240_000),
);

// dd's 64 MiB buffer is touched when /dev/zero is read into it: that is the allocation.
const allocate = (mib: number) => `dd if=/dev/zero of=/dev/null bs=${mib}M count=1`;

it(
  "--memory 32m: a run under the limit succeeds, one past it is OOM-killed",
  async () => {
    const under = await vm.run(
      `podman run --rm --memory 32m --memory-swap 32m ${IMAGE} ${allocate(8)}`,
      180_000,
    );
    expect(under.status).toBe(0);
    const past = await vm.run(
      `podman run --name oom --memory 32m --memory-swap 32m ${IMAGE} ${allocate(64)}; ` +
        "echo exit=$?; podman inspect --format 'oomkilled={{.State.OOMKilled}}' oom; podman rm oom >/dev/null",
      180_000,
    );
    expect(past.output).toMatch(/exit=137/);
    expect(past.output).toMatch(/oomkilled=true/);
  },
  paced(400_000),
);

it(
  "--memory-swap is honoured: with swap allowed the same allocation completes",
  async () => {
    const swapon = await vm.run(
      "mkswap /dev/vda >/dev/null && swapon /dev/vda && grep -c vda /proc/swaps",
    );
    expect(lastLine(swapon.output)).toBe("1");
    const run = await vm.run(
      `podman run --rm --memory 32m --memory-swap 128m ${IMAGE} sh -c 'cat /sys/fs/cgroup/memory.swap.max; ${allocate(64)} && echo allocated'`,
      300_000,
    );
    expect(run.output).toContain(String(96 * 1024 * 1024));
    expect(lastLine(run.output)).toBe("allocated");
    expect(run.status).toBe(0);
  },
  paced(400_000),
);

describe("rootless podman (user podboot)", () => {
  const asPodboot = (command: string) => `su - podboot -c '${command}'`;

  it(
    "has subordinate id ranges, setuid newuidmap and a runtime directory",
    async () => {
      const ids = await vm.run(
        "grep ^podboot: /etc/subuid /etc/subgid; stat -c %A /usr/bin/newuidmap /usr/bin/newgidmap",
      );
      expect(ids.output).toMatch(/subuid:podboot:\d+:\d+/);
      expect(ids.output).toMatch(/subgid:podboot:\d+:\d+/);
      expect(ids.output).toMatch(/^-rwsr-xr-x\n-rwsr-xr-x$/m);
      const info = await vm.run(
        asPodboot(
          'podman info --format "{{.Host.Security.Rootless}} {{.Store.GraphDriverName}} {{.Host.Pasta.Executable}}"',
        ),
        120_000,
      );
      expect(lastLine(info.output)).toBe("true overlay /usr/bin/pasta");
    },
    paced(180_000),
  );

  it(
    "runs the baked-in image rootless without loading it, with pasta networking",
    async () => {
      // The image is in the read-only store made for podboot: nothing was loaded, and the
      // container's root may write into the image's own directories.
      const listed = await vm.run(
        asPodboot('podman images --format "{{.Repository}} {{.ReadOnly}}"'),
      );
      expect(lastLine(listed.output)).toBe("localhost/podboot-hello true");
      const run = await vm.run(
        asPodboot(
          `podman run --rm ${IMAGE} sh -c "echo written > /etc/written && id -u; ip -o -4 addr show scope global | wc -l"`,
        ),
        300_000,
      );
      expect(run.status).toBe(0);
      // root inside, mapped to podboot outside; pasta gives the container a global address
      const [uid, addresses] = run.output.trim().split("\n").slice(-2);
      expect(uid).toBe("0");
      expect(Number(addresses)).toBeGreaterThan(0);
      // outside the container the process belongs to podboot, not root
      const outside = await vm.run(
        asPodboot(`podman run -d ${IMAGE} sleep 30`) + ' >/dev/null; ps | grep "[s]leep 30"',
        180_000,
      );
      expect(outside.output).toMatch(/^\s*\d+\s+podboot\s.*sleep 30/m);
    },
    paced(400_000),
  );
});

describe("buildah and skopeo (loadable), compiled from source with podboot's Go", () => {
  it("ships both as compiled from source with the Go toolchain podboot compiled", async () => {
    const manifest = JSON.parse(await readFile(outPath("manifest.json"), "utf8"));
    const [go] = manifest.toolchains;
    expect(go.name).toBe("go-1.24");
    expect(go.provenance).toMatch(/^compiled from source/);
    for (const name of ["buildah", "skopeo"]) {
      const component = manifest.components.find((c: { name: string }) => c.name === name);
      expect(component.provenance).toMatch(/^compiled from source/);
      expect(component.compiler).toMatch(/^go-1\.24 1\.24\.\d+, compiled by podboot from /);
    }
    const versions = await vm.run("buildah version; skopeo --version");
    expect(versions.output).toMatch(/^Version:\s+1\.39\.\d+$/m);
    // the Go that compiled it is the one podboot built
    expect(versions.output).toMatch(new RegExp(`^Go Version:\\s+go${go.version}$`, "m"));
    expect(versions.output).toMatch(/^skopeo version 1\.18\.\d+/m);
  });

  it(
    "buildah builds a Containerfile FROM the baked-in image, offline",
    async () => {
      const build = await vm.run(
        "mkdir -p /tmp/context && printf '%s\\n' 'FROM localhost/podboot-hello' " +
          "'RUN echo built by buildah > /built' 'CMD [\"cat\", \"/built\"]' > /tmp/context/Containerfile && " +
          "buildah build --quiet --tag localhost/built /tmp/context >/dev/null && podman run --rm localhost/built",
        300_000,
      );
      expect(build.status).toBe(0);
      expect(lastLine(build.output)).toBe("built by buildah");
    },
    paced(400_000),
  );

  it(
    "skopeo copies containers-storage → oci-archive → containers-storage and inspects",
    async () => {
      const copy = await vm.run(
        "skopeo copy --quiet containers-storage:localhost/built:latest oci-archive:/tmp/built.tar && " +
          "skopeo inspect --format '{{len .Layers}} layers' oci-archive:/tmp/built.tar && " +
          "skopeo copy --quiet oci-archive:/tmp/built.tar containers-storage:localhost/copied:latest && " +
          "podman run --rm localhost/copied",
        300_000,
      );
      expect(copy.status).toBe(0);
      expect(copy.output).toMatch(/^2 layers$/m);
      expect(lastLine(copy.output)).toBe("built by buildah");
    },
    paced(400_000),
  );
});
