// `podboot machine` through the real CLI, without booting: every bad input of init refused in one
// line with nothing made, and the stopped machine's commands (ls, inspect, env, set, rm). The
// e2e test (test/e2e/machine.test.ts) boots machines.
import { execa } from "execa";
import { mkdtemp, open, readdir, readFile, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { addConnection, removeConnection } from "../../builder/tools/podman.ts";
import { podboot } from "./recipes.ts";

const work = await mkdtemp(path.join(os.tmpdir(), "podboot-machine-cli-"));
const data = path.join(work, "data");
// The host podman's connections go to a file of the test's own, never to the host's config.
const containersConf = path.join(work, "containers.conf");
const env = {
  XDG_DATA_HOME: data,
  HOME: work,
  XDG_CONFIG_HOME: path.join(work, "config"),
  CONTAINERS_CONF: containersConf,
};
const iso = path.join(work, "fake.iso");
const machines = () => readdir(path.join(data, "podboot", "machines")).catch(() => [] as string[]);

beforeAll(async () => {
  // Enough of an ISO 9660 image for init's check: the volume descriptor's magic.
  const image = Buffer.alloc(0x9000);
  image.write("CD001", 0x8001, "latin1");
  await writeFile(iso, image);
  await writeFile(containersConf, "");
});

describe("podboot machine init refuses bad input, leaving nothing", () => {
  const notAKey = path.join(work, "not-a-key");
  const cases: [string, string[], RegExp][] = [
    ["a name that is no name", ["Bad_Name"], /machine name "Bad_Name" is not one/],
    [
      "an ISO that is not there",
      ["m1", "--iso", path.join(work, "nope.iso")],
      /cannot read the ISO .*nope\.iso/,
    ],
    [
      "a file that is not an ISO",
      ["m1", "--iso", "/etc/hostname"],
      /\/etc\/hostname is not an ISO image/,
    ],
    ["no CPUs", ["m1", "--cpus", "0"], /--cpus takes a positive whole number, got 0/],
    ["more CPUs than the host has", ["m1", "--cpus", "999"], /--cpus 999: this machine has \d+/],
    ["too little memory", ["m1", "--memory", "64"], /--memory 64: give MiB from 128/],
    [
      "a disk of nothing",
      ["m1", "--disk-size", "0"],
      /--disk-size takes a positive whole number, got 0/,
    ],
    [
      "a key that is not a public key",
      ["m1", "--identity", notAKey],
      /not-a-key\.pub is not an SSH public key/,
    ],
    [
      "a key without its .pub",
      ["m1", "--identity", path.join(work, "lonely")],
      /no public key .*lonely\.pub beside it/,
    ],
    [
      "a CA certificate that is none",
      ["m1", "--ca-cert", notAKey],
      /--ca-cert .*not-a-key: no PEM certificate in it/,
    ],
    [
      "a shared folder that is not there",
      ["m1", "--volume", "/nope:/src"],
      /\/nope is not a folder/,
    ],
    ["a shared folder over the system", ["m1", "--volume", `${work}:/etc`], /is the system's own/],
    [
      "an unknown way to share",
      ["m1", "--mount-type", "nfs"],
      /--mount-type nfs: folders are shared with virtiofs or 9p/,
    ],
  ];
  beforeAll(async () => {
    await writeFile(notAKey, "secret");
    await writeFile(`${notAKey}.pub`, "this is not a key\n");
  });
  it.each(cases)("%s", async (_name, args, message) => {
    const result = await podboot(["machine", "init", "--iso", iso, ...args], env);
    expect(result.exitCode, result.all).toBe(2);
    expect(result.all!.trim().split("\n")).toHaveLength(1);
    expect(result.all).toMatch(message);
    expect(await machines()).toEqual([]);
  });
});

describe("a stopped machine", () => {
  beforeAll(async () => {
    const made = await podboot(
      [
        "machine",
        "init",
        "box",
        "--iso",
        iso,
        "--memory",
        "512",
        "--disk-size",
        "2",
        "--no-connection",
      ],
      env,
    );
    expect(made.exitCode, made.all).toBe(0);
  });

  it("has a sparse data disk that asks to be formatted, seeded with the key it made", async () => {
    const dir = path.join(data, "podboot", "machines", "box");
    expect((await readdir(dir)).sort()).toEqual([
      "config.json",
      "data.img",
      "id_ed25519",
      "id_ed25519.pub",
    ]);
    const handle = await open(path.join(dir, "data.img"), "r");
    const disk = Buffer.alloc(64 * 1024);
    await handle.read(disk, 0, disk.length, 0);
    await handle.close();
    expect(disk.subarray(0, 25).toString()).toBe("podboot, please format-me");
    expect(
      disk.includes(Buffer.from((await readFile(path.join(dir, "id_ed25519.pub"), "utf8")).trim())),
    ).toBe(true);
    const info = await stat(path.join(dir, "data.img"));
    expect(info.size).toBe(2 * 1024 ** 3);
    expect(info.blocks * 512).toBeLessThan(1024 * 1024);
  });

  it("refuses --iso with --recipe, and a recipe that is not there, leaving nothing", async () => {
    const both = await podboot(
      ["machine", "init", "r1", "--iso", iso, "--recipe", path.join(work, "r.yaml")],
      env,
    );
    expect(both.exitCode).toBe(2);
    expect(both.all).toMatch(/--iso and --recipe both given: a machine boots one image — /);
    const absent = await podboot(
      ["machine", "init", "r2", "--recipe", path.join(work, "none.yaml"), "--no-connection"],
      env,
    );
    expect(absent.exitCode).toBe(2);
    expect(absent.all).toMatch(/cannot read recipe .*none\.yaml — pass an existing recipe/);
    expect((await machines()).filter((m) => m.includes("r1") || m.includes("r2"))).toEqual([]);
  });

  it("refuses a second machine of the same name", async () => {
    const again = await podboot(["machine", "init", "box", "--iso", iso, "--no-connection"], env);
    expect(again.exitCode).toBe(2);
    expect(again.all).toMatch(/machine box exists already/);
  });

  it("is listed, inspected and exported as stopped", async () => {
    const list = await podboot(["machine", "ls", "--format", "json"], env);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ name: "box", state: "stopped", memoryMiB: 512, diskGiB: 2 }),
    ]);
    const table = await podboot(["machine", "ls"], env);
    expect(table.stdout).toMatch(/^box +stopped +2 +512 MiB +2 GiB +\d+ +- +-$/m);
    const exports = await podboot(["machine", "env", "box"], env);
    expect(exports.stdout).toMatch(
      /^export CONTAINER_HOST=ssh:\/\/root@127\.0\.0\.1:\d+\/run\/podman\/podman\.sock$/m,
    );
    expect(exports.stdout).toMatch(/^export CONTAINER_SSHKEY=.*\/box\/id_ed25519$/m);
  });

  it("takes new settings for its next start, refusing nonsense", async () => {
    const set = await podboot(["machine", "set", "box", "--memory", "768", "--cpus", "1"], env);
    expect(set.stdout).toMatch(/machine box: 1 CPUs, 768 MiB/);
    const bad = await podboot(["machine", "set", "box", "--memory", "50"], env);
    expect(bad.exitCode).toBe(2);
    expect(bad.all).toMatch(/--memory 50: give MiB from 128/);
  });

  it("grows its data disk (sparse) but never shrinks it", async () => {
    const grow = await podboot(["machine", "set", "box", "--disk-size", "3"], env);
    expect(grow.stdout).toMatch(/machine box: .* 3 GiB disk/);
    const disk = await stat(path.join(data, "podboot/machines/box/data.img"));
    expect(disk.size).toBe(3 * 1024 ** 3);
    expect(disk.blocks * 512).toBeLessThan(1024 * 1024);
    const shrink = await podboot(["machine", "set", "box", "--disk-size", "2"], env);
    expect(shrink.exitCode).toBe(2);
    expect(shrink.all).toMatch(/--disk-size 2: machine box's data disk is 3 GiB and only grows/);
    expect((await stat(path.join(data, "podboot/machines/box/data.img"))).size).toBe(3 * 1024 ** 3);
  });

  it("cannot be reached with ssh while stopped, and a missing machine is named", async () => {
    const ssh = await podboot(["machine", "ssh", "box", "--", "true"], env);
    expect(ssh.exitCode).toBe(2);
    expect(ssh.all).toMatch(/machine box is not running — start it: podboot machine start box/);
    const missing = await podboot(["machine", "start", "nosuch"], env);
    expect(missing.exitCode).toBe(2);
    expect(missing.all).toMatch(/no machine nosuch .* — make it with: podboot machine init nosuch/);
  });

  it("refuses to load an extension it cannot: no such name, no image, not running", async () => {
    const bad = await podboot(["machine", "load", "Tools!", "box"], env);
    expect(bad.exitCode).toBe(2);
    expect(bad.all).toMatch(/"Tools!" is no extension name — see the machine's loadable ones/);
    const absent = await podboot(["machine", "load", "tools", "box"], env);
    expect(absent.exitCode).toBe(2);
    expect(absent.all).toMatch(
      /extensions\/tools\.sqfs is not there — build the ISO with it .* or pass --file$/m,
    );
    const image = path.join(work, "tools.sqfs");
    await writeFile(image, "not read before the machine runs");
    const stopped = await podboot(["machine", "load", "tools", "box", "--file", image], env);
    expect(stopped.exitCode).toBe(2);
    expect(stopped.all).toMatch(/machine box is not running — start it: podboot machine start box/);
  });

  it("is removed with its disk", async () => {
    const rm = await podboot(["machine", "rm", "box"], env);
    expect(rm.stdout).toMatch(/machine box removed/);
    expect(await machines()).toEqual([]);
  });
});

