// Ed25519 signatures in minisign's file formats, with node:crypto, so that keys and signatures
// work with the `minisign` command line both ways.
//   public key   "Ed" | key id (8) | public key (32)
//   secret key   "Ed" | kdf "\0\0" (not encrypted) | "B2" | salt (32) | opslimit (8) | memlimit (8)
//                | key id (8) | seed+public key (64) | BLAKE2b-256("Ed" | key id | secret) (32)
//   signature    "ED" | key id (8) | Ed25519(BLAKE2b-512(file)) (64), then a trusted comment and
//                Ed25519(signature | trusted comment) (64)
// Encrypted secret keys (minisign's default, scrypt) are not read: podboot keys are meant for CI
// secrets, where the secret store is the protection; make one with `podboot keygen` or
// `minisign -G -W`.
import { blake2b } from "@noble/hashes/blake2b";
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
} from "node:crypto";
import { PodbootError } from "../errors.ts";

export interface PublicKey {
  keyId: Buffer;
  key: Buffer;
}

export interface SecretKey extends PublicKey {
  seed: Buffer;
}

const SIG_ALG = Buffer.from("Ed");
const PREHASHED = Buffer.from("ED");

function keyIdHex(keyId: Buffer): string {
  return Buffer.from(keyId).reverse().toString("hex").toUpperCase();
}

function privateKeyObject(secret: SecretKey) {
  return createPrivateKey({
    key: {
      kty: "OKP",
      crv: "Ed25519",
      d: secret.seed.toString("base64url"),
      x: secret.key.toString("base64url"),
    },
    format: "jwk",
  });
}

function publicKeyObject(pub: PublicKey) {
  return createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: pub.key.toString("base64url") },
    format: "jwk",
  });
}

export function generateKeyPair(): SecretKey {
  const jwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
  return {
    keyId: randomBytes(8),
    key: Buffer.from(jwk.x!, "base64url"),
    seed: Buffer.from(jwk.d!, "base64url"),
  };
}

/** The two lines of a minisign file: comment and base64 payload (the rest is returned too). */
function lines(text: string, what: string): string[] {
  const all = text.replace(/\r/g, "").split("\n");
  if (!all[0]?.startsWith("untrusted comment:") || !all[1]) {
    throw new PodbootError(
      `not a minisign ${what}: it must start with an "untrusted comment:" line and a base64 line`,
      `check the file is a minisign ${what}`,
    );
  }
  return all;
}

function decode(line: string, length: number, what: string): Buffer {
  const data = Buffer.from(line.trim(), "base64");
  if (data.length !== length) {
    throw new PodbootError(
      `the ${what} is truncated or damaged (${data.length} bytes, expected ${length})`,
      `get an intact copy of the ${what}`,
    );
  }
  return data;
}

export function formatPublicKey(pub: PublicKey): string {
  return [
    `untrusted comment: minisign public key ${keyIdHex(pub.keyId)}`,
    Buffer.concat([SIG_ALG, pub.keyId, pub.key]).toString("base64"),
    "",
  ].join("\n");
}

export function parsePublicKey(text: string): PublicKey {
  // A bare base64 line (as `minisign -P` takes) is accepted too.
  const line = text.startsWith("untrusted comment:") ? lines(text, "public key")[1]! : text;
  const data = decode(line, 42, "public key");
  if (!data.subarray(0, 2).equals(SIG_ALG)) {
    throw new PodbootError("the public key is not an Ed25519 minisign key", "use a minisign key");
  }
  return { keyId: data.subarray(2, 10), key: data.subarray(10, 42) };
}

function secretChecksum(secret: SecretKey): Buffer {
  const material = Buffer.concat([SIG_ALG, secret.keyId, secret.seed, secret.key]);
  return Buffer.from(blake2b(material, { dkLen: 32 }));
}

export function formatSecretKey(secret: SecretKey): string {
  const payload = Buffer.concat([
    SIG_ALG,
    Buffer.alloc(2), // kdf: none
    Buffer.from("B2"),
    Buffer.alloc(32 + 8 + 8), // salt, opslimit, memlimit: unused without a kdf
    secret.keyId,
    secret.seed,
    secret.key,
    secretChecksum(secret),
  ]);
  return [
    "untrusted comment: minisign secret key (not encrypted)",
    payload.toString("base64"),
    "",
  ].join("\n");
}

