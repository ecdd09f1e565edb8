// `podboot keygen | sign | verify`: minisign-compatible Ed25519 keys and signatures.
import { chmod, readFile, writeFile } from "node:fs/promises";
import { pathExists } from "fs-extra";
import path from "node:path";
import { replaceAtomically } from "../fs/atomic.ts";
import { PodbootError } from "../errors.ts";
import {
  formatPublicKey,
  formatSecretKey,
  generateKeyPair,
  parsePublicKey,
  parseSecretKey,
  signData,
  verifyData,
} from "../sign/minisign.ts";

async function readOrExplain(file: string, what: string, fix: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch {
    throw new PodbootError(`cannot read the ${what} ${file}`, fix);
  }
}

export async function keygen(options: { secretKey: string; publicKey: string; force: boolean }) {
  for (const file of [options.secretKey, options.publicKey]) {
    if ((await pathExists(file)) && !options.force) {
      throw new PodbootError(
        `${file} exists; podboot will not overwrite a key`,
        "pass --force to replace it, or choose other file names with -s / -p",
      );
    }
  }
  const secret = generateKeyPair();
  await replaceAtomically(options.secretKey, async (tmp) => {
    await writeFile(tmp, formatSecretKey(secret), { mode: 0o600 });
    await chmod(tmp, 0o600);
  });
  await replaceAtomically(options.publicKey, (tmp) => writeFile(tmp, formatPublicKey(secret)));
  return secret;
}

export async function loadSecretKey(file: string) {
  const text = await readOrExplain(
    file,
    "secret key",
    `create one with \`podboot keygen -s ${file} -p ${file.replace(/\.key$/, "")}.pub\``,
  );
  try {
    return parseSecretKey(text);
  } catch (error) {
    if (!(error instanceof PodbootError)) throw error;
    throw new PodbootError(`${file}: ${error.message}`, error.fix);
  }
}

/** Writes FILE.minisig next to each file. */
export async function signFiles(secretKeyFile: string, files: string[], timestamp: number) {
  const secret = await loadSecretKey(secretKeyFile);
  for (const file of files) {
    const data = await readOrExplain(file, "file to sign", "pass an existing file").then(() =>
      readFile(file),
    );
    const signature = signData(secret, data, path.basename(file), timestamp);
    await replaceAtomically(`${file}.minisig`, (tmp) => writeFile(tmp, signature));
  }
}

export async function verifyFile(options: {
  publicKey: string;
  file: string;
  signature?: string;
}): Promise<string> {
  const pub = parsePublicKey(
    (await readOrExplain(options.publicKey, "public key", "pass the .pub file with -p")).trim(),
  );
  const data = await readOrExplain(options.file, "file", "pass an existing file").then(() =>
    readFile(options.file),
  );
  const signatureFile = options.signature ?? `${options.file}.minisig`;
  const signature = await readOrExplain(
    signatureFile,
    "signature",
    `pass the signature with -x, or sign the file with \`podboot sign\``,
  );
  return verifyData(pub, data, signature, path.basename(options.file)).trustedComment;
}
