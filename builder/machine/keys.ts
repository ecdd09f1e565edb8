// The SSH key a machine trusts: the user's (--identity, a private key with its .pub beside it, or
// a public key when the private one lives in an agent) or one podboot makes for the machine.
import { readFile } from "node:fs/promises";
import { PodbootError } from "../errors.ts";

const PUBLIC_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$/;

export function isPublicKey(text: string): boolean {
  return PUBLIC_KEY.test(text.trim()) && text.trim().split("\n").length === 1;
}

/** For --identity FILE: the public key to seed and the private key to log in with. */
export async function identityFrom(
  file: string,
): Promise<{ publicKey: string; privateKey: string }> {
  const privateKey = file.endsWith(".pub") ? file.slice(0, -4) : file;
  const pubFile = file.endsWith(".pub") ? file : `${file}.pub`;
  const publicKey = await readFile(pubFile, "utf8").catch(() => {
    throw new PodbootError(
      `--identity ${file}: no public key ${pubFile} beside it`,
      "pass a key made by ssh-keygen (its .pub must be beside it), or leave --identity out and podboot makes one",
    );
  });
  if (!isPublicKey(publicKey)) {
    throw new PodbootError(
      `--identity ${file}: ${pubFile} is not an SSH public key (one line: TYPE BASE64 [COMMENT])`,
      "pass the key ssh-keygen made, e.g. ~/.ssh/id_ed25519",
    );
  }
  return { publicKey: publicKey.trim(), privateKey };
}
