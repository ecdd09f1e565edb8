// apt on a private state directory: its own sources, lists, dpkg status (empty) and download cache,
// so podboot resolves and fetches another suite's packages without touching the host's apt.
// apt verifies the archive's InRelease signature with debian-archive-keyring and each .deb's hash
// against the signed index.
import { mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import path from "node:path";
import { PodbootError } from "../errors.ts";
import type { StepLog } from "../log.ts";
import { run } from "./run.ts";

export interface AptRoot {
  dir: string;
  mirror: string;
  suite: string;
  components: string[];
  /** "deb-src" for a root that reads Sources indexes (source packages); default "deb". */
  kind?: "deb" | "deb-src";
}

export interface ResolvedPackage {
  name: string;
  version: string;
}

export const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

function aptOptions(root: AptRoot): string[] {
  const d = root.dir;
  const options: Record<string, string> = {
    "Dir::State": path.join(d, "state"),
    "Dir::State::status": path.join(d, "state", "status"),
    "Dir::Cache": path.join(d, "cache"),
    "Dir::Etc::SourceList": path.join(d, "sources.list"),
    "Dir::Etc::SourceParts": "/dev/null",
    "Dir::Etc::Preferences": "/dev/null",
    "Dir::Etc::PreferencesParts": "/dev/null",
    "APT::Architecture": "amd64",
    "APT::Architectures": "amd64",
    "APT::Install-Recommends": "false",
    "APT::Install-Suggests": "false",
    "Acquire::Languages": "none",
    "Debug::NoLocking": "1",
    // Downloads land in a root-owned private dir; the _apt sandbox user could not write there.
    "APT::Sandbox::User": "root",
  };
  return Object.entries(options).flatMap(([key, value]) => ["-o", `${key}=${value}`]);
}

export async function prepareAptRoot(root: AptRoot): Promise<void> {
  for (const sub of ["state/lists/partial", "cache/archives/partial"]) {
    await mkdir(path.join(root.dir, sub), { recursive: true });
  }
  await writeFile(path.join(root.dir, "state", "status"), "");
  await writeFile(path.join(root.dir, "sources.list"), sourcesLine(root));
}

function sourcesLine(root: AptRoot): string {
  const kind = root.kind ?? "deb";
  return `${kind} [signed-by=${KEYRING}] ${root.mirror} ${root.suite} ${root.components.join(" ")}\n`;
}

/** Refreshes the lists when missing, older than maxAgeMs or fetched for other sources. */
export async function updateLists(root: AptRoot, log: StepLog, maxAgeMs: number): Promise<boolean> {
  const stamp = path.join(root.dir, "state", "lists", "podboot-updated");
  const age = await stat(stamp).then(
    (s) => Date.now() - s.mtimeMs,
    () => Infinity,
  );
  const fetchedFor = await readFile(stamp, "utf8").catch(() => "");
  if (age < maxAgeMs && fetchedFor === sourcesLine(root)) return false;
  try {
    await run("apt-get", [...aptOptions(root), "update"], {
      log,
      fix: `check that ${root.mirror} serves ${root.suite} (or pass --mirror)`,
    });
  } catch (error) {
    const detail = (error as PodbootError).detail ?? "";
    if (
      /NO_PUBKEY|BADSIG|signatures? (were|was) invalid|is not signed|not valid yet|Clearsigned file isn't valid/i.test(
        detail,
      )
    ) {
      throw new PodbootError(
        `the ${root.suite} index from ${root.mirror} does not carry a valid signature of debian-archive-keyring; nothing was used`,
        "the mirror or a proxy altered the archive index: use another mirror (--mirror), or update debian-archive-keyring if the archive key is newer",
        { exitCode: 1, detail },
      );
    }
    throw error;
  }
  await writeFile(stamp, sourcesLine(root));
  return true;
}

/**
 * The full dependency closure apt would install on an empty system, with exact versions. The
 * answer only changes when the indexes do, so it is remembered per (indexes, packages): a warm
 * build does not pay for apt's solver again.
 */
export async function resolveClosure(
  root: AptRoot,
  packages: string[],
  log: StepLog,
): Promise<ResolvedPackage[]> {
  return rememberForIndexes(root, ["closure", packages], () =>
    simulateInstall(root, packages, log),
  );
}

