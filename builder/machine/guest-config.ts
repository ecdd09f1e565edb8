// What a machine takes from its host at each start: the proxy settings of the shell that starts
// it (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, either case) and the CA certificates given to init
// (--ca-cert). Both are written into the guest's RAM-resident /etc before `start` returns: the
// proxy as a containers.conf drop-in podman reads (for its pulls, and passed on to containers),
// the certificates appended to the CA bundle TLS clients read. A proxy on the host's loopback is
// reached through QEMU's user network, where the host is 10.0.2.2.
import { readFile } from "node:fs/promises";
import { PodbootError } from "../errors.ts";

const PROXY_VARS = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"] as const;
/** The host as the guest sees it on QEMU's user network. */
export const HOST_FROM_GUEST = "10.0.2.2";
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);
export const PROXY_CONF = "/etc/containers/containers.conf.d/50-podboot-proxy.conf";
export const GUEST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
const PEM = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/g;

/** The proxy variables for the guest, from an environment; loopback hosts become the host. */
export function guestProxy(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PROXY_VARS) {
    const value = env[name] ?? env[name.toLowerCase()];
    if (!value) continue;
    if (/["\\\n\r]/.test(value)) {
      throw new PodbootError(
        `${name} holds a quote, backslash or line break, which podboot will not pass into the machine`,
        `fix ${name} in this shell, or unset it`,
      );
    }
    out[name] = name === "NO_PROXY" ? value : reachableProxy(name, value);
  }
  return out;
}

function reachableProxy(name: string, value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new PodbootError(
      `${name}=${value} is not a proxy URL`,
      `set it as http://HOST:PORT, or unset ${name}`,
    );
  }
  if (LOOPBACK.has(url.hostname)) url.hostname = HOST_FROM_GUEST;
  return url.href.replace(/\/$/, "");
}

/** The containers.conf drop-in: the engine's environment (pulls) and so the containers'. */
export function proxyConf(proxy: Record<string, string>): string {
  const entries = Object.entries(proxy).flatMap(([name, value]) => [
    `"${name}=${value}"`,
    `"${name.toLowerCase()}=${value}"`,
  ]);
  return `# Written by podboot machine start from the host's proxy settings.\n[engine]\nenv = [${entries.join(", ")}]\n`;
}

/** The PEM certificates of `--ca-cert FILE`, checked: a file without one is refused. */
export async function readCaCert(file: string): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => {
    throw new PodbootError(`--ca-cert ${file}: cannot read it`, "give a readable PEM file");
  });
  const certs = text.match(PEM);
  if (!certs) {
    throw new PodbootError(
      `--ca-cert ${file}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)`,
      "give the CA's certificate in PEM form (openssl x509 -in CA.der -inform der -out CA.pem)",
    );
  }
  return certs.map((c) => `${c.trim()}\n`).join("");
}

/** A shell script for the guest (run by sh, its text on stdin) writing both; "" when none. */
export function guestConfigScript(proxy: Record<string, string>, caPem: string): string {
  const lines: string[] = [];
  if (caPem) {
    lines.push(
      `mkdir -p ${GUEST_CA_BUNDLE.replace(/\/[^/]+$/, "")}`,
      `cat >> ${GUEST_CA_BUNDLE} <<'PODBOOT_CA'`,
      caPem.trimEnd(),
      "PODBOOT_CA",
    );
  }
  if (Object.keys(proxy).length > 0) {
    lines.push(
      `mkdir -p ${PROXY_CONF.replace(/\/[^/]+$/, "")}`,
      `cat > ${PROXY_CONF} <<'PODBOOT_PROXY'`,
      proxyConf(proxy).trimEnd(),
      "PODBOOT_PROXY",
    );
  }
  return lines.length ? `set -e\n${lines.join("\n")}\n` : "";
}
