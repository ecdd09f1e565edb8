import { describe, expect, it } from "vitest";
import { hostArtifactPath, sha256sums } from "../../../../builder/publish/manifest.ts";

describe("sha256sums", () => {
  const sha = (c: string) => c.repeat(64);

  it("names each file relative to the output directory, as sha256sum -c reads it", () => {
    const text = sha256sums("/build/out", [
      { file: "/build/out/podboot.iso", sha256: sha("a") },
      { file: "/build/out/host/podman-remote", sha256: sha("b") },
    ]);
    expect(text).toBe(`${sha("a")}  podboot.iso\n${sha("b")}  host/podman-remote\n`);
  });
});

describe("hostArtifactPath", () => {
  it("puts an artifact under host/ by its file name", () => {
    expect(hostArtifactPath("usr/bin/podman-remote")).toBe("host/podman-remote");
  });
});
