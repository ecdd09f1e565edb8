import { mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { CA_BUNDLE, writeCaBundle } from "../../../../builder/steps/extension-tree.ts";

it("writes the CA bundle from ca-certificates' certificates, in path order", async () => {
  const stage = await mkdtemp(path.join(os.tmpdir(), "podboot-ca-"));
  const mozilla = path.join(stage, "usr/share/ca-certificates/mozilla");
  await mkdir(mozilla, { recursive: true });
  await writeFile(
    path.join(mozilla, "B_Root.crt"),
    "-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----",
  );
  await writeFile(
    path.join(mozilla, "A_Root.crt"),
    "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n",
  );
  await writeFile(path.join(mozilla, "README"), "not a certificate");
  expect(await writeCaBundle(stage)).toBe(2);
  const bundle = await readFile(path.join(stage, CA_BUNDLE), "utf8");
  expect(bundle).toBe(
    "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n" +
      "-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n",
  );
  expect((await stat(path.join(stage, CA_BUNDLE))).mode & 0o777).toBe(0o644);
});

it("writes nothing where no certificates are unpacked", async () => {
  const stage = await mkdtemp(path.join(os.tmpdir(), "podboot-ca-"));
  expect(await writeCaBundle(stage)).toBe(0);
  await expect(stat(path.join(stage, CA_BUNDLE))).rejects.toThrow();
});
