import { execa } from "execa";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  ETC_DEFAULTS,
  extensionRelease,
  setupScript,
  setupUnit,
} from "../../../../builder/steps/sysext.ts";

describe("sysext metadata", () => {
  it("the release file lets any distribution on x86-64 merge it", () => {
    const release = extensionRelease("podman", "0.1.0");
    expect(release.split("\n")).toEqual(
      expect.arrayContaining(["ID=_any", "ARCHITECTURE=x86-64", "PODBOOT_VERSION=0.1.0"]),
    );
  });

  it("the setup unit is a oneshot after systemd-sysext that runs the setup script", () => {
    const unit = setupUnit("podman");
    expect(unit).toContain("Type=oneshot");
    expect(unit).toContain("After=systemd-sysext.service");
    expect(unit).toContain("ExecStart=/usr/libexec/podboot-sysext/setup");
  });
});

describe("the setup script", () => {
  // Run against a scratch directory standing for / (the script's paths are rewritten to it).
  async function runIn(existing: Record<string, string>, subuid: string) {
    const root = await mkdtemp(path.join(os.tmpdir(), "podboot-setup-"));
    const defaults = path.join(root, ETC_DEFAULTS);
    await mkdir(path.join(defaults, "containers"), { recursive: true });
    await writeFile(path.join(defaults, "containers/policy.json"), "default policy");
    await writeFile(path.join(defaults, "containers/registries.conf"), "default registries");
    await mkdir(path.join(root, "etc/containers"), { recursive: true });
    for (const [file, text] of Object.entries(existing)) {
      await writeFile(path.join(root, "etc", file), text);
    }
    await writeFile(path.join(root, "etc/subuid"), subuid);
    await writeFile(path.join(root, "etc/subgid"), subuid);
    const script = setupScript()
      .replaceAll("/etc/", `${root}/etc/`)
      .replace(`defaults=/${ETC_DEFAULTS}`, `defaults=${defaults}`);
    const result = await execa("sh", ["-c", script]);
    return { root, output: result.stdout };
  }

  it("copies each default the host lacks and never overwrites the host's own", async () => {
    const { root, output } = await runIn(
      { "containers/policy.json": "the host's policy" },
      "alice:100000:65536\n",
    );
    expect(await readFile(path.join(root, "etc/containers/policy.json"), "utf8")).toBe(
      "the host's policy",
    );
    expect(await readFile(path.join(root, "etc/containers/registries.conf"), "utf8")).toBe(
      "default registries",
    );
    expect(output).toContain(`installed default ${root}/etc/containers/registries.conf`);
    expect(output).not.toContain("policy.json");
    expect(output).not.toContain("subuid");
  });

  it("says what rootless podman needs when /etc/subuid has no ranges", async () => {
    const { output } = await runIn({}, "");
    expect(output).toMatch(
      /\/etc\/subuid or .*\/etc\/subgid has no ranges; rootless podman needs them/,
    );
  });
});
