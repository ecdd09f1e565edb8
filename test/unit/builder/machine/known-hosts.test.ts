import { mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  hostName,
  pinHostKeys,
  publicKeys,
  withoutHost,
} from "../../../../builder/machine/known-hosts.ts";

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOB+uGBAyKyqzQoru3DdyjOGNNfm72ib4qzf1y34XcQj";
const ECDSA =
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMsgm0j+sP4va1JTbVLjFLZMzZxVOhWEcJdZcl/Pxw0XMDVswj9GxsGs5ROKdtA0DpktlRzr0LTxUdBSblkcles=";
const OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJx6bOtZf0zfEP8zrgVYxRaRxDbt4ZbjvmK4vjzaXAQx";
/** `[127.0.0.1]:2222 OTHER` as OpenSSH hashes it (ssh-keygen -H). */
const HASHED_2222 = `|1|ZpvBcy0NGlK4nQDIghUYSiqEUyQ=|OJJU+p3aavs0VbM04fmWbOSxp2g= ${OTHER}`;

describe("publicKeys", () => {
  it("takes the keys out of dropbearkey -y's output, without comments", () => {
    const output = [
      "Public key portion is:",
      `${ECDSA} root@podboot`,
      "Fingerprint: SHA256:eH6GbBJlrnrrIoC+abitLuRxIZE2KKU/Mi10gFuUbMM",
      "Public key portion is:",
      `${ED25519} root@podboot`,
      "Fingerprint: SHA256:tAKMjTJBWdAfm06uSVCrEkTkNDsaxPmeiwKpJ+SzvEM",
    ].join("\n");
    expect(publicKeys(`x86_64\n${output}\n`)).toEqual([ECDSA, ED25519]);
    expect(publicKeys("x86_64\n")).toEqual([]);
  });
});

describe("withoutHost", () => {
  it("drops the port's plain and hashed entries and keeps every other line as it was", () => {
    const file = [
      "# my hosts",
      `[127.0.0.1]:2222 ${OTHER}`,
      `example.org,[127.0.0.1]:2222 ${OTHER}`,
      HASHED_2222,
      `[127.0.0.1]:22222 ${OTHER}`,
      "",
      `@revoked [127.0.0.1]:2222 ${OTHER}`,
      `example.org ${ED25519}`,
      "",
    ].join("\n");
    expect(withoutHost(file, hostName(2222))).toEqual([
      "# my hosts",
      `[127.0.0.1]:22222 ${OTHER}`,
      "",
      `@revoked [127.0.0.1]:2222 ${OTHER}`,
      `example.org ${ED25519}`,
    ]);
  });

  it("keeps a hashed entry of another port", () => {
    expect(withoutHost(HASHED_2222, hostName(2223))).toEqual([HASHED_2222]);
  });
});

describe("pinHostKeys", () => {
  it("makes ~/.ssh/known_hosts (private) with the machine's keys when there is none", async () => {
    const file = path.join(
      await mkdtemp(path.join(os.tmpdir(), "podboot-kh-")),
      ".ssh/known_hosts",
    );
    await pinHostKeys(2222, [ED25519, ECDSA], file);
    expect(await readFile(file, "utf8")).toBe(
      `[127.0.0.1]:2222 ${ED25519}\n[127.0.0.1]:2222 ${ECDSA}\n`,
    );
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
  });

  it("replaces an old machine's key for the same port, and removes it with no keys", async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), "podboot-kh-")), "known_hosts");
    await writeFile(file, `example.org ${ED25519}\n${HASHED_2222}\n`);
    await pinHostKeys(2222, [ECDSA], file);
    expect(await readFile(file, "utf8")).toBe(
      `example.org ${ED25519}\n[127.0.0.1]:2222 ${ECDSA}\n`,
    );
    await pinHostKeys(2222, [], file);
    expect(await readFile(file, "utf8")).toBe(`example.org ${ED25519}\n`);
  });

  it("writes nothing when there is no file and no key to add", async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), "podboot-kh-")), "known_hosts");
    await pinHostKeys(2222, [], file);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
  });

  it("rejects (for start's warning) when the file cannot be read or written", async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), "podboot-kh-")), "known_hosts");
    await mkdir(file);
    await expect(pinHostKeys(2222, [ED25519], file)).rejects.toThrow(/EISDIR/);
    expect((await stat(file)).isDirectory()).toBe(true);
  });
});
