import { describe, expect, it } from "vitest";
import {
  formatPublicKey,
  formatSecretKey,
  generateKeyPair,
  parsePublicKey,
  parseSecretKey,
  signData,
  verifyData,
} from "../../../../builder/sign/minisign.ts";

const secret = generateKeyPair();
const pub = parsePublicKey(formatPublicKey(secret));
const data = Buffer.from("podboot.iso contents");
const signature = signData(secret, data, "podboot.iso", 1_700_000_000);

describe("minisign format", () => {
  it("round-trips keys through their files", () => {
    const again = parseSecretKey(formatSecretKey(secret));
    expect(again.seed.equals(secret.seed)).toBe(true);
    expect(again.keyId.equals(secret.keyId)).toBe(true);
    expect(pub.key.equals(secret.key)).toBe(true);
  });

  it("verifies its own signature and returns the trusted comment", () => {
    expect(verifyData(pub, data, signature, "podboot.iso").trustedComment).toBe(
      "timestamp:1700000000\tfile:podboot.iso\thashed",
    );
  });

  it("a changed file fails", () => {
    expect(() => verifyData(pub, Buffer.from("podboot.iso contents!"), signature)).toThrow(
      /does not match the file: it was changed after signing/,
    );
  });

  it("a signature for another file says which file it is for", () => {
    expect(() => verifyData(pub, Buffer.from("other"), signature, "initrd.img")).toThrow(
      /the signature is for podboot\.iso, not for initrd\.img/,
    );
  });

  it("another key is named by its key id", () => {
    const other = parsePublicKey(formatPublicKey(generateKeyPair()));
    expect(() => verifyData(other, data, signature)).toThrow(/signed with key [0-9A-F]{16}, not/);
  });

  it("a truncated signature is reported as truncated", () => {
    const lines = signature.split("\n");
    expect(() => verifyData(pub, data, lines.slice(0, 2).join("\n"))).toThrow(/truncated/);
    expect(() => verifyData(pub, data, `${lines[0]}\n${lines[1]!.slice(0, 40)}\n`)).toThrow(
      /truncated or damaged/,
    );
  });

  it("a changed trusted comment fails", () => {
    const forged = signature.replace("file:podboot.iso", "file:evil.iso");
    expect(() => verifyData(pub, data, forged)).toThrow(/trusted comment was changed/);
  });

  it("refuses password-encrypted secret keys with the way out", () => {
    const encrypted = Buffer.from(formatSecretKey(secret).split("\n")[1]!, "base64");
    encrypted.write("Sc", 2);
    const text = `untrusted comment: minisign encrypted secret key\n${encrypted.toString("base64")}\n`;
    expect(() => parseSecretKey(text)).toThrow(/encrypted with a password/);
  });
});
