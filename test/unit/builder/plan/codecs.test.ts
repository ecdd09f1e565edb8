import { describe, expect, it } from "vitest";
import { checkCodecsCompiled, codecNeeds, codecSettings } from "../../../../builder/plan/codecs.ts";
import { parseFragment } from "../../../../builder/kernel/config.ts";

const recipe = {
  compression: { squashfs: "xz" as const, initramfs: "none" as const, stage1: "zstd" as const },
  extensions: [{ name: "base", compression: "zstd" as const }, { name: "tools" }],
};
const indexOf = (name: string) => ["base", "gone", "tools"].indexOf(name);
const locate = (at: PropertyKey[]) => `recipes/x.yaml:${at.length * 10}:3`;
const fragment = (text: string) => parseFragment(text, "kernel-config/base.config");

describe("codecNeeds", () => {
  it("asks for each extension's codec (its own, else the recipe's) and each initramfs codec", () => {
    const needs = codecNeeds(recipe, indexOf);
    expect(needs.map((n) => [n.user, n.symbol, n.at])).toEqual([
      ["extension base", "SQUASHFS_ZSTD", ["extensions", 0, "compression"]],
      ["extension tools", "SQUASHFS_XZ", ["compression", "squashfs"]],
      ["the stage 1 archive", "RD_ZSTD", ["compression", "stage1"]],
    ]);
  });

  it("names the kernel's option for every squashfs codec", () => {
    const symbols = (["gzip", "lzo", "lz4"] as const).map(
      (codec) =>
        codecNeeds({ ...recipe, extensions: [{ name: "base", compression: codec }] }, indexOf)[0]!
          .symbol,
    );
    expect(symbols).toEqual(["SQUASHFS_ZLIB", "SQUASHFS_LZO", "SQUASHFS_LZ4"]);
  });
});

describe("checkCodecsCompiled", () => {
  const needs = codecNeeds(recipe, indexOf);

  it("passes when the fragments build every needed decompressor in", () => {
    const settings = fragment("CONFIG_SQUASHFS_ZSTD=y\nCONFIG_SQUASHFS_XZ=y\nCONFIG_RD_ZSTD=y\n");
    expect(() => checkCodecsCompiled(needs, settings, locate)).not.toThrow();
  });

  it("refuses a codec no fragment sets, at the recipe line that asks for it", () => {
    const settings = fragment("CONFIG_SQUASHFS_ZSTD=y\nCONFIG_RD_ZSTD=y\n");
    expect(() => checkCodecsCompiled(needs, settings, locate)).toThrow(
      "recipes/x.yaml:20:3: extension tools is compressed with xz, which the compiled kernel cannot unpack: no kernel fragment of this build sets CONFIG_SQUASHFS_XZ=y",
    );
  });

  it("names the fragment line that turns a needed option off", () => {
    const settings = fragment(
      "CONFIG_SQUASHFS_ZSTD=y\nCONFIG_SQUASHFS_XZ=y\n# CONFIG_RD_ZSTD is not set\n",
    );
    expect(() => checkCodecsCompiled(needs, settings, locate)).toThrow(
      /the stage 1 archive is compressed with zstd, .*: kernel-config\/base.config:3 sets CONFIG_RD_ZSTD=n/,
    );
  });
});

describe("codecSettings", () => {
  it("gives one =y setting per option, placed where the recipe first needs it", () => {
    const settings = codecSettings(codecNeeds(recipe, indexOf), locate);
    expect(settings).toEqual([
      { symbol: "SQUASHFS_ZSTD", value: "y", file: "recipes/x.yaml", line: 30 },
      { symbol: "SQUASHFS_XZ", value: "y", file: "recipes/x.yaml", line: 20 },
      { symbol: "RD_ZSTD", value: "y", file: "recipes/x.yaml", line: 20 },
    ]);
  });
});
