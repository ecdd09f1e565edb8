// Kernel configuration fragments and the fail-loud check that a finished .config has what they
// ask for. Pure: the files are read by the caller, so this is unit-tested without a kernel tree.
//
// A fragment is a small .config: `CONFIG_X=y|m|n|value` or `# CONFIG_X is not set`, with comments.
// A line may end with a version condition, `# podboot: <6.1` or `# podboot: >=6.1`, for symbols
// that exist only in some kernel versions (e.g. MEMCG_SWAP before 6.1). The kernel version comes
// from the .config header or the source tree, never from the host's uname.
import { PodbootError } from "../errors.ts";

export interface FragmentSetting {
  symbol: string;
  value: string;
  file: string;
  line: number;
  /** Applies only when the kernel version satisfies this, e.g. { op: "<", version: "6.1" }. */
  condition?: { op: "<" | "<=" | ">=" | ">"; version: string };
}

const SYMBOL = /^[A-Z0-9_]+$/;

export function parseFragment(text: string, file: string): FragmentSetting[] {
  const settings: FragmentSetting[] = [];
  for (const [index, raw] of text.split("\n").entries()) {
    const line = index + 1;
    const conditionMatch = /\s+#\s*podboot:\s*(<=|>=|<|>)\s*([0-9]+\.[0-9]+)\s*$/.exec(raw);
    const body = (conditionMatch ? raw.slice(0, conditionMatch.index) : raw).trim();
    const condition = conditionMatch
      ? { op: conditionMatch[1] as "<" | "<=" | ">=" | ">", version: conditionMatch[2]! }
      : undefined;
    if (body === "") continue;
    const unset = /^# CONFIG_([A-Za-z0-9_]+) is not set$/.exec(body);
    if (unset) {
      settings.push({
        symbol: checkName(unset[1]!, file, line),
        value: "n",
        file,
        line,
        condition,
      });
      continue;
    }
    if (body.startsWith("#")) continue;
    const set = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(body);
    if (!set || set[2] === "") {
      throw new PodbootError(
        `${file}:${line}: cannot read "${body}"`,
        "write CONFIG_NAME=y|m|n|value or # CONFIG_NAME is not set",
      );
    }
    settings.push({
      symbol: checkName(set[1]!, file, line),
      value: set[2]!,
      file,
      line,
      condition,
    });
  }
  return settings;
}

function checkName(symbol: string, file: string, line: number): string {
  if (!SYMBOL.test(symbol)) {
    throw new PodbootError(
      `${file}:${line}: CONFIG_${symbol} is not a valid symbol name`,
      "kernel symbols are upper-case letters, digits and _",
    );
  }
  return symbol;
}

/** A .config as symbol → value ("n" for `is not set`), with the version from its header. */
export function parseKernelConfig(text: string): { version?: string; values: Map<string, string> } {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const set = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set) values.set(set[1]!, set[2]!);
    const unset = /^# CONFIG_([A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset) values.set(unset[1]!, "n");
  }
  const version = /^# Linux\/\S+ ([0-9]+\.[0-9]+)[.0-9]* Kernel Configuration/m.exec(text)?.[1];
  return { version, values };
}

function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split(".").map(Number) as [number, number];
  const [b1, b2] = b.split(".").map(Number) as [number, number];
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

export function appliesTo(setting: FragmentSetting, version: string): boolean {
  const { condition } = setting;
  if (!condition) return true;
  const order = compareVersions(version, condition.version);
  switch (condition.op) {
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case ">=":
      return order >= 0;
    case ">":
      return order > 0;
  }
}

/** What the Kconfig files say about symbols: which exist, and what each depends on. */
export interface KconfigIndex {
  has(symbol: string): boolean;
  dependsOn(symbol: string): string[];
}

/** Indexes Kconfig text: `config`/`menuconfig` blocks and their `depends on` lines. */
export function indexKconfig(files: { path: string; text: string }[]): KconfigIndex {
  const depends = new Map<string, string[]>();
  for (const { text } of files) {
    let current: string | undefined;
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      const start = /^(?:menu)?config\s+([A-Za-z0-9_]+)\s*$/.exec(line);
      if (start) {
        current = start[1]!;
        if (!depends.has(current)) depends.set(current, []);
        continue;
      }
      if (/^(choice|endchoice|menu|endmenu|if|endif|source|comment|mainmenu)\b/.test(line)) {
        current = undefined;
        continue;
      }
      const dep = /^depends on\s+(.+)$/.exec(line);
      if (dep && current) depends.get(current)!.push(dep[1]!);
    }
  }
  return {
    has: (symbol) => depends.has(symbol),
    dependsOn: (symbol) => depends.get(symbol) ?? [],
  };
}

export interface ConfigMismatch {
  setting: FragmentSetting;
  got: string;
  problem: "missing-symbol" | "wrong-value";
  /** The symbol's `depends on` conditions whose symbols are not set, when Kconfig is known. */
  unmet: string[];
}

/**
 * Every applicable setting must come out with its value. `moduleSatisfiesBuiltin` accepts `m`
 * for `y` (a prebuilt modular kernel, whose modules the recipe loads).
 */
export function checkKernelConfig(
  settings: FragmentSetting[],
  config: { version: string; values: Map<string, string> },
  options: { index?: KconfigIndex; moduleSatisfiesBuiltin?: boolean } = {},
): ConfigMismatch[] {
  const mismatches: ConfigMismatch[] = [];
  for (const setting of settings) {
    if (!appliesTo(setting, config.version)) continue;
    const got = config.values.get(setting.symbol) ?? "n";
    const exists = options.index
      ? options.index.has(setting.symbol)
      : config.values.has(setting.symbol) || setting.value === "n";
    if (!exists) {
      mismatches.push({ setting, got, problem: "missing-symbol", unmet: [] });
      continue;
    }
    const same =
      got === setting.value ||
      (options.moduleSatisfiesBuiltin === true && setting.value === "y" && got === "m");
    if (same) continue;
    const unmet = (options.index?.dependsOn(setting.symbol) ?? []).filter((expression) =>
      [...expression.matchAll(/[A-Z][A-Z0-9_]+/g)].some(
        ([name]) => !["y", "m"].includes(config.values.get(name) ?? "n"),
      ),
    );
    mismatches.push({ setting, got, problem: "wrong-value", unmet });
  }
  return mismatches;
}

/** One line per mismatch: where it was asked for, what was wanted and got, and why. */
export function describeMismatches(mismatches: ConfigMismatch[], version: string): string {
  return mismatches
    .map((m) => {
      const where = `${m.setting.file}:${m.setting.line}`;
      if (m.problem === "missing-symbol") {
        return `${where}: CONFIG_${m.setting.symbol} does not exist in Linux ${version}`;
      }
      const why = m.unmet.length > 0 ? `; unmet: depends on ${m.unmet.join(", ")}` : "";
      return `${where}: CONFIG_${m.setting.symbol} wanted ${m.setting.value}, got ${m.got}${why}`;
    })
    .join("\n");
}
