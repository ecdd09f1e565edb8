import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  guestConfigScript,
  guestProxy,
  proxyConf,
  readCaCert,
} from "../../../../builder/machine/guest-config.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake+/=\n-----END CERTIFICATE-----";

describe("the host's proxy settings for the guest", () => {
  it("takes either case, and points the host's loopback at 10.0.2.2", () => {
    expect(
      guestProxy({
        https_proxy: "http://127.0.0.1:3128",
        HTTP_PROXY: "http://user:pw@localhost:8080/",
        NO_PROXY: "localhost,.corp",
      }),
    ).toEqual({
      HTTP_PROXY: "http://user:pw@10.0.2.2:8080",
      HTTPS_PROXY: "http://10.0.2.2:3128",
      NO_PROXY: "localhost,.corp",
    });
  });

  it("leaves other hosts alone and reads a bare HOST:PORT as http", () => {
    expect(guestProxy({ HTTPS_PROXY: "proxy.corp:3128" })).toEqual({
      HTTPS_PROXY: "http://proxy.corp:3128",
    });
    expect(guestProxy({})).toEqual({});
  });

  it("refuses a value podboot would have to quote, in one line", () => {
    expect(() => guestProxy({ HTTP_PROXY: 'http://a"b' })).toThrow(
      /HTTP_PROXY holds a quote, backslash or line break/,
    );
    expect(() => guestProxy({ HTTPS_PROXY: "http://[bad" })).toThrow(
      /HTTPS_PROXY=http:\/\/\[bad is not a proxy URL/,
    );
  });

  it("is a containers.conf drop-in setting podman's environment, both cases", () => {
    expect(proxyConf({ HTTPS_PROXY: "http://10.0.2.2:3128" })).toBe(
      "# Written by podboot machine start from the host's proxy settings.\n[engine]\n" +
        'env = ["HTTPS_PROXY=http://10.0.2.2:3128", "https_proxy=http://10.0.2.2:3128"]\n',
    );
  });
});

describe("--ca-cert", () => {
  it("keeps the PEM certificates of a file, and refuses a file without one", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "podboot-ca-"));
    await writeFile(path.join(dir, "ca.pem"), `subject=CN = test\n${PEM}\n${PEM}\n`);
    await writeFile(path.join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\nx\n");
    expect(await readCaCert(path.join(dir, "ca.pem"))).toBe(`${PEM}\n${PEM}\n`);
    await expect(readCaCert(path.join(dir, "key.pem"))).rejects.toThrow(
      /--ca-cert .*key\.pem: no PEM certificate in it/,
    );
    await expect(readCaCert(path.join(dir, "missing.pem"))).rejects.toThrow(/cannot read it/);
  });
});

describe("the guest's script", () => {
  it("appends the certificates to the bundle and writes the drop-in; nothing when neither", () => {
    const script = guestConfigScript({ HTTPS_PROXY: "http://10.0.2.2:1" }, `${PEM}\n`);
    expect(script).toContain(
      `cat >> /etc/ssl/certs/ca-certificates.crt <<'PODBOOT_CA'\n${PEM}\nPODBOOT_CA`,
    );
    expect(script).toContain(
      "cat > /etc/containers/containers.conf.d/50-podboot-proxy.conf <<'PODBOOT_PROXY'",
    );
    expect(script.startsWith("set -e\n")).toBe(true);
    expect(guestConfigScript({}, "")).toBe("");
  });
});
