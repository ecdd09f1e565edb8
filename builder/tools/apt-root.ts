// A private apt state directory (one per suite, kind and mirror): its own sources, lists, dpkg
// status (empty) and download cache, so podboot resolves and fetches another suite's packages
// without touching the host's apt. apt verifies the archive's InRelease signature with
// debian-archive-keyring and each .deb's hash against the signed index.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";

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

export function aptOptions(root: AptRoot): string[] {
  const d = root.dir;
  const options: Record<string, string> = {
    "Dir::State": path.join(d, "state"),
    "Dir::State::status": path.join(d, "state", "status"),
    "Dir::Cache": path.join(d, "cache"),
    // apt's binary cache of the index, kept even where the host's apt.conf turns it off (Debian's
    // container images do): without it every apt call reads the 10 MB index again (~0.7 s).
    "Dir::Cache::pkgcache": "pkgcache.bin",
    "Dir::Cache::srcpkgcache": "",
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

export function sourcesLine(root: AptRoot): string {
  const kind = root.kind ?? "deb";
  return `${kind} [signed-by=${KEYRING}] ${root.mirror} ${root.suite} ${root.components.join(" ")}\n`;
}

/** Runs `answer` once per (question, state of the downloaded indexes) and keeps the result. */
export async function rememberForIndexes<T>(
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