/** Runs `answer` once per (question, state of the downloaded indexes) and keeps the result. */
async function rememberForIndexes<T>(
  root: AptRoot,
  question: unknown,
  answer: () => Promise<T>,
): Promise<T> {
  const memo = path.join(
    root.dir,
    "resolved",
    `${createHash("sha256")
      .update(await listsFingerprint(root))
      .update(JSON.stringify(question))
      .digest("hex")}.json`,
  );
  const remembered = await readFile(memo, "utf8").then(
    (text) => JSON.parse(text) as T,
    () => undefined,
  );
  if (remembered !== undefined) return remembered;
  const result = await answer();
  await mkdir(path.dirname(memo), { recursive: true });
  await writeFile(`${memo}.tmp`, JSON.stringify(result));
  await rename(`${memo}.tmp`, memo);
  return result;
}

/** Names, sizes and dates of the downloaded index files: changes whenever apt-get update does. */
async function listsFingerprint(root: AptRoot): Promise<string> {
  const dir = path.join(root.dir, "state", "lists");
  const hash = createHash("sha256").update(sourcesLine(root));
  for (const name of (await readdir(dir).catch(() => [] as string[])).sort()) {
    const info = await stat(path.join(dir, name)).catch(() => undefined);
    if (info?.isFile()) hash.update(`${name} ${info.size} ${info.mtimeMs}\n`);
  }
  return hash.digest("hex");
}

async function simulateInstall(
  root: AptRoot,
  packages: string[],
  log: StepLog,
): Promise<ResolvedPackage[]> {
  let output: string;
  try {
    output = await run(
      "apt-get",
      [...aptOptions(root), "install", "--simulate", "--quiet", ...packages],
      { log },
    );
  } catch (error) {
    const detail = (error as PodbootError).detail ?? "";
    const missing = /Unable to locate package (\S+)/.exec(detail)?.[1];
    if (missing) {
      throw new PodbootError(
        `unknown package ${missing} in Debian ${root.suite}`,
        "check the name with `apt-cache search` or remove it from the recipe",
      );
    }
    throw error;
  }
  const resolved: ResolvedPackage[] = [];
  for (const line of output.split("\n")) {
    const match = /^Inst (\S+) \((\S+) /.exec(line);
    if (match) resolved.push({ name: match[1]!, version: match[2]! });
  }
  return resolved;
}

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

/** Downloads exact versions (no dependencies) into dir; apt checks each file against the index. */
export async function download(
  root: AptRoot,
  packages: ResolvedPackage[],
  dir: string,
  log: StepLog,
): Promise<void> {
  if (packages.length === 0) return;
  try {
    await run(
      "apt-get",
      [
        ...aptOptions(root),
        "download",
        "--quiet",
        ...packages.map((p) => `${p.name}=${p.version}`),
      ],
      { log, cwd: dir, fix: `check the mirror ${root.mirror} and the free disk space` },
    );
  } catch (error) {
    const detail = (error as PodbootError).detail ?? "";
    const file = /Failed to fetch \S*\/([^/\s]+\.deb)\s+Hash Sum mismatch/.exec(detail)?.[1];
    if (/Hash Sum mismatch/i.test(detail)) {
      throw new PodbootError(
        `${file ?? "a package"} from ${root.mirror} does not match the signed index (hash sum mismatch); nothing was kept`,
        "the mirror served a corrupted or tampered file: retry, or pass --mirror with another mirror",
        { exitCode: 1, detail },
      );
    }
    throw error;
  }
}

/** apt's file name for a version: an epoch colon is written %3a. */
export function debFileName(name: string, version: string, arch: string): string {
  return `${name}_${version.replace(":", "%3a")}_${arch}.deb`;
}

export interface SourceRecord {
  package: string;
  version: string;
  /** Pool directory relative to the mirror, e.g. pool/main/c/conmon. */
  directory: string;
  files: { name: string; sha256: string; size: number }[];
}

/** Every version of a source package the signed Sources index lists (apt-cache showsrc). */
export async function sourceRecords(
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
