// `podboot machine` with real VMs: init → start → the host's podman drives it through the
// registered connection → buildah and skopeo loaded onto it → a published port followed onto the
// host → stop → a bigger disk → start (what it made is still there, tools loaded again, the disk
// grown) → the clock after a simulated host suspend → rm; two machines at once, each on its own
// port, sharing a host folder (9p on one, virtiofs on the other), one of them trusting a CA and
// pulling from Debian's docker-registry (TLS) through the host's proxy, a rootless container's
// port followed onto the host, and the ACPI power button alone powering one off; a second start
// of a running machine refused. The test run's TMPDIR may be deep: the machines' sockets must not
// live under it.
import { execa } from "execa";
import { chown, mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { qmp } from "../../builder/vm/qmp.ts";
import { defaultCacheDir } from "../../builder/cache/store.ts";
import { FIRST_BUILD_LIMIT, buildIso, iso, paced, projectDir } from "./build.ts";
import { makeCa, REGISTRY_HOST, startRegistry } from "./registry.ts";

/** A host key no machine has. */
const OLD_HOST_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJx6bOtZf0zfEP8zrgVYxRaRxDbt4ZbjvmK4vjzaXAQx";

interface Inspected {
  iso: string;
  sshPort: number;
  state: "running" | "stopped";
  paths: { qmpSocket: string };
}

const work = await mkdtemp(path.join(os.tmpdir(), "podboot-machines-"));
// The host podman's connections go to a file of the test's own, never to the host's config.
const containersConf = path.join(work, "containers.conf");
await writeFile(containersConf, "");
const env = {
  ...process.env,
  XDG_DATA_HOME: path.join(work, "data"),
  XDG_CONFIG_HOME: path.join(work, "config"),
  HOME: work,
  CONTAINERS_CONF: containersConf,
  // The run's build cache, which HOME no longer leads to: `init --recipe` builds from it.
  PODBOOT_CACHE: defaultCacheDir(),
};
const podbootWith = (extra: Record<string, string>, ...args: string[]) =>
  execa("node", [path.join(projectDir, "bin/podboot.js"), "machine", ...args], {
    env: { ...env, ...extra },
    reject: false,
    all: true,
  });
const podboot = (...args: string[]) => podbootWith({}, ...args);
const inspect = async (name: string) =>
  JSON.parse((await podboot("inspect", name)).stdout) as Inspected;
const podman = (...args: string[]) =>
  execa("podman", args, { env, reject: false, all: true, timeout: paced(300_000) });

beforeAll(async () => {
  await buildIso();
}, FIRST_BUILD_LIMIT);

afterAll(async () => {
  for (const name of ["one", "two", "three"]) await podboot("rm", "--force", name);
});

it(
  "init, start, the host's podman through the connection, stop, start again with its data, rm",
  async () => {
    const init = await podboot("init", "one", "--iso", iso, "--memory", "768", "--disk-size", "4");
    expect(init.exitCode, init.all).toBe(0);
    // An old machine's host key for the same port: the start replaces it, so podman's remote
    // client, which checks ~/.ssh/known_hosts, does not refuse the new machine.
    const port = (await inspect("one")).sshPort;
    const knownHosts = path.join(work, ".ssh", "known_hosts");
    await mkdir(path.dirname(knownHosts), { recursive: true, mode: 0o700 });
    await writeFile(
      knownHosts,
      `[127.0.0.1]:${port} ${OLD_HOST_KEY}\nexample.org ${OLD_HOST_KEY}\n`,
    );
    const start = await podboot("start", "one");
    expect(start.exitCode, start.all).toBe(0);
    expect(start.stdout).toMatch(
      /machine one is ready \(podman answered over SSH after [\d.]+ s\)/,
    );
    const again = await podboot("start", "one");
    expect(again.exitCode).toBe(2);
    expect(again.all).toMatch(/machine one is already running/);

    const run = await podman(
      "--connection",
      "podboot-one",
      "run",
      "--name",
      "kept",
      "localhost/podboot-hello",
    );
    expect(run.exitCode, run.all).toBe(0);
    expect(run.stdout).toContain("Hello from podboot");
    expect(run.all).not.toMatch(/known_hosts|mismatch/);
    const pinned = await readFile(knownHosts, "utf8");
    expect(pinned).not.toContain(`[127.0.0.1]:${port} ${OLD_HOST_KEY}`);
    expect(pinned).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${port} ssh-ed25519 `, "m"));
    const listed = await podboot("ls", "--format", "json");
    expect(JSON.parse(listed.stdout)[0]).toMatchObject({
      name: "one",
      state: "running",
      memoryMiB: 768,
    });
    const shell = await podboot("ssh", "one", "--", "cat /run/podboot/persistence /proc/cmdline");
    expect(shell.stdout).toMatch(/^on \/dev\/vda1 \(podboot-data/);
    // Booted directly, with the ISO's default entry's command line and without its menu.
    expect(shell.stdout).toMatch(/^console=tty0 console=ttyS0,115200 loglevel=4$/m);
    expect((await podboot("logs", "one")).stdout).not.toMatch(/GNU GRUB/);
    await toolsLoaded();
    await publishedPortsFollow();

    const stop = await podboot("stop", "one");
    expect(stop.stdout).toMatch(/machine one stopped \(powered off\)/);
    // A bigger disk while it is stopped: the partition and ext4 grow at the next boot.
    expect((await podboot("set", "one", "--disk-size", "6")).exitCode).toBe(0);
    expect((await podboot("start", "one")).exitCode).toBe(0);
    const size = await podboot("ssh", "one", "--", "df -m /mnt/data | awk 'NR == 2 { print $2 }'");
    expect(Number(size.stdout.trim()), size.all).toBeGreaterThan(5500);
    const kept = await podman(
      "--connection",
      "podboot-one",
      "ps",
      "--all",
      "--format",
      "{{.Names}}",
    );
    expect(kept.stdout.split("\n")).toContain("kept");
    // The boot loaded tools again from the data disk.
    const buildah = await podboot("ssh", "one", "--", "buildah --version");
    expect(buildah.stdout, buildah.all).toMatch(/^buildah version/);
    expect((await podboot("logs", "one")).stdout).toMatch(/podboot: ready/);

    // The host "sleeps" a minute (the VM paused): within 10 s of waking the guest's clock is back
    // within 2 s of the host's.
    const qmpSocket = (await inspect("one")).paths.qmpSocket;
    await qmp(qmpSocket, "stop");
    await sleep(60_000);
    await qmp(qmpSocket, "cont");
    const woke = Date.now();
    let offset = Infinity;
    while (Date.now() - woke < 10_000 && Math.abs(offset) > 2) {
      const before = Date.now() / 1000;
      const guest = await podboot("ssh", "one", "--", "date +%s");
      const after = Date.now() / 1000;
      const seconds = Number(guest.stdout.trim());
      // The guest read its clock somewhere between the two host readings.
      offset = seconds < before - 1 ? seconds - before + 1 : seconds > after ? seconds - after : 0;
    }
    expect(Math.abs(offset)).toBeLessThanOrEqual(2);
    expect(Date.now() - woke).toBeLessThan(12_000);

    expect((await podboot("rm", "one")).exitCode).toBe(2); // still running
    const rm = await podboot("rm", "--force", "one");
    expect(rm.stdout).toMatch(/machine one removed/);
    const connections = await podman("system", "connection", "list", "--format", "{{.Name}}");
    expect(connections.stdout).not.toContain("podboot-one");
    expect(await readFile(knownHosts, "utf8")).toBe(`example.org ${OLD_HOST_KEY}\n`);
  },
  paced(20 * 60_000),
);

/**
 * buildah and skopeo, kept out of the ISO, put on machine one's data disk and loaded; another
 * build's image refused and not left there.
 */
async function toolsLoaded() {
  const other = path.join(work, "other-tools.sqfs");
  await writeFile(other, "another build's image\n");
  const refused = await podboot("load", "tools", "one", "--file", other);
  expect(refused.exitCode, refused.all).toBe(1);
  expect(refused.all).toMatch(/tools was not loaded in machine one: .*is not this build's tools/);
  const left = await podboot("ssh", "one", "--", "ls -A /var/lib/podboot/extensions");
  expect(left.stdout.trim()).toBe("");
  const loaded = await podboot("load", "tools", "one");
  expect(loaded.exitCode, loaded.all).toBe(0);
  expect(loaded.stdout).toMatch(/tools loaded in machine one \(kept on its data disk/);
  const again = await podboot("load", "tools", "one");
  expect(again.stdout).toMatch(/tools is loaded in machine one already/);
  const skopeo = await podboot("ssh", "one", "--", "skopeo --version");
  expect(skopeo.stdout, skopeo.all).toMatch(/^skopeo version/);
}

/** A free TCP port on the host's loopback (the kernel's choice). */
function freeHostPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms: number) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(500);
  }
}

const fetchText = (port: number) =>
  fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) }).then(
    (r) => r.text(),
    () => undefined,
  );

/**
 * `-p PORT:80` in the machine is served on the host's 127.0.0.1:PORT with no forward added by
 * hand, and gone once the container is; a port taken on the host is shown as taken.
 */
async function publishedPortsFollow() {
  const port = await freeHostPort();
  const serve = (name: string, hostPort: number) =>
    podman(
      ...["--connection", "podboot-one", "run", "-d", "--name", name, "-p", `${hostPort}:80`],
      "localhost/podboot-hello",
      ...["/bin/busybox", "sh", "-c"],
      "echo served-from-the-machine > /tmp/index.html && exec /bin/busybox httpd -f -p 80 -h /tmp",
    );
  const web = await serve("web", port);
  expect(web.exitCode, web.all).toBe(0);
  const body = await until(`127.0.0.1:${port}`, () => fetchText(port), paced(60_000));
  expect(body.trim()).toBe("served-from-the-machine");
  const listed = await podboot("ls");
  expect(listed.stdout).toContain(`${port}/tcp`);

  const blocker = createServer();
  const taken = await new Promise<number>((resolve) =>
    blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as AddressInfo).port)),
  );
  try {
    expect((await serve("blocked", taken)).exitCode).toBe(0);
    await until(
      "the taken port reported",
      async () => ((await podboot("ls")).stdout.includes(`${taken}/tcp(taken)`) ? true : undefined),
      paced(60_000),
    );
  } finally {
    blocker.close();
  }
  const removed = await podman("--connection", "podboot-one", "rm", "--force", "web", "blocked");
  expect(removed.exitCode, removed.all).toBe(0);
  // QEMU no longer listens on it: the port is free on the host again.
  await until("the forward removed", () => listenable(port), paced(60_000));
  expect((await podboot("ls")).stdout).not.toContain(`${port}/tcp`);
}

function listenable(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

it(
  "two machines at once, each on its own SSH port, sharing host folders over 9p and virtiofs; one trusts a CA and pulls through the host's proxy",
  async () => {
    const ca = await makeCa(work);
    const registry = await startRegistry(work, ca);
    try {
      const folders = { two: path.join(work, "over-9p"), three: path.join(work, "over-virtiofs") };
      for (const dir of Object.values(folders)) {
        await mkdir(dir);
        await writeFile(path.join(dir, "from-host.txt"), "written on the host\n");
        // A folder of the host user the guest's podboot (uid 1000) stands for: rootless
        // containers, whose root is podboot, write there.
        await mkdir(path.join(dir, "rootless"));
        await chown(path.join(dir, "rootless"), 1000, 1000);
      }
      const made = await Promise.all([
        // two builds an image of its own from the default recipe (a warm cache: all cached).
        podboot(
          ...["init", "two", "--recipe", path.join(projectDir, "recipes", "podboot.yaml")],
          ...["--memory", "512", "--disk-size", "2"],
          ...["--volume", `${folders.two}:/srv/shared`, "--mount-type", "9p"],
        ),
        podboot(
          ...["init", "three", "--iso", iso, "--memory", "512", "--disk-size", "2"],
          ...["--volume", `${folders.three}:/srv/shared`, "--mount-type", "virtiofs"],
          ...["--ca-cert", ca.caCert],
        ),
      ]);
      for (const init of made) expect(init.exitCode, init.all).toBe(0);
      expect((await inspect("two")).iso).toMatch(/\/machines\/two\/image\/podboot\.iso$/);
      const behindProxy = { HTTPS_PROXY: `http://127.0.0.1:${registry.proxyPort}` };
      const [a, b] = await Promise.all([
        podbootWith(behindProxy, "start", "two"),
        podbootWith(behindProxy, "start", "three"),
      ]);
      expect(a.exitCode, a.all).toBe(0);
      expect(b.exitCode, b.all).toBe(0);
      const states = (
        JSON.parse((await podboot("ls", "--format", "json")).stdout) as {
          name: string;
          state: string;
          sshPort: number;
        }[]
      ).filter((s) => s.name !== "one");
      expect(states.map((s) => s.state)).toEqual(["running", "running"]);
      expect(new Set(states.map((s) => s.sshPort)).size).toBe(2);
      for (const name of ["two", "three"] as const) {
        const hello = await podman(
          ...["--connection", `podboot-${name}`, "run", "--rm", "localhost/podboot-hello"],
        );
        expect(hello.stdout).toContain("Hello from podboot");
        // The host folder, shared (9p on two, virtiofs on three), mounted into a container: the
        // host's file read, and the container's file on the host, owned by root.
        const shared = await podman(
          ...["--connection", `podboot-${name}`, "run", "--rm", "-v", "/srv/shared:/x"],
          ...["localhost/podboot-hello", "/bin/busybox", "sh", "-c"],
          "busybox cat /x/from-host.txt && echo made-in-the-container > /x/from-container.txt",
        );
        expect(shared.exitCode, shared.all).toBe(0);
        expect(shared.stdout).toContain("written on the host");
        const back = path.join(folders[name], "from-container.txt");
        expect(await readFile(back, "utf8")).toBe("made-in-the-container\n");
        expect((await stat(back)).uid).toBe(0);
        // A rootless container reads the host's file and writes into podboot's folder; the file
        // is the host user's, with the mode the container gave it. The root-owned folder is
        // read-only to it.
        const rootless = await podboot(
          ...["ssh", name, "--", "su - podboot -c"],
          `'podman run --rm -v /srv/shared:/x localhost/podboot-hello /bin/busybox sh -c "cat /x/from-host.txt && echo by-rootless > /x/rootless/by-rootless.txt && chmod 640 /x/rootless/by-rootless.txt && touch /x/denied.txt || echo denied"'`,
        );
        expect(rootless.exitCode, rootless.all).toBe(0);
        expect(rootless.stdout).toContain("written on the host");
        expect(rootless.stdout).toContain("denied");
        const mine = path.join(folders[name], "rootless", "by-rootless.txt");
        expect(await readFile(mine, "utf8")).toBe("by-rootless\n");
        const mode = await stat(mine);
        expect([mode.uid, mode.gid, mode.mode & 0o777]).toEqual([1000, 1000, 0o640]);
      }

      // Through the host's proxy (on its loopback, 10.0.2.2 from the guest), from a registry
      // whose certificate only the given CA vouches for.
      const image = `${REGISTRY_HOST}/hello:1`;
      const pulled = await podman("--connection", "podboot-three", "pull", image);
      expect(pulled.exitCode, pulled.all).toBe(0);
      expect(registry.connects).toContain(`${REGISTRY_HOST}:443`);
      const listed = await podman(
        "--connection",
        "podboot-three",
        "images",
        "--format",
        "{{.Repository}}",
      );
      expect(listed.stdout).toContain(`${REGISTRY_HOST}/hello`);
      // The machine without the CA, behind the same proxy, does not trust that registry.
      const untrusted = await podman("--connection", "podboot-two", "pull", image);
      expect(untrusted.exitCode).not.toBe(0);
      expect(untrusted.all).toMatch(/certificate|x509/);

      // A rootless container's published port is followed onto the host too.
      const port = await freeHostPort();
      const rootless = await podboot(
        ...["ssh", "two", "--", "su - podboot -c"],
        `'podman run -d -p ${port}:80 localhost/podboot-hello /bin/busybox sh -c "echo rootless > /tmp/index.html && exec /bin/busybox httpd -f -p 80 -h /tmp"'`,
      );
      expect(rootless.exitCode, rootless.all).toBe(0);
      const body = await until(`127.0.0.1:${port}`, () => fetchText(port), paced(60_000));
      expect(body.trim()).toBe("rootless");

      // The ACPI power button alone powers a machine off (the guest's acpid runs poweroff).
      await qmp((await inspect("three")).paths.qmpSocket, "system_powerdown");
      await until(
        "machine three powered off by its ACPI button",
        async () => ((await inspect("three")).state === "stopped" ? true : undefined),
        paced(60_000),
      );
    } finally {
      registry.close();
    }
  },
  paced(20 * 60_000),
);
