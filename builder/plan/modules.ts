// Pure: which kernel modules to ship and in which order to load them, from each module's
// `depends=` (read from its .modinfo section) — Debian's kernel package ships no modules.dep.

export interface ModuleInfo {
  name: string;
  depends: string[];
}

function modinfoField(ko: Buffer, key: string): string | undefined {
  const marker = Buffer.from(`\0${key}=`);
  const at = ko.indexOf(marker);
  if (at < 0) return undefined;
  const start = at + marker.length;
  const end = ko.indexOf(0, start);
  return ko.subarray(start, end < 0 ? undefined : end).toString("utf8");
}

/**
 * What a module needs loaded first, from its raw bytes (.modinfo holds NUL-separated key=value
 * strings): `depends=` (symbols it links against) and the `pre:` part of `softdep=` (modules it
 * asks for at run time, e.g. libcrc32c → crc32c).
 */
export function modinfoDepends(ko: Buffer): string[] {
  const depends = (modinfoField(ko, "depends") ?? "").split(",").filter(Boolean);
  const softdep = modinfoField(ko, "softdep") ?? "";
  const pre = /pre:\s*([^:]*?)(\s+post:|$)/.exec(softdep)?.[1] ?? "";
  return [...pre.split(/\s+/).filter(Boolean), ...depends];
}

/** Module names are written with - or _ interchangeably; the kernel uses _. */
export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, "_");
}

/**
 * The wanted modules plus everything they depend on, ordered so each module comes after its
 * dependencies. `builtin` names are provided by the kernel image and are skipped; `soft` names
 * (softdeps) are skipped when no module of that name exists (they may name an alias).
 * Throws on a module that does not exist, naming it.
 */
export function moduleLoadOrder(
  wanted: string[],
  known: Map<string, ModuleInfo>,
  builtin: Set<string>,
  soft: Set<string> = new Set(),
): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (raw: string, from: string | undefined) => {
    const name = normalizeModuleName(raw);
    if (seen.has(name) || builtin.has(name)) return;
    const info = known.get(name);
    if (!info && soft.has(name)) return;
    if (!info) {
      throw new Error(
        from
          ? `module ${name} (needed by ${from}) is not in this kernel`
          : `module ${name} is not in this kernel`,
      );
    }
    seen.add(name);
    for (const dep of info.depends) visit(dep, name);
    order.push(name);
  };
  for (const name of wanted) visit(name, undefined);
  return order;
}
