// What the recipe's compression asks of the kernel: every squashfs codec an extension is packed
// with, and the codec of each initramfs, needs its decompressor built into the kernel. A compiled
// kernel has only what its fragments set (tinyconfig has none of them), so a codec the fragments
// leave out is refused in the plan, before any work; without this the build succeeded and the
// image could not mount its extensions at boot. A prebuilt kernel's config is checked against the
// same settings once it is downloaded.
import { PodbootError } from "../errors.ts";
import type { FragmentSetting } from "../kernel/config.ts";
import type { Locate } from "../recipe/load.ts";
import type { Recipe } from "../recipe/schema.ts";

// The schema's codecs: a codec added there fails to compile here until it is given its option.
type SquashfsCodec = Recipe["compression"]["squashfs"];
type ArchiveCodec = Recipe["compression"]["initramfs"];

const SQUASHFS_SYMBOLS: Record<SquashfsCodec, string> = {
  xz: "SQUASHFS_XZ",
  zstd: "SQUASHFS_ZSTD",
  gzip: "SQUASHFS_ZLIB",
  lzo: "SQUASHFS_LZO",
  lz4: "SQUASHFS_LZ4",
};

const INITRAMFS_SYMBOLS: Record<Exclude<ArchiveCodec, "none">, string> = {
  zstd: "RD_ZSTD",
  xz: "RD_XZ",
  gzip: "RD_GZIP",
};

interface CompressionRecipe {
  compression: { squashfs: SquashfsCodec; initramfs: ArchiveCodec; stage1: ArchiveCodec };
  extensions: { name: string; compression?: SquashfsCodec }[];
}

/** One kernel option the recipe's compression needs, and what in the recipe needs it. */
export interface CodecNeed {
  symbol: string;
  codec: string;
  /** e.g. "extension podman" or "the stage 1 archive" */
  user: string;
  /** the field to change instead: its description for the error's fix */
  field: string;
  /** where the recipe says it: a path for the recipe's locate() */
  at: (string | number)[];
}

/**
 * The kernel options this build's extensions and initramfs codecs need, one per user.
 * `indexOf` gives an extension's index in the recipe file (a build may leave some out).
 */
export function codecNeeds(
  recipe: CompressionRecipe,
  indexOf: (extension: string) => number,
): CodecNeed[] {
  const needs: CodecNeed[] = recipe.extensions.map((extension) => {
    const codec = extension.compression ?? recipe.compression.squashfs;
    const index = indexOf(extension.name);
    return {
      symbol: SQUASHFS_SYMBOLS[codec],
      codec,
      user: `extension ${extension.name}`,
      field: `its compression (one of ${Object.keys(SQUASHFS_SYMBOLS).join(", ")})`,
      at: extension.compression
        ? ["extensions", index, "compression"]
        : ["compression", "squashfs"],
    };
  });
  for (const which of ["stage1", "initramfs"] as const) {
    const codec = recipe.compression[which];
    if (codec === "none") continue;
    needs.push({
      symbol: INITRAMFS_SYMBOLS[codec],
      codec,
      user: which === "stage1" ? "the stage 1 archive" : "the network boot's initramfs",
      field: `compression.${which} (one of none, ${Object.keys(INITRAMFS_SYMBOLS).join(", ")})`,
      at: ["compression", which],
    });
  }
  return needs;
}

/**
 * The needs as fragment settings (=y), one per option, each placed at the first recipe line that
 * needs it (`locate` gives file:line:column), for checking a kernel's config.
 */
export function codecSettings(needs: CodecNeed[], locate: Locate): FragmentSetting[] {
  const settings = new Map<string, FragmentSetting>();
  for (const need of needs) {
    if (settings.has(need.symbol)) continue;
    const [, file, line] = /^(.*):(\d+):\d+$/.exec(locate(need.at)) ?? [];
    settings.set(need.symbol, {
      symbol: need.symbol,
      value: "y",
      file: file ?? "the recipe",
      line: Number(line ?? 0),
    });
  }
  return [...settings.values()];
}

/**
 * Refuses a codec the compiled kernel's fragments do not build in: the first need no fragment
 * sets to y (or one that a fragment turns off), naming the fragment line when there is one.
 */
export function checkCodecsCompiled(
  needs: CodecNeed[],
  settings: FragmentSetting[],
  locate: Locate,
): void {
  for (const need of needs) {
    const lines = settings.filter((s) => s.symbol === need.symbol);
    if (lines.some((s) => s.value === "y")) continue;
    const off = lines.find((s) => s.value !== "y");
    const why = off
      ? `${off.file}:${off.line} sets CONFIG_${need.symbol}=${off.value}`
      : `no kernel fragment of this build sets CONFIG_${need.symbol}=y`;
    throw new PodbootError(
      `${locate(need.at)}: ${need.user} is compressed with ${need.codec}, which the compiled kernel cannot unpack: ${why}`,
      `add CONFIG_${need.symbol}=y to a fragment the build uses (kernel-config/), or change ${need.field}`,
    );
  }
}
