// For the machine test: a CA made with openssl, Debian's docker-registry (the distribution
// registry) serving TLS with a certificate signed by it, one small image pushed into it through
// the registry API, and an HTTP proxy that tunnels every CONNECT to that registry, recording what
// was asked for.
import { execa, type ResultPromise } from "execa";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect, type AddressInfo } from "node:net";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { setTimeout as sleep } from "node:timers/promises";
import tar from "tar-stream";

export const REGISTRY_HOST = "registry.podboot.test";

const digest = (data: Buffer | string) =>
  `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** A CA and a server certificate for REGISTRY_HOST signed by it, in `dir`. */
export async function makeCa(dir: string): Promise<TlsFiles> {
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

async function freePort(): Promise<number> {
  const server = createHttpServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
}

/** One HTTPS request to the registry on the loopback, trusting only the test's CA. */
function ask(
  url: URL,
  ca: Buffer,
  method: string,
  body?: Buffer | string,
  contentType = "application/octet-stream",
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        ca,
        servername: REGISTRY_HOST,
        headers: body === undefined ? {} : { "Content-Type": contentType },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function expectStatus(answer: Answer, status: number, what: string): void {
  if (answer.status !== status)
    throw new Error(`docker-registry answered ${answer.status} to ${what} (wanted ${status})`);
}

/** Pushes `hello:1` the way a client does: each blob by an upload session, then the manifest. */
async function push(base: URL, ca: Buffer): Promise<void> {
  const { manifest, blobs } = await image();
  for (const [blobDigest, data] of blobs) {
    const started = await ask(new URL("/v2/hello/blobs/uploads/", base), ca, "POST");
    expectStatus(started, 202, "starting an upload");
    const upload = new URL(started.headers.location ?? "", base);
    upload.searchParams.set("digest", blobDigest);
    expectStatus(await ask(upload, ca, "PUT", data), 201, `the blob ${blobDigest}`);
  }
  const manifestUrl = new URL("/v2/hello/manifests/1", base);
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  expectStatus(await ask(manifestUrl, ca, "PUT", manifest, mediaType), 201, "the manifest");
}

/** Starts docker-registry on a free loopback port and waits until its API answers. */
async function serve(
  dir: string,
  tls: TlsFiles,
): Promise<{ port: number; process: ResultPromise }> {
  const port = await freePort();
  const config = path.join(dir, "registry.yml");
  await mkdir(path.join(dir, "registry-data"), { recursive: true });
  await writeFile(
    config,
    [
      "version: 0.1",
      "log: { level: warn }",
      `storage: { filesystem: { rootdirectory: ${path.join(dir, "registry-data")} } }`,
      `http: { addr: "127.0.0.1:${port}", tls: { certificate: ${tls.cert}, key: ${tls.key} } }`,
      "",
    ].join("\n"),
  );
  const registry = execa("docker-registry", ["serve", config], { all: true, reject: false });
  const ca = await readFile(tls.caCert);
  for (let attempt = 0; attempt < 100; attempt++) {
    if (registry.exitCode !== undefined && registry.exitCode !== null)
      throw new Error(`docker-registry exited: ${(await registry).all}`);
    const answer = await ask(new URL(`https://127.0.0.1:${port}/v2/`), ca, "GET").catch(
      () => undefined,
    );
    if (answer?.status === 200) return { port, process: registry };
    await sleep(100);
  }
  registry.kill();
  throw new Error(`docker-registry did not answer on 127.0.0.1:${port} within 10 s`);
}

export interface TestRegistry {
  proxyPort: number;
  /** The CONNECT targets the proxy was asked for. */
  connects: string[];
  close(): void;
}

interface TlsFiles {
  caCert: string;
  cert: string;
  key: string;
}

/** The registry (TLS, on the loopback) holding `hello:1`, and the proxy in front of it. */
export async function startRegistry(dir: string, tls: TlsFiles): Promise<TestRegistry> {
  const registry = await serve(dir, tls);
  try {
    await push(new URL(`https://127.0.0.1:${registry.port}`), await readFile(tls.caCert));
  } catch (error) {
    registry.process.kill();
    throw error;
  }
  const connects: string[] = [];
  const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
  proxy.on("connect", (req, socket, head) => {
    connects.push(req.url ?? "");
    const upstream = connect(registry.port, "127.0.0.1", () => {
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
      registry.process.kill();
    },
  };
}