it("registers a podman system connection the host's podman can use", async () => {
  const made = await podboot(["machine", "init", "conn", "--iso", iso], env);
  expect(made.exitCode, made.all).toBe(0);
  const connections = await execa(
    "podman",
    ["system", "connection", "list", "--format", "{{.Name}} {{.URI}}"],
    { env: { ...process.env, ...env } },
  );
  expect(connections.stdout).toMatch(
    /^podboot-conn ssh:\/\/root@127\.0\.0\.1:\d+\/run\/podman\/podman\.sock$/m,
  );
  await podboot(["machine", "rm", "conn"], env);
  const after = await execa("podman", ["system", "connection", "list", "--format", "{{.Name}}"], {
    env: { ...process.env, ...env },
  });
  expect(after.stdout).not.toContain("podboot-conn");
});

it("keeps every connection when several are added and removed at once", async () => {
  // podman itself loses some of eight edits made at once (measured: four); podboot's lock must not.
  process.env.CONTAINERS_CONF = containersConf;
  const names = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"].map((name) => `podboot-${name}`);
  const listed = async () =>
    (await execa("podman", ["system", "connection", "list", "--format", "{{.Name}}"])).stdout;
  await Promise.all(
    names.map((name, i) =>
      addConnection(name, `ssh://root@127.0.0.1:${2200 + i}/run/podman/podman.sock`, iso),
    ),
  );
  expect((await listed()).split("\n").sort()).toEqual(names);
  await Promise.all(names.map((name) => removeConnection(name)));
  expect(await listed()).toBe("");
});
