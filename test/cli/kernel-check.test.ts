// `podboot kernel check` through the command line, on small configs and fragments.
import { execa } from "execa";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const podbootJs = path.resolve(import.meta.dirname, "../../bin/podboot.js");
const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-kcheck-"));
const check = (...args: string[]) =>
  execa("node", [podbootJs, "kernel", "check", ...args], { cwd: dir, reject: false, all: true });
const lastLine = (all: string | undefined) => all!.trim().split("\n").at(-1)!;

beforeAll(async () => {
  await mkdir(path.join(dir, "fragments"));
  await mkdir(path.join(dir, "src", "init"), { recursive: true });
  await writeFile(
    path.join(dir, "src", "init", "Kconfig"),
    "menuconfig CGROUPS\n\tbool\n\nconfig MEMCG\n\tbool\n\tdepends on CGROUPS\n\nconfig SWAP\n\tbool\n",
  );
  await writeFile(path.join(dir, "fragments", "mem.config"), "CONFIG_MEMCG=y\nCONFIG_SWAP=y\n");
  await writeFile(path.join(dir, "fragments", "typo.config"), "# memory\nCONFIG_MEMGC=y\n");
  await writeFile(path.join(dir, "fragments", "broken.config"), "CONFIG_MEMCG=y\nMEMCG y\n");
  const header = "#\n# Linux/x86 6.12.117 Kernel Configuration\n#\n";
  await writeFile(
    path.join(dir, "good.config"),
    `${header}CONFIG_CGROUPS=y\nCONFIG_MEMCG=y\nCONFIG_SWAP=y\n`,
  );
  await writeFile(
    path.join(dir, "bad.config"),
    `${header}# CONFIG_CGROUPS is not set\nCONFIG_SWAP=y\n`,
  );
});

const frag = (names: string) => ["--fragments-dir", "fragments", "-f", names, "--source", "src"];

describe("podboot kernel check", () => {
  it("passes a config that has everything", async () => {
    const result = await check("good.config", ...frag("mem"));
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("Linux 6.12 has all 2 settings of mem");
  });

  it("a symbol that cannot be set: exit 1, fragment line, wanted, got, unmet dependency", async () => {
    const result = await check("bad.config", ...frag("mem"));
    expect(result.exitCode).toBe(1);
    expect(result.all).toContain(
      "fragments/mem.config:1: CONFIG_MEMCG wanted y, got n; unmet: depends on CGROUPS",
    );
  });

  it("a typo'd symbol: does not exist in this kernel version", async () => {
    const result = await check("good.config", ...frag("typo"));
    expect(result.exitCode).toBe(1);
    expect(lastLine(result.all)).toMatch(
      /fragments\/typo\.config:2: CONFIG_MEMGC does not exist in Linux 6\.12/,
    );
  });

  it("a malformed fragment line names file and line", async () => {
    const result = await check("good.config", ...frag("broken"));
    expect(result.exitCode).toBe(2);
    expect(lastLine(result.all)).toMatch(/fragments\/broken\.config:2: cannot read "MEMCG y"/);
  });
});
