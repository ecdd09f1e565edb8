import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  hostCause,
  hostOf,
  isUnreachable,
  REMEMBER_MS,
  rememberedUnreachable,
  rememberUnreachable,
} from "../../../../builder/steps/unreachable.ts";

describe("remembered unreachable upstreams", () => {
  it("remembers a host for a while, then asks again", async () => {
    const cache = await mkdtemp(path.join(os.tmpdir(), "podboot-unreachable-"));
    expect(await rememberedUnreachable(cache, "github.com")).toBeUndefined();
    await rememberUnreachable(cache, "github.com", "Could not resolve host: github.com");
    const now = Date.now();
    expect(await rememberedUnreachable(cache, "github.com", now)).toMatchObject({
      why: "Could not resolve host: github.com",
    });
    expect(await rememberedUnreachable(cache, "gitlab.com", now)).toBeUndefined();
    expect(await rememberedUnreachable(cache, "github.com", now + REMEMBER_MS + 1)).toBeUndefined();
  });

  it("remembers the host's cause, not the repository that met it first", async () => {
    const cache = await mkdtemp(path.join(os.tmpdir(), "podboot-unreachable-"));
    const line =
      "fatal: unable to access 'https://github.com/containers/podman.git/': Could not resolve host: github.com";
    await rememberUnreachable(cache, "github.com", line);
    const entry = await rememberedUnreachable(cache, "github.com");
    expect(entry?.why).toBe("Could not resolve host: github.com");
    expect(hostCause("Failed to connect to 10.0.0.1 port 443")).toBe(
      "Failed to connect to 10.0.0.1 port 443",
    );
  });

  it("counts only failures to reach the host, not a repository's answer", () => {
    expect(
      isUnreachable(
        "fatal: unable to access 'https://github.com/x/': Could not resolve host: github.com",
      ),
    ).toBe(true);
    expect(isUnreachable("Failed to connect to 10.0.0.1 port 443: Connection refused")).toBe(true);
    expect(isUnreachable("fatal: remote error: upload-pack: not our ref")).toBe(false);
    expect(hostOf("https://github.com/containers/podman.git")).toBe("github.com");
    expect(hostOf("/srv/git/podman.git")).toBe("/srv/git/podman.git");
  });
});
