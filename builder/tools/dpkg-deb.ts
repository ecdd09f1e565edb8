// dpkg-deb: unpacks a .deb's data into a directory (no maintainer scripts run), or streams it
// into tar to list it or pull single members out, or reads it in one pass, without unpacking it.
import { execa } from "execa";
import tar from "tar-stream";
import type { StepLog } from "../report/events.ts";
import { lastLines, run } from "./run.ts";

export async function extractDeb(deb: string, into: string, log: StepLog): Promise<void> {
  await run("dpkg-deb", ["--extract", deb, into], {
    log,
    fix: `delete ${deb} so it is downloaded again`,
  });
}

/**
 * extractDeb, returning what the package unpacked as it lists it ("./etc/hosts"): files and links,
 * no directories.
 */
export async function extractDebListing(
  deb: string,
  into: string,
  log: StepLog,
): Promise<string[]> {
  const listing = await run("dpkg-deb", ["--vextract", deb, into], {
    log,
    fix: `delete ${deb} so it is downloaded again`,
  });
  return listing.split("\n").filter((entry) => entry !== "" && !entry.endsWith("/"));
}

/**
 * `dpkg-deb --fsys-tarfile DEB | tar ARGS`. The package's data stream is never held in memory
 * (it can be hundreds of MB); tar's output is kept unless `streamOutput` (to pipe it further).
 */
export function debDataToTar(
  deb: string,
  tarArgs: string[],
  options: { reject?: boolean; streamOutput?: boolean } = {},
) {
  const reject = options.reject ?? true;
  return execa("dpkg-deb", ["--fsys-tarfile", deb], {
    reject,
    buffer: { stdout: false, stderr: true },
  }).pipe("tar", tarArgs, {
    reject,
    buffer: { stdout: !options.streamOutput, stderr: true },
  });
}

/**
 * Unpacks a tarball that is itself a member of the .deb's data (e.g. the kernel source inside
 * linux-source-6.12) into dir, streaming: the ~150 MB are never held in memory. Returns "" or
 * what failed, in a few words.
 */
export async function unpackDebTarball(
  deb: string,
  member: string,
  dir: string,
  log: StepLog,
): Promise<string> {
  log.write(`$ dpkg-deb --fsys-tarfile ${deb} | tar -xO ${member} | tar -xa\n`);
  const result = await debDataToTar(deb, ["-xO", "--wildcards", member], {
    reject: false,
    streamOutput: true,
  }).pipe("tar", ["-xJ", "-C", dir, "--strip-components=1"], {
    reject: false,
    buffer: { stdout: false, stderr: true },
  });
  const failed = [result, ...result.pipedFrom].find((step) => step.exitCode !== 0);
  if (!failed) return "";
  const why = lastLines(String(failed.stderr ?? ""), 3)
    .replace(/\s+/g, " ")
    .trim();
  log.write(`${why}\n`);
  return `${failed.command.split(" ")[0]}: ${why || `exit ${failed.exitCode}`}`;
}

/**
 * Paths (relative to the root, no leading ./) in `dpkg-deb -c` output: regular files, and with
 * `links` also symbolic links. Directories are never listed.
 */
export function parseDebListing(listing: string, options: { links?: boolean } = {}): string[] {
  const kinds = options.links ? "[-l]" : "-";
  const entry = new RegExp(
    `^${kinds}\\S+\\s+\\S+\\s+\\d+\\s+\\S+\\s+\\S+\\s+\\./(.+?)(?: -> .*)?$`,
  );
  const paths: string[] = [];
  for (const line of listing.split("\n")) {
    const match = entry.exec(line);
    if (match) paths.push(match[1]!);
  }
  return paths;
}

/** The paths a .deb installs (see parseDebListing). */
export async function debPaths(deb: string, options: { links?: boolean } = {}): Promise<string[]> {
  const { stdout } = await execa("dpkg-deb", ["-c", deb], { maxBuffer: 2 ** 28 });
  return parseDebListing(stdout, options);
}

/** Whether a package is part of every Debian system: Essential, or Priority required/important. */
export async function isBaseSystemPackage(deb: string): Promise<boolean> {
  const { stdout } = await execa("dpkg-deb", ["-f", deb, "Essential", "Priority"]);
  return /^Essential: yes$/m.test(stdout) || /^Priority: (required|important)$/m.test(stdout);
}

/**
 * One pass over a .deb's data: the path of every file, link or device in it as tar names them
 * (./etc/…; directories left out), and the text of `member` when it is there. The data is
 * streamed, never held whole.
 */
export async function debDataScan(
  deb: string,
  member: string,
): Promise<{ files: string[]; text: string | undefined }> {
  const child = execa("dpkg-deb", ["--fsys-tarfile", deb], {
    buffer: { stdout: false, stderr: true },
  });
  const extract = tar.extract();
  const files: string[] = [];
  let text: string | undefined;
  extract.on("entry", (header, stream, next) => {
    const chunks: Buffer[] = [];
    if (header.type !== "directory") files.push(header.name);
    if (header.name === member)
      stream.on("data", (chunk: unknown) => void chunks.push(chunk as Buffer));
    stream.on("end", () => {
      if (header.name === member) text = Buffer.concat(chunks).toString("utf8");
      next();
    });
    stream.resume();
  });
  const read = new Promise<void>((resolve, reject) => {
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  child.stdout!.pipe(extract);
  await Promise.all([child, read]);
  return { files, text };
}
