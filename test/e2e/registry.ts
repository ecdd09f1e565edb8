// For the machine test: a CA made with openssl, a TLS registry signed by it serving one small
// image (the registry API's read side, enough for a pull), and an HTTP proxy that tunnels every
// CONNECT to that registry, recording what was asked for.
import { execa } from "execa";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect, type AddressInfo } from "node:net";
import path from "node:path";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";

export const REGISTRY_HOST = "registry.podboot.test";

const digest = (data: Buffer | string) =>
  `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** A CA and a server certificate for REGISTRY_HOST signed by it, in `dir`. */
export async function makeCa(dir: string): Promise<{ caCert: string; cert: string; key: string }> {
  const file = (name: string) => path.join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await execa("openssl", [
    ...["req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.crt")],
    ...["-days", "2", "-subj", "/CN=podboot test CA"],
  ]);
  await execa("openssl", [
    ...["req", ...ec, "-keyout", file("registry.key"), "-out", file("registry.csr")],
    ...["-subj", `/CN=${REGISTRY_HOST}`],
  ]);
  await writeFile(
    file("registry.ext"),
    `subjectAltName=DNS:${REGISTRY_HOST}\nextendedKeyUsage=serverAuth\n`,
  );
  await execa("openssl", [
    ...["x509", "-req", "-in", file("registry.csr"), "-CA", file("ca.crt")],
    ...["-CAkey", file("ca.key"), "-CAcreateserial", "-days", "2"],
    ...["-extfile", file("registry.ext"), "-out", file("registry.crt")],
  ]);
  return { caCert: file("ca.crt"), cert: file("registry.crt"), key: file("registry.key") };
}

async function layerTar(name: string, content: string): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (chunk: unknown) => void chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve) => pack.on("end", resolve));
  pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** One image, `hello:1`, as the registry serves it: its manifest and blobs by digest. */
async function image(): Promise<{ manifest: string; blobs: Map<string, Buffer> }> {
  const layer = await layerTar("hello.txt", "pulled through the proxy\n");
  const gzipped = gzipSync(layer);
  const config = JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["/hello.txt"] },
    rootfs: { type: "layers", diff_ids: [digest(layer)] },
  });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: digest(config),
      size: Buffer.byteLength(config),
    },
    layers: [
      {
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: digest(gzipped),
        size: gzipped.length,
      },
    ],
  });
  const blobs = new Map([
    [digest(config), Buffer.from(config)],
    [digest(gzipped), gzipped],
  ]);
  return { manifest, blobs };
}

const listen = (server: Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );

export interface TestRegistry {
  proxyPort: number;
  /** The CONNECT targets the proxy was asked for. */
  connects: string[];
  close(): void;
}

/** The registry (TLS, on the loopback) and the proxy in front of it. */
export async function startRegistry(tls: { cert: string; key: string }): Promise<TestRegistry> {
  const { manifest, blobs } = await image();
  const registry = createHttpsServer(
    { cert: await readFile(tls.cert), key: await readFile(tls.key) },
    (req, res) => {
      const url = req.url ?? "";
      const blob = /^\/v2\/hello\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url)?.[1];
      if (url === "/v2/") {
        res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
      } else if (/^\/v2\/hello\/manifests\/(1|sha256:[0-9a-f]{64})$/.test(url)) {
        res.writeHead(200, {
          "Content-Type": "application/vnd.oci.image.manifest.v1+json",
          "Docker-Content-Digest": digest(manifest),
          "Content-Length": Buffer.byteLength(manifest),
        });
        res.end(req.method === "HEAD" ? undefined : manifest);
      } else if (blob && blobs.has(blob)) {
        const data = blobs.get(blob)!;
        res.writeHead(200, {
          "Content-Type": "application/octet-stream",
          "Content-Length": data.length,
        });
        res.end(req.method === "HEAD" ? undefined : data);
      } else {
        res.writeHead(404).end();
      }
    },
  );
  const registryPort = await listen(registry);
  const connects: string[] = [];
  const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
  proxy.on("connect", (req, socket, head) => {
    connects.push(req.url ?? "");
    const upstream = connect(registryPort, "127.0.0.1", () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  const proxyPort = await listen(proxy);
  return {
    proxyPort,
    connects,
    close() {
      proxy.close();
      registry.close();
    },
  };
}
