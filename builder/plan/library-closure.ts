// Which shared libraries an image needs: the closure of what its programs load. Extensions are
// stacked in order (a later one's file wins), so the closure is computed over the merged tree:
// every file that is not an ELF shared library is kept (programs, data, configuration), and a
// library only when a kept program or library needs it (DT_NEEDED, searched as the dynamic
// linker does) or a keep rule names it (libraries loaded with dlopen). Only libraries in the
// linker's own directories are candidates: one elsewhere (iptables' xtables/ plugins, gconv
// modules, a program's private directory) is loaded by its path, and kept unless it needs a
// library nothing else keeps (then what would load it is not shipped either). The rest — the
// libraries Debian's package dependencies bring but nothing here links — is left out, with the symbolic
// links that lead to them. A needed library that nothing ships fails the build: better at build
// time than at boot. Pure: the staged trees' file lists and ELF facts are its input.
import picomatch from "picomatch";
import { PodbootError } from "../errors.ts";
import type { ElfInfo } from "../elf/read.ts";

export interface StagedFile {
  path: string;
  size: number;
  /** A symbolic link's target, as written. */
  link?: string;
  elf?: ElfInfo;
}

export interface StagedTree {
  name: string;
  files: StagedFile[];
  /** Globs of libraries kept though nothing links them (dlopen). */
  keep: string[];
}

export interface LibraryClosure {
  /** Per extension, the paths left out. */
  unused: Map<string, StagedFile[]>;
  /** For each library kept, the first program or library found needing it. */
  neededBy: Map<string, string>;
}

/** Where the dynamic linker looks without a cache (Debian's multiarch directories first). */
const SEARCH = ["usr/lib/x86_64-linux-gnu", "usr/lib", "usr/lib64"];
/** The root's merged-/usr links (the base extension makes them). */
const MERGED = [
  ["bin/", "usr/bin/"],
  ["sbin/", "usr/sbin/"],
  ["lib/", "usr/lib/"],
  ["lib64/", "usr/lib64/"],
] as const;

function canonical(file: string): string {
  for (const [from, to] of MERGED) if (file.startsWith(from)) return to + file.slice(from.length);
  return file;
}

function join(dir: string, target: string): string {
  const parts = (target.startsWith("/") ? target.slice(1) : `${dir}/${target}`).split("/");
  const out: string[] = [];
  for (const part of parts) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return canonical(out.join("/"));
}

export function libraryClosure(trees: StagedTree[]): LibraryClosure {
  // The merged view: a later extension's file of the same path wins.
  const merged = new Map<string, { tree: string; file: StagedFile }>();
  for (const tree of trees) {
    for (const file of tree.files) merged.set(canonical(file.path), { tree: tree.name, file });
  }
  const resolve = (start: string): string | undefined => {
    let current = start;
    for (let hops = 0; hops < 20; hops++) {
      const entry = merged.get(current);
      if (!entry) return undefined;
      if (entry.file.link === undefined) return current;
      current = join(current.split("/").slice(0, -1).join("/"), entry.file.link);
    }
    return undefined;
  };
  const isLibrary = (path: string) => merged.get(path)?.file.elf?.kind === "library";
  const onSearchPath = (path: string) => SEARCH.includes(path.split("/").slice(0, -1).join("/"));
  const kept = new Set<string>();
  const neededBy = new Map<string, string>();
  const pending: string[] = [];
  const keepRules = new Map(trees.map((t) => [t.name, picomatch(t.keep, { dot: true })]));
  /** What path needs, resolved as the dynamic linker would; a need nothing ships fails. */
  const needs = (path: string): string[] => {
    const { elf } = merged.get(path)!.file;
    const origin = path.split("/").slice(0, -1).join("/");
    return (elf?.needed ?? []).map((name) => {
      const dirs = [
        ...(elf?.runpath ?? []).map((d) => join("", d.replace("$ORIGIN", `/${origin}`))),
        ...SEARCH,
      ];
      const found = dirs
        .map((d) => resolve(canonical(`${d}/${name}`)))
        .find((p) => p !== undefined);
      if (!found) {
        const { tree } = merged.get(path)!;
        throw new PodbootError(
          `${path} (extension ${tree}) needs ${name}, which no extension of this build ships`,
          "add the package that holds it to an extension (or stop excluding it), or drop the program that needs it",
          { exitCode: 1 },
        );
      }
      return found;
    });
  };
  const drain = () => {
    while (pending.length > 0) {
      const path = pending.pop()!;
      if (kept.has(path)) continue;
      kept.add(path);
      for (const found of needs(path)) {
        if (!neededBy.has(found)) neededBy.set(found, path);
        pending.push(found);
      }
    }
  };
  // Plugins (libraries off the search path: OpenSSL engines, gconv and xtables modules) are
  // loaded by a library or program that is itself shipped; one that needs a library nothing else
  // keeps has no host here (OpenSSL's engines without libcrypto's users) and is left out too.
  const plugins: string[] = [];
  for (const [path, { tree, file }] of merged) {
    if (file.link !== undefined) continue;
    if (keepRules.get(tree)!(file.path)) pending.push(path);
    else if (!isLibrary(path)) pending.push(path);
    else if (!onSearchPath(path)) plugins.push(path);
  }
  drain();
  keepHostedPlugins(plugins, kept, needs, (plugin) => {
    pending.push(plugin);
    drain();
  });
  const unused = new Map<string, StagedFile[]>(trees.map((t) => [t.name, []]));
  for (const [path, { tree, file }] of merged) {
    const target = file.link === undefined ? path : resolve(path);
    const dropped = target !== undefined && isLibrary(target) && !kept.has(target);
    if (dropped) unused.get(tree)!.push(file);
  }
  return { unused, neededBy };
}

/** Keeps, until nothing changes, every plugin whose needs are all kept already. */
function keepHostedPlugins(
  plugins: string[],
  kept: Set<string>,
  needs: (path: string) => string[],
  keep: (plugin: string) => void,
): void {
  for (let grew = true; grew;) {
    grew = false;
    for (const plugin of plugins) {
      if (kept.has(plugin) || !needs(plugin).every((p) => kept.has(p))) continue;
      keep(plugin);
      grew = true;
    }
  }
}
