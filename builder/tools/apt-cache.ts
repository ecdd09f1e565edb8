// apt-cache on podboot's private apt roots: the signed index's records of exact package versions
// and of source packages, remembered per state of the downloaded indexes so a warm build does
// not ask apt again.
import type { StepLog } from "../report/events.ts";
import { aptOptions, rememberForIndexes, type AptRoot, type ResolvedPackage } from "./apt-root.ts";
import { run } from "./run.ts";

export interface IndexRecord {
  name: string;
  version: string;
  filename: string;
  architecture: string;
  sha256: string;
  size: number;
  source: string;
  depends: string;
}

/** The signed index's record for exact package versions (apt-cache show). */
export async function indexRecords(
  root: AptRoot,
  packages: ResolvedPackage[],
  log: StepLog,
): Promise<IndexRecord[]> {
  if (packages.length === 0) return [];
  return rememberForIndexes(root, ["records", packages], () => showRecords(root, packages, log));
}

async function showRecords(
  root: AptRoot,
  packages: ResolvedPackage[],
  log: StepLog,
): Promise<IndexRecord[]> {
  const output = await run(
    "apt-cache",
    [
      ...aptOptions(root),
      "show",
      "--no-all-versions",
      ...packages.map((p) => `${p.name}=${p.version}`),
    ],
    { log },
  );
  return parseControlStanzas(output).map((fields) => ({
    name: fields.get("Package") ?? "",
    version: fields.get("Version") ?? "",
    filename: fields.get("Filename") ?? "",
    architecture: fields.get("Architecture") ?? "amd64",
    sha256: fields.get("SHA256") ?? "",
    size: Number(fields.get("Size") ?? 0),
    source: (fields.get("Source") ?? fields.get("Package") ?? "").split(" ")[0]!,
    depends: [fields.get("Pre-Depends"), fields.get("Depends")].filter(Boolean).join(", "),
  }));
}

export function parseControlStanzas(text: string): Map<string, string>[] {
  return text
    .split(/\n\s*\n/)
    .filter((stanza) => stanza.trim() !== "")
    .map((stanza) => {
      const fields = new Map<string, string>();
      let current = "";
      for (const line of stanza.split("\n")) {
        if (line.trim() === "") continue;
        const match = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
        if (match && !line.startsWith(" ")) {
          current = match[1]!;
          fields.set(current, match[2]!);
        } else if (current) {
          fields.set(current, `${fields.get(current)}\n${line.trim()}`);
        }
      }
      return fields;
    });
}

export interface SourceRecord {
  package: string;
  version: string;
  /** Pool directory relative to the mirror, e.g. pool/main/c/conmon. */
  directory: string;
  files: { name: string; sha256: string; size: number }[];
}

/**
 * Every version of a source package the signed Sources index lists (apt-cache showsrc),
 * remembered per state of the indexes like the package records.
 */
export async function sourceRecords(
  root: AptRoot,
  sourcePackage: string,
  log: StepLog,
): Promise<SourceRecord[]> {
  return rememberForIndexes(root, ["sources", sourcePackage], () =>
    showSources(root, sourcePackage, log),
  );
}

async function showSources(
  root: AptRoot,
  sourcePackage: string,
  log: StepLog,
): Promise<SourceRecord[]> {
  const output = await run(
    "apt-cache",
    [...aptOptions(root), "showsrc", "--only-source", sourcePackage],
    { log },
  ).catch(() => "");
  return parseControlStanzas(output)
    .filter((fields) => fields.get("Package") === sourcePackage)
    .map((fields) => ({
      package: sourcePackage,
      version: fields.get("Version") ?? "",
      directory: fields.get("Directory") ?? "",
      files: (fields.get("Checksums-Sha256") ?? "")
        .split("\n")
        .map((line) => line.trim().split(/\s+/))
        .filter((parts) => parts.length === 3)
        .map(([sha256, size, name]) => ({ name: name!, sha256: sha256!, size: Number(size) })),
    }));
}
