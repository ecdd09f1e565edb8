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

/** Settings back in .config syntax, one per line. */
export function renderFragment(settings: FragmentSetting[]): string {
  return settings
    .map((s) =>
      s.value === "n" ? `# CONFIG_${s.symbol} is not set` : `CONFIG_${s.symbol}=${s.value}`,
    )
    .map((line) => `${line}\n`)
    .join("");
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

/**
 * Indexes Kconfig text: `config`/`menuconfig` blocks, their `depends on` lines and the `if`
 * blocks of the same file around them (an `if BLOCK … endif` is a dependency of each symbol in it).
 */
export function indexKconfig(files: { path: string; text: string }[]): KconfigIndex {
  const depends = new Map<string, string[]>();
  for (const { text } of files) {
    let current: string | undefined;
    const ifs: string[] = [];
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      const start = /^(?:menu)?config\s+([A-Za-z0-9_]+)\s*$/.exec(line);
      if (start) {
        current = start[1]!;
        if (!depends.has(current)) depends.set(current, []);
        depends.get(current)!.push(...ifs.filter((c) => !depends.get(current!)!.includes(c)));
        continue;
      }
      const block = /^(if|endif)\b\s*(.*)$/.exec(line);
      if (block) {
        if (block[1] === "if") ifs.push(block[2]!.replace(/\s*#.*$/, ""));
        else ifs.pop();
        current = undefined;
        continue;
      }
      if (/^(choice|endchoice|menu|endmenu|source|comment|mainmenu)\b/.test(line)) {
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

/**
 * Kconfig's tristate logic over a `depends on` expression: n=0, m=1, y=2; `&&` is min, `||` max,
 * `!` is 2-x, `A=B` / `A!=B` compare values. A symbol absent from the config is n. An expression
 * this cannot read counts as met (so a report never blames a condition it did not understand).
 */
export function evaluateKconfigExpression(expression: string, values: Map<string, string>): number {
  const tokens = expression.match(/&&|\|\||!=|[!()=]|"[^"]*"|[A-Za-z0-9_]+/g) ?? [];
  let at = 0;
  const tristate = (value: string) => (value === "y" ? 2 : value === "m" ? 1 : 0);
  const valueOf = (token: string) =>
    token.startsWith('"')
      ? token.slice(1, -1)
      : /^([nmy]|[0-9].*)$/.test(token)
        ? token
        : (values.get(token) ?? "n");
  const primary = (): number => {
    const token = tokens[at++];
    if (token === undefined) throw new Error("end of expression");
    if (token === "!") return 2 - primary();
    if (token === "(") {
      const inner = or();
      if (tokens[at++] !== ")") throw new Error("missing )");
      return inner;
    }
    if (tokens[at] === "=" || tokens[at] === "!=") {
      const op = tokens[at++];
      const other = tokens[at++];
      if (other === undefined) throw new Error("end of expression");
      const equal = valueOf(token) === valueOf(other);
      return (op === "=") === equal ? 2 : 0;
    }
    return tristate(valueOf(token));
  };
  const and = (): number => {
    let value = primary();
    while (tokens[at] === "&&") {
      at++;
      value = Math.min(value, primary());
    }
    return value;
  };
  const or = (): number => {
    let value = and();
    while (tokens[at] === "||") {
      at++;
      value = Math.max(value, and());
    }
    return value;
  };
  try {
    const value = or();
    return at === tokens.length ? value : 2;
  } catch {
    return 2;
  }
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
    const unmet = (options.index?.dependsOn(setting.symbol) ?? []).filter(
      (expression) => evaluateKconfigExpression(expression, config.values) === 0,
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
