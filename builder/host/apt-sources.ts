// Finds the Debian mirror this host already uses, so podboot never names a mirror of its own.
// Reads one-line sources.list entries and deb822 .sources files; the first Debian archive wins.
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { PodbootError } from "../errors.ts";

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
}

/** Parses a one-line-style sources.list. Options in [brackets] are skipped. */
export function parseSourcesList(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line.startsWith("deb ")) continue;
    const words = line
      .slice(4)
      .replace(/\[[^\]]*\]/, "")
      .trim()
      .split(/\s+/);
    const [uri, suite, ...components] = words;
    if (uri && suite) sources.push({ uri, suites: [suite], components });
  }
  return sources;
}

/** Parses deb822 .sources stanzas; only Types that include `deb` and are not disabled count. */
export function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let current = "";
    for (const raw of stanza.split("\n")) {
      if (raw.startsWith("#")) continue;
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(raw);
      if (match) {
        current = match[1]!.toLowerCase();
        fields.set(current, match[2]!.trim());
      } else if (/^\s/.test(raw) && current) {
        fields.set(current, `${fields.get(current)} ${raw.trim()}`);
      }
    }
    const types = (fields.get("types") ?? "").split(/\s+/);
    if (!types.includes("deb") || fields.get("enabled")?.toLowerCase() === "no") continue;
    const split = (key: string) => (fields.get(key) ?? "").split(/\s+/).filter(Boolean);
    for (const uri of split("uris")) {
      sources.push({ uri, suites: split("suites"), components: split("components") });
    }
  }
  return sources;
}

/** A Debian archive (not security, not a third-party repository): it carries a suite like bookworm. */
export function pickDebianMirror(sources: AptSource[]): string | undefined {
  const isArchive = (source: AptSource) =>
    !/security/.test(source.uri) &&
    source.suites.some((suite) =>
      /^(bookworm|trixie|forky|sid|unstable|stable|testing)(-updates|-backports)?$/.test(suite),
    ) &&
    source.components.includes("main");
  return sources.find(isArchive)?.uri.replace(/\/+$/, "");
}

export async function hostDebianMirror(etcApt = "/etc/apt"): Promise<string> {
  const sources: AptSource[] = [];
  const list = await readFile(path.join(etcApt, "sources.list"), "utf8").catch(() => "");
  sources.push(...parseSourcesList(list));
  const partsDir = path.join(etcApt, "sources.list.d");
  const parts = await readdir(partsDir).catch(() => [] as string[]);
  for (const name of parts.sort()) {
    const text = await readFile(path.join(partsDir, name), "utf8");
    if (name.endsWith(".sources")) sources.push(...parseDeb822(text));
    else if (name.endsWith(".list")) sources.push(...parseSourcesList(text));
  }
  const mirror = pickDebianMirror(sources);
  if (!mirror) {
    throw new PodbootError(
      `no Debian mirror found in ${etcApt}/sources.list or sources.list.d`,
      "pass --mirror URL or set debian.mirror in the recipe",
    );
  }
  return mirror;
}
