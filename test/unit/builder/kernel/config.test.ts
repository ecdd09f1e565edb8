import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import {
  checkKernelConfig,
  describeMismatches,
  evaluateKconfigExpression,
  indexKconfig,
  parseFragment,
  parseKernelConfig,
} from "../../../../builder/kernel/config.ts";

const KCONFIG = `
config MEMCG
\tbool "Memory controller"
\tdepends on CGROUPS
\tselect PAGE_COUNTER

menuconfig CGROUPS
\tbool "Control Group support"

config MEMCG_SWAP
\tbool
\tdepends on MEMCG && SWAP

config SWAP
\tbool "Support for paging"
\tdepends on MMU && BLOCK
`;

const index = indexKconfig([{ path: "init/Kconfig", text: KCONFIG }]);

const config = (body: string, version = "6.12.117") =>
  parseKernelConfig(`#\n# Linux/x86 ${version} Kernel Configuration\n#\n${body}`);

describe("parseFragment", () => {
  it("reads values, `is not set`, comments and version conditions", () => {
    const settings = parseFragment(
      "# a comment\nCONFIG_MEMCG=y\n# CONFIG_SWAP is not set\nCONFIG_MEMCG_SWAP=y   # podboot: <6.1\n",
      "f.config",
    );
    expect(settings.map((s) => [s.symbol, s.value, s.line])).toEqual([
      ["MEMCG", "y", 2],
      ["SWAP", "n", 3],
      ["MEMCG_SWAP", "y", 4],
    ]);
    expect(settings[2]!.condition).toEqual({ op: "<", version: "6.1" });
  });

  it("names the file and line of a line it cannot read", () => {
    expect(() => parseFragment("CONFIG_MEMCG=y\nMEMCG=y\n", "f.config")).toThrow(
      /^f\.config:2: cannot read "MEMCG=y"/,
    );
    expect(() => parseFragment("CONFIG_memcg=y\n", "f.config")).toThrow(
      /f\.config:1: CONFIG_memcg is not a valid symbol name/,
    );
  });
});

describe("checkKernelConfig", () => {
  const fragment = parseFragment(
    "CONFIG_MEMCG=y\nCONFIG_SWAP=y\nCONFIG_MEMCG_SWAP=y  # podboot: <6.1\n",
    "kernel-config/containers.config",
  );

  it("takes the version from the config header: MEMCG_SWAP only before 6.1", () => {
    const modern = config("CONFIG_CGROUPS=y\nCONFIG_MEMCG=y\nCONFIG_SWAP=y\n");
    expect(modern.version).toBe("6.12");
    expect(checkKernelConfig(fragment, { ...modern, version: modern.version! }, { index })).toEqual(
      [],
    );
    const old = config("CONFIG_CGROUPS=y\nCONFIG_MEMCG=y\nCONFIG_SWAP=y\n", "5.15.0");
    const mismatches = checkKernelConfig(fragment, { ...old, version: old.version! }, { index });
    expect(mismatches.map((m) => m.setting.symbol)).toEqual(["MEMCG_SWAP"]);
  });

  it("a symbol that cannot be set names wanted, got and the unmet dependency", () => {
    const noCgroups = config("# CONFIG_CGROUPS is not set\nCONFIG_SWAP=y\n");
    const text = describeMismatches(
      checkKernelConfig(fragment, { ...noCgroups, version: "6.12" }, { index }),
      "6.12",
    );
    expect(text).toBe(
      "kernel-config/containers.config:1: CONFIG_MEMCG wanted y, got n; unmet: depends on CGROUPS",
    );
  });

  it("a typo'd or removed symbol is reported as not existing in this version", () => {
    const typo = parseFragment("CONFIG_MEMGC=y\n", "typo.config");
    const mismatches = checkKernelConfig(typo, { version: "6.12", values: new Map() }, { index });
    expect(describeMismatches(mismatches, "6.12")).toBe(
      "typo.config:1: CONFIG_MEMGC does not exist in Linux 6.12",
    );
  });

  it("an `if` block of the same Kconfig file counts as a dependency of each symbol in it", () => {
    const blockIndex = indexKconfig([
      {
        path: "drivers/block/Kconfig",
        text: "menuconfig BLK_DEV\n\tbool\n\tdepends on BLOCK\nif BLK_DEV\nconfig VIRTIO_BLK\n\ttristate\n\tdepends on VIRTIO\nendif # BLK_DEV\nconfig OUTSIDE\n\tbool\n",
      },
    ]);
    expect(blockIndex.dependsOn("VIRTIO_BLK")).toEqual(["BLK_DEV", "VIRTIO"]);
    expect(blockIndex.dependsOn("OUTSIDE")).toEqual([]);
    const settings = parseFragment("CONFIG_VIRTIO_BLK=y\n", "virt.config");
    const noBlock = { version: "6.12", values: new Map([["VIRTIO", "y"]]) };
    expect(
      describeMismatches(checkKernelConfig(settings, noBlock, { index: blockIndex }), "6.12"),
    ).toBe("virt.config:1: CONFIG_VIRTIO_BLK wanted y, got n; unmet: depends on BLK_DEV");
  });

  it("for a prebuilt modular kernel a module counts for built-in", () => {
    const overlay = parseFragment("CONFIG_OVERLAY_FS=y\n", "c.config");
    const modular = { version: "6.12", values: new Map([["OVERLAY_FS", "m"]]) };
    expect(checkKernelConfig(overlay, modular)).toHaveLength(1);
    expect(checkKernelConfig(overlay, modular, { moduleSatisfiesBuiltin: true })).toEqual([]);
  });
});

describe("evaluateKconfigExpression", () => {
  const values = new Map([
    ["PCI", "y"],
    ["NET", "y"],
    ["USB", "m"],
    ["HZ", "250"],
  ]);
  it.each([
    ["PCI", 2],
    ["PCI && !SPARC32", 2],
    ["PCI && (!SPARC32 || BROKEN)", 2],
    ["USB && NET", 1],
    ["SPARC32 || BROKEN", 0],
    ["!USB", 1],
    ["HZ = 250 && NET != n", 2],
    ['HZ="100"', 0],
    ["PCI && (", 2],
  ])("%s is %i", (expression, expected) => {
    expect(evaluateKconfigExpression(expression, values)).toBe(expected);
  });
});

describe("kernel-config/ fragments", () => {
  const read = (name: string) =>
    readFile(new URL(`../../../../kernel-config/${name}.config`, import.meta.url), "utf8");

  it("containers.config asks for what podman, crun and netavark need", async () => {
    const settings = parseFragment(await read("containers"), "containers.config");
    expect(settings.map((s) => s.symbol)).toEqual(
      expect.arrayContaining(["MEMCG", "SWAP", "OVERLAY_FS", "USER_NS", "CGROUP_BPF", "NFT_MASQ"]),
    );
  });

  it.each(["base", "containers", "virt", "hardware"])(
    "%s.config is well-formed and sets each symbol once",
    async (name) => {
      const settings = parseFragment(await read(name), `${name}.config`);
      expect(settings.length).toBeGreaterThan(5);
      const symbols = settings.map((s) => s.symbol);
      expect(new Set(symbols).size).toBe(symbols.length);
    },
  );
});
