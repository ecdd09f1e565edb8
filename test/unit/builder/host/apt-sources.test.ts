import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  hostDebianMirror,
  parseDeb822,
  parseSourcesList,
  pickDebianMirror,
} from "../../../../builder/host/apt-sources.ts";

describe("apt sources", () => {
  it("parses one-line entries, skipping options, comments and deb-src", () => {
    const text =
      "# a comment\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\ndeb-src http://mirror.example/debian bookworm main\n";
    expect(parseSourcesList(text)).toEqual([
      {
        uri: "http://mirror.example/debian",
        suites: ["bookworm"],
        components: ["main", "contrib"],
      },
    ]);
  });

  it("parses deb822 stanzas and skips disabled ones", () => {
    const text =
      "Types: deb\nURIs: http://a.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nEnabled: no\nURIs: http://b.example/debian\nSuites: trixie\nComponents: main\n";
    expect(parseDeb822(text)).toEqual([
      {
        uri: "http://a.example/debian",
        suites: ["bookworm", "bookworm-updates"],
        components: ["main"],
      },
    ]);
  });

  it("picks the Debian archive, not security or third-party repositories", () => {
    const mirror = pickDebianMirror([
      { uri: "https://vendor.example/apt", suites: ["nodistro"], components: ["main"] },
      {
        uri: "http://sec.example/debian-security",
        suites: ["bookworm-security"],
        components: ["main"],
      },
      { uri: "http://arch.example/debian/", suites: ["bookworm"], components: ["main"] },
    ]);
    expect(mirror).toBe("http://arch.example/debian");
  });

  it("reads a host's /etc/apt and fails with the fix when there is no Debian mirror", async () => {
    const etc = await mkdtemp(path.join(os.tmpdir(), "apt-"));
    await mkdir(path.join(etc, "sources.list.d"));
    await writeFile(
      path.join(etc, "sources.list.d", "debian.sources"),
      "Types: deb\nURIs: http://m.example/debian\nSuites: bookworm\nComponents: main\n",
    );
    expect(await hostDebianMirror(etc)).toBe("http://m.example/debian");
    const empty = await mkdtemp(path.join(os.tmpdir(), "apt-"));
    await expect(hostDebianMirror(empty)).rejects.toThrow(/no Debian mirror found/);
  });
});