export function parseSecretKey(text: string): SecretKey {
  const data = decode(lines(text, "secret key")[1]!, 158, "secret key");
  if (!data.subarray(0, 2).equals(SIG_ALG)) {
    throw new PodbootError("the secret key is not an Ed25519 minisign key", "use a minisign key");
  }
  if (!data.subarray(2, 4).equals(Buffer.alloc(2))) {
    throw new PodbootError(
      "the secret key is encrypted with a password, which podboot does not read",
      "make an unencrypted key with `podboot keygen` (or `minisign -G -W`) and keep it in a secret store",
    );
  }
  const secret = {
    keyId: data.subarray(54, 62),
    seed: data.subarray(62, 94),
    key: data.subarray(94, 126),
  };
  // minisign -W leaves the checksum of an unencrypted key as zeros; otherwise it must match.
  const checksum = data.subarray(126, 158);
  if (!checksum.equals(Buffer.alloc(32)) && !secretChecksum(secret).equals(checksum)) {
    throw new PodbootError("the secret key's checksum does not match", "the key file is damaged");
  }
  return secret;
}

/** Signs data; trustedComment defaults to minisign's "timestamp:… file:… hashed". */
export function signData(
  secret: SecretKey,
  data: Buffer,
  fileName: string,
  timestamp: number,
): string {
  const digest = createHash("blake2b512").update(data).digest();
  const signature = sign(null, digest, privateKeyObject(secret));
  const trusted = `timestamp:${timestamp}\tfile:${fileName}\thashed`;
  const global = sign(
    null,
    Buffer.concat([signature, Buffer.from(trusted)]),
    privateKeyObject(secret),
  );
  return [
    "untrusted comment: signature from podboot secret key",
    Buffer.concat([PREHASHED, secret.keyId, signature]).toString("base64"),
    `trusted comment: ${trusted}`,
    global.toString("base64"),
    "",
  ].join("\n");
}

/** Checks a .minisig against data and a public key; throws a PodbootError saying what is wrong. */
export function verifyData(
  pub: PublicKey,
  data: Buffer,
  signatureText: string,
  fileName?: string,
): { trustedComment: string } {
  const all = lines(signatureText, "signature");
  const sig = decode(all[1]!, 74, "signature");
  const algorithm = sig.subarray(0, 2);
  if (!algorithm.equals(PREHASHED) && !algorithm.equals(SIG_ALG)) {
    throw new PodbootError("unknown signature algorithm", "sign with minisign or podboot");
  }
  if (!sig.subarray(2, 10).equals(pub.keyId)) {
    throw new PodbootError(
      `signed with key ${keyIdHex(sig.subarray(2, 10))}, not with this public key (${keyIdHex(pub.keyId)})`,
      "verify with the public key that made the signature",
    );
  }
  const trustedLine = all[2] ?? "";
  if (!trustedLine.startsWith("trusted comment: ") || !all[3]) {
    throw new PodbootError(
      "the signature is truncated: its trusted comment is missing",
      "get an intact signature",
    );
  }
  const trusted = trustedLine.slice("trusted comment: ".length);
  const global = decode(all[3], 64, "signature's comment signature");
  const key = publicKeyObject(pub);
  const message = algorithm.equals(PREHASHED)
    ? createHash("blake2b512").update(data).digest()
    : data;
  if (!verify(null, message, key, sig.subarray(10, 74))) {
    const named = /(?:^|\t)file:([^\t]*)/.exec(trusted)?.[1];
    const other = fileName && named && named !== fileName;
    throw new PodbootError(
      other
        ? `the signature is for ${named}, not for ${fileName}`
        : "the signature does not match the file: it was changed after signing, or signed by another key",
      other ? `use ${named}.minisig` : "do not use this file; get it again from its source",
      { exitCode: 1 },
    );
  }
  if (!verify(null, Buffer.concat([sig.subarray(10, 74), Buffer.from(trusted)]), key, global)) {
    throw new PodbootError(
      "the trusted comment was changed after signing",
      "do not trust this signature; get it again from its source",
      { exitCode: 1 },
    );
  }
  return { trustedComment: trusted };
}
