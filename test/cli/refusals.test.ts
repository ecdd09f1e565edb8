// The corpus of broken recipes: every class of mistake a user can make in a recipe, a component
// or toolchain recipe, across files, or in a value that becomes a path. Each goes through the
// real CLI (`podboot build`) with an out/ and a cache of its own and a mirror that only counts
// connections, and must end with exit 2 and one line naming the file (and line:col where the
// mistake is on a line), no stack trace, nothing written anywhere, no network touched.
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { walkTree } from "../../builder/fs/tree.ts";
import { defaultRecipe, podboot, projectDir, recipeDir } from "./recipes.ts";

let mirror: Server;
let mirrorUrl: string;
let connections = 0;

beforeAll(async () => {
  mirror = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => mirror.listen(0, "127.0.0.1", resolve));
  mirrorUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/debian`;
});
afterAll(() => mirror.close());

/** The real component (or toolchain) recipes with some replaced; `null` removes one. */
async function withFiles(
  sub: "components" | "toolchains",
  changes: Record<string, string | null>,
): Promise<Record<string, string>> {
  const dir = path.join(projectDir, "recipes", sub);
  const files: Record<string, string> = {};
  for (const entry of await walkTree(dir)) {
    files[`${sub}/${entry.path}`] = await readFile(path.join(dir, entry.path), "utf8");
  }
  for (const [name, text] of Object.entries(changes)) {
    if (text === null) delete files[`${sub}/${name}.yaml`];
    else files[`${sub}/${name}.yaml`] = text;
  }
  return files;
}

const component = (name: string) =>
  readFile(path.join(projectDir, "recipes/components", `${name}.yaml`), "utf8");
const toolchain = (name: string) =>
  readFile(path.join(projectDir, "recipes/toolchains", `${name}.yaml`), "utf8");
const recipe = (change: (text: string) => string) => ({ "podboot.yaml": change(defaultRecipe) });
const replace = (from: string | RegExp, to: string) => (text: string) => {
  const changed = text.replace(from, to);
  if (changed === text) throw new Error(`the test's replacement of ${from} changed nothing`);
  return changed;
};

interface Case {
  name: string;
  files: () => Promise<Record<string, string>> | Record<string, string>;
  /** The file the error must name, relative to the recipe directory. */
  file?: string;
  /** Whether the message carries line:col (true unless the mistake is not on a line). */
  line?: boolean;
  says: RegExp;
  args?: string[];
}

const cases: Case[] = [
  // --- YAML
  {
    name: "unclosed flow sequence",
    files: () => recipe(replace("version: 0.1.0", "version: [0.1.0")),
    says: /malformed YAML/,
  },
  {
    name: "tab indentation",
    files: () => recipe(replace("  suite: trixie", "\tsuite: trixie")),
    says: /malformed YAML/,
  },
  {
    name: "duplicate key",
    files: () => recipe(replace("version: 0.1.0", "version: 0.1.0\nversion: 0.2.0")),
    says: /malformed YAML: Map keys must be unique/,
  },
  {
    name: "alias bomb (billion laughs)",
    files: () => ({
      "podboot.yaml": [
        "a: &a [x, x, x, x, x, x, x, x, x]",
        ...["b", "c", "d", "e", "f", "g", "h", "i"].map(
          (k, i) => `${k}: &${k} [${Array(9).fill(`*${"abcdefgh"[i]}`).join(", ")}]`,
        ),
        "name: podboot",
      ].join("\n"),
    }),
    says: /YAML aliases expand too far/,
  },
  {
    name: "an alias to no anchor",
    files: () => recipe(replace("name: podboot", "name: *nope")),
    says: /malformed YAML/,
  },
  {
    name: "an empty file",
    files: () => ({ "podboot.yaml": "" }),
    says: /\(top level\): a recipe is a mapping of fields .* holds nothing/,
  },
  {
    name: "a list at the top level",
    files: () => ({ "podboot.yaml": "- name: podboot\n" }),
    says: /\(top level\): a recipe is a mapping of fields .* holds a list/,
  },
  // --- schema
  {
    name: "unknown top-level key",
    files: () => recipe(replace("iso:\n", "isos: {}\niso:\n")),
    says: /unknown key isos/,
  },
  {
    name: "no name",
    files: () => recipe(replace(/^name: podboot\n/m, "")),
    says: /name: .*expected string/i,
  },
  {
    name: "a version that is not one",
    files: () => recipe(replace("version: 0.1.0", "version: one")),
    says: /version: a version such as 0\.1\.0/,
  },
  {
    name: "a name with capitals",
    files: () => recipe(replace("name: podboot", "name: PodBoot")),
    says: /name: lower-case letters/,
  },
  {
    name: "a name of 1,000 characters (it names the ISO file)",
    files: () => recipe(replace("name: podboot", `name: ${"p".repeat(1000)}`)),
    says: /name: at most 64 characters/,
  },
  {
    name: "a lower-case ISO label",
    files: () => recipe(replace("label: PODBOOT", "label: podboot")),
    says: /iso\.label: 1–16 upper-case/,
  },
  {
    name: "a squashfs block size that is no power of two",
    files: () => recipe(replace("squashfsBlockSize: 262144", "squashfsBlockSize: 3000")),
    says: /squashfsBlockSize: a power of two/,
  },
  {
    name: "an unknown kernel source",
    files: () => recipe(replace("source: build", "source: magic")),
    says: /kernel\.source: /,
  },
  {
    name: "no extensions",
    files: () =>
      recipe(replace(/^extensions:\n[\s\S]*?\n(?=# Compiled from source)/m, "extensions: []\n\n")),
    says: /extensions: .*>=1/,
  },
  {
    name: "an unknown key in an extension",
    files: () =>
      recipe(
        replace(
          "    compression: zstd\n    packages: [busybox-static, libc6]",
          "    compression: zstd\n    pakages: [x]\n    packages: [busybox-static, libc6]",
        ),
      ),
    says: /extensions\.0: unknown key pakages/,
  },
  {
    name: "an image outside localhost/",
    files: () =>
      recipe(replace("name: localhost/podboot-hello", "name: docker.io/library/busybox")),
    says: /images\.0\.name: localhost\/NAME/,
  },
  {
    name: "a mirror that is no http(s) or file URL",
    files: () =>
      recipe(replace("  suite: trixie\n", "  suite: trixie\n  mirror: ftp://example.org/debian\n")),
    says: /debian\.mirror: an http:\/\/, https:\/\/ or file:\/\/ URL/,
  },
  {
    name: "a boot menu timeout over 60 s",
    files: () => recipe(replace("timeout: 1", "timeout: 99")),
    says: /iso\.timeout: /,
  },
  {
    name: "a kernel command line GRUB would run as commands",
    files: () => recipe(replace("cmdline: console=tty0", 'cmdline: "console=tty0; reboot"\n  #')),
    says: /kernel\.cmdline: kernel parameters/,
  },
  // --- values that become paths
  {
    name: "a Debian suite that climbs out of the cache",
    files: () => recipe(replace("  suite: trixie", "  suite: ../../../etc")),
    says: /debian\.suite: a Debian suite/,
  },
  {
    name: "an archive component with a path in it",
    files: () =>
      recipe(replace("  suite: trixie\n", "  suite: trixie\n  components: [main/../..]\n")),
    says: /debian\.components\.0: an archive component/,
  },
  {
    name: "a drop glob that climbs out of the image",
    files: () => recipe(replace("  - usr/share/doc/**", "  - ../etc/**")),
    says: /drop\.0: a glob relative to the image root/,
  },
  {
    name: "an absolute keep glob",
    files: () =>
      recipe(
        replace(
          "    packages: [dropbear-bin, e2fsprogs]",
          "    packages: [dropbear-bin, e2fsprogs]\n    keep: [/etc/passwd]",
        ),
      ),
    says: /extensions\.1\.keep\.0: a glob relative to the image root/,
  },
  {
    name: "an extension drop rule with .. inside",
    files: () => recipe(replace("      - usr/sbin/e4crypt", "      - usr/../../x")),
    says: /extensions\.1\.drop\.0: a glob relative/,
  },
  {
    name: "an extension name that is a path",
    files: () => recipe(replace("  - name: tools", "  - name: ../tools")),
    says: /extensions\.6\.name: lower-case letters/,
  },
  {
    name: "a kernel fragment name that is a path",
    files: () =>
      recipe(
        replace("fragments: [base, containers, virt]", "fragments: [../base, containers, virt]"),
      ),
    says: /kernel\.build\.fragments\.0: a fragment name/,
  },
  {
    name: "a component name that is a path",
    files: () => recipe(replace("  - busybox\n", "  - ../../etc/passwd\n")),
    says: /components\.0: lower-case letters/,
  },
  {
    name: "a verifier name that is a path",
    files: () => recipe(replace("iso:\n", "signing:\n  verifier: ../../bin/sh\niso:\n")),
    says: /signing\.verifier: lower-case letters/,
  },
  {
    name: "a sysext name that is a path",
    files: () => recipe(replace("iso:\n", "sysext:\n  name: ../../x\niso:\n")),
    says: /sysext\.name: lower-case letters/,
  },
  {
    name: "a component that provides a file outside usr/",
    file: "components/catatonit.yaml",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("components", {
        catatonit: (await component("catatonit")).replace(
          "  - usr/bin/catatonit",
          "  - usr/../../etc/shadow",
        ),
      })),
    }),
    says: /provides\.0: a plain path inside usr\//,
  },
  {
    name: "a component artifact that climbs out of DESTDIR",
    file: "components/catatonit.yaml",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("components", {
        catatonit: (await component("catatonit")).replace(
          "provides:",
          "artifacts: [usr/bin/../../../root/x]\nprovides:",
        ),
      })),
    }),
    says: /artifacts\.0: a plain path inside usr\//,
  },
  {
    name: "a component's build suite that is a path",
    file: "components/catatonit.yaml",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("components", {
        catatonit: (await component("catatonit")).replace("build:\n", "build:\n  suite: ../x\n"),
      })),
    }),
    says: /build\.suite: a Debian suite/,
  },
  {
    name: "a Debian source suite with a slash",
    file: "components/catatonit.yaml",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("components", {
        catatonit: (await component("catatonit")).replace(
          "suite: trixie }",
          "suite: trixie/../x }",
        ),
      })),
    }),
    says: /sources\.0: |suite: a Debian suite/,
  },
  // --- across fields and files
  {
    name: "one package in two extensions",
    files: () =>
      recipe(
        replace(
          "packages: [crun, conmon, catatonit]",
          "packages: [crun, conmon, catatonit, libc6]",
        ),
      ),
    says: /package libc6 is listed by both extension base and extension runtime/,
  },
  {
    name: "an extension that lists and excludes one package",
    files: () =>
      recipe(
        replace(
          "    packages: [podman, golang-github-containers-common, ca-certificates]",
          "    packages: [podman, golang-github-containers-common, ca-certificates, gnupg]",
        ),
      ),
    says: /extension podman both lists and excludes package gnupg/,
  },
  {
    name: "two extensions with one name",
    files: () => recipe(replace("  - name: tools", "  - name: podman")),
    says: /two extensions are named podman/,
  },
  {
    name: "no overlay extension",
    files: () => recipe(replace("    overlay: true", "    overlay: false")),
    says: /exactly one extension must carry the overlay/,
    line: true,
  },
  {
    name: "the base extension marked loadable (every boot needs it)",
    files: () =>
      recipe(
        replace(
          "    compression: zstd\n    packages: [busybox-static, libc6]",
          "    compression: zstd\n    loadable: true\n    packages: [busybox-static, libc6]",
        ),
      ),
    says: /extension base cannot be loadable: every boot needs it/,
    line: true,
  },
  {
    name: "an xz filter asked of a zstd extension",
    files: () =>
      recipe(
        replace(
          "    compression: zstd\n    packages: [busybox-static, libc6]",
          "    compression: zstd\n    xzFilter: none\n    packages: [busybox-static, libc6]",
        ),
      ),
    says: /extension base is packed with zstd: xzFilter applies to xz only/,
    line: true,
  },
  {
    name: "a zstd level asked of an xz extension",
    files: () =>
      recipe(
        replace(
          "    packages: [uidmap, passt, fuse-overlayfs]",
          "    zstdLevel: 19\n    packages: [uidmap, passt, fuse-overlayfs]",
        ),
      ),
    says: /extension rootless is packed with xz: zstdLevel applies to zstd only/,
    line: true,
  },
  {
    name: "an extension's block size that is not a power of two",
    files: () =>
      recipe(
        replace(
          "    compression: zstd\n    packages: [busybox-static, libc6]",
          "    compression: zstd\n    blockSize: 1000000\n    packages: [busybox-static, libc6]",
        ),
      ),
    says: /a power of two, 4K…1M/,
    line: true,
  },
  {
    name: "dropWithout naming an extension the recipe does not have",
    files: () =>
      recipe(
        replace(
          "      rootless: [usr/libexec/podman/rootlessport]",
          "      rootles: [usr/libexec/podman/rootlessport]",
        ),
      ),
    says: /dropWithout names rootles, which is not an extension of this recipe/,
    line: true,
  },
  {
    name: "dropWithout naming its own extension",
    files: () =>
      recipe(
        replace(
          "      rootless: [usr/libexec/podman/rootlessport]",
          "      podman: [usr/libexec/podman/rootlessport]",
        ),
      ),
    says: /extension podman's dropWithout names the extension itself/,
    line: true,
  },
  {
    name: "no busybox-static",
    files: () => recipe(replace("packages: [busybox-static, libc6]", "packages: [libc6]")),
    says: /no extension lists busybox-static/,
  },
  {
    name: "a kernel fragment that does not exist",
    files: () =>
      recipe(
        replace(
          "fragments: [base, containers, virt]",
          "fragments: [base, containers, virt, nosuch]",
        ),
      ),
    says: /no kernel config fragment kernel-config\/nosuch\.config/,
  },
  {
    name: "an extension's fragment that does not exist",
    files: () =>
      recipe(replace("    fragments: [xtables]", "    fragments: [xtables, iptables-legacy]")),
    says: /no kernel config fragment kernel-config\/iptables-legacy\.config/,
  },
  {
    name: "an extension packed with a codec the compiled kernel cannot unpack",
    files: () =>
      recipe(
        replace(
          "compression: zstd\n    packages: [crun, conmon, catatonit]",
          "compression: lz4\n    packages: [crun, conmon, catatonit]",
        ),
      ),
    says: /extension runtime is compressed with lz4, which the compiled kernel cannot unpack: no kernel fragment of this build sets CONFIG_SQUASHFS_LZ4=y — add CONFIG_SQUASHFS_LZ4=y/,
  },
  {
    name: "an initramfs codec a fragment turns off",
    files: () => recipe(replace("  initramfs: none\n", "  initramfs: gzip\n")),
    says: /the network boot's initramfs is compressed with gzip, .*: kernel-config\/base\.config:\d+ sets CONFIG_RD_GZIP=n/,
  },
  {
    name: "sysext.extensions naming no extension",
    files: () => recipe(replace("iso:\n", "sysext:\n  extensions: [podman, nope]\niso:\n")),
    says: /sysext\.extensions names nope, which is not an extension of this recipe/,
  },
  {
    name: "two images stored under one name",
    files: () =>
      recipe(
        replace(
          "images:\n",
          "images:\n  - name: localhost/podboot-hello:v2\n    from: busybox-static\n    cmd: [/bin/true]\n",
        ),
      ),
    says: /two images would be stored as podboot-hello\.tar/,
  },
  {
    name: "a component listed twice",
    files: () => recipe(replace("  - conmon\n", "  - conmon\n  - conmon\n")),
    says: /components: conmon is listed twice/,
  },
  {
    name: "a tool of podboot's own for an extension the recipe lacks",
    file: "components/podboot-activate.yaml",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("components", {
        "podboot-activate": (await component("podboot-activate")).replace(
          "extension: runtime",
          "extension: runtim",
        ),
      })),
    }),
    says: /extension: runtim is not an extension of the recipe/,
  },
  {
    name: "a component with both a package and an extension",
    file: "components/podboot-activate.yaml",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("components", {
        "podboot-activate": (await component("podboot-activate")).replace(
          "extension: runtime",
          "extension: runtime\npackage: crun",
        ),
      })),
    }),
    says: /package: give either package .* or extension/,
  },
  {
    name: "a component listed with no file",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("components", { conmon: null })),
    }),
    says: /no component recipe .*components\/conmon\.yaml/,
  },
  {
    name: "a component whose name is not its file's",
    file: "components/conmon.yaml",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("components", {
        conmon: (await component("conmon")).replace("name: conmon", "name: kommon"),
      })),
    }),
    says: /name is kommon, but the file is named conmon\.yaml/,
  },
  {
    name: "two components for one Debian package",
    file: "components/crun.yaml",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("components", {
        crun: (await component("crun")).replace("package: crun", "package: conmon"),
      })),
    }),
    says: /components conmon and crun both stand for the Debian package conmon/,
  },
  {
    name: "a toolchain that builds itself",
    file: "toolchains/go-1.24.yaml",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("toolchains", {
        "go-1.24": (await toolchain("go-1.24")).replace(
          "build:\n",
          "build:\n  toolchain: go-1.24\n",
        ),
      })),
    }),
    says: /toolchain cycle: go-1\.24 needs go-1\.24/,
  },
  {
    name: "two toolchains that build each other",
    file: "toolchains/go-1.19.yaml",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("toolchains", {
        "go-1.24": (await toolchain("go-1.24")).replace(
          "build:\n",
          "build:\n  toolchain: go-1.19\n",
        ),
        "go-1.19": (await toolchain("go-1.19")).replace(
          "build:\n",
          "build:\n  toolchain: go-1.24\n",
        ),
      })),
    }),
    says: /toolchain cycle: go-1\.24 needs go-1\.19 needs go-1\.24/,
  },
  {
    name: "a component naming a toolchain that has no file",
    file: "components/skopeo.yaml",
    files: async () => ({
      ...recipe((t) => t),
      ...(await withFiles("components", {
        skopeo: (await component("skopeo")).replace("toolchain: go-1.24", "toolchain: go-9.99"),
      })),
    }),
    says: /no toolchain recipe .*toolchains\/go-9\.99\.yaml/,
  },
  {
    name: "a verifier with no component file",
    files: () => recipe(replace("iso:\n", "signing:\n  verifier: minisig\niso:\n")),
    says: /no component recipe .*components\/minisig\.yaml/,
  },
  {
    name: "a stage 1 busybox with no component file",
    files: () => recipe(replace("iso:\n", "stage1:\n  busybox: busybox-tiny\niso:\n")),
    says: /no component recipe .*components\/busybox-tiny\.yaml/,
  },
  {
    name: "a stage 1 busybox name that is a path",
    files: () => recipe(replace("iso:\n", "stage1:\n  busybox: ../busybox\niso:\n")),
    says: /stage1\.busybox: lower-case letters/,
  },
  {
    name: "--with an extension the recipe lacks",
    files: () => recipe((t) => t),
    args: ["--with", "kubernetes"],
    line: false,
    says: /--with kubernetes: the recipe has no extension kubernetes/,
  },
  {
    name: "--without an extension every image needs",
    files: () => recipe((t) => t),
    args: ["--without", "podman"],
    line: false,
    says: /--without podman: podman holds podman/,
  },
  // --- extends
  {
    name: "extends a file that is not there",
    files: () => ({ "podboot.yaml": "extends: missing.yaml\nname: variant\n" }),
    says: /extends: missing\.yaml cannot be read/,
  },
  {
    name: "extends in a cycle",
    files: () => ({
      "podboot.yaml": "extends: other.yaml\nname: a\n",
      "other.yaml": "extends: podboot.yaml\nname: b\n",
    }),
    file: "other.yaml",
    says: /extends: .*is a cycle/,
  },
  {
    name: "a base recipe with a mistake, named with the extends: line that brought it in",
    files: () => ({
      "podboot.yaml": "extends: base.yaml\nname: variant\n",
      "base.yaml": defaultRecipe.replace("version: 0.1.0", "version: one"),
    }),
    file: "base.yaml",
    says: /version: a version such as 0\.1\.0 — correct the base recipe \(extended at .*podboot\.yaml:1:10/,
  },
];

describe("podboot build refuses every broken recipe before any work", () => {
  const limit = pLimit(Math.max(2, os.availableParallelism()));
  const outcomes = new Map<
    string,
    Promise<{ dir: string; work: string; result: Awaited<ReturnType<typeof podboot>> }>
  >();
  beforeAll(() => {
    for (const c of cases) {
      outcomes.set(
        c.name,
        limit(async () => {
          const dir = await recipeDir(await c.files());
          const work = await mkdtemp(path.join(os.tmpdir(), "podboot-refusal-"));
          const result = await podboot(
            [
              "build",
              path.join(dir, "podboot.yaml"),
              "--out",
              path.join(work, "out"),
              "--cache",
              path.join(work, "cache"),
              "--mirror",
              mirrorUrl,
              ...(c.args ?? []),
            ],
            { HOME: work, XDG_CACHE_HOME: path.join(work, "xdg-cache") },
          );
          return { dir, work, result };
        }),
      );
    }
  });

  it("has at least 40 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const { dir, work, result } = await outcomes.get(c.name)!;
    const output = result.all ?? "";
    expect(result.exitCode, output).toBe(2);
    const lines = output.trim().split("\n");
    expect(lines, output).toHaveLength(1);
    expect(output).not.toMatch(/^\s+at /m);
    const file = path.join(dir, c.file ?? "podboot.yaml");
    const fileNamed = new RegExp(
      `(${escape(file)}|${escape(path.relative(projectDir, file))})${c.line === false ? "" : ":\\d+:\\d+"}`,
    );
    if (c.line !== false) expect(lines[0], output).toMatch(fileNamed);
    expect(lines[0]).toMatch(/^podboot: .+ — .+/);
    expect(lines[0]).toMatch(c.says);
    // Nothing written anywhere: no out/, no cache, nothing under HOME; no connection made.
    expect(await readdir(work)).toEqual([]);
  });

  it("touched no network while refusing them", async () => {
    await Promise.all(outcomes.values());
    expect(connections).toBe(0);
  });
});

describe("podboot check", () => {
  it("says what the recipe builds, in well under a second, exit 0", async () => {
    const started = Date.now();
    const result = await podboot(["check"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(
      /^recipes\/podboot\.yaml: ok — \d+ extensions \(\+2 optional\), \d+ components, 1 toolchains, 3 kernel fragments$/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("refuses what build refuses, with the same line, as any user (no root needed)", async () => {
    const dir = await recipeDir(
      recipe(
        replace(
          "packages: [crun, conmon, catatonit]",
          "packages: [crun, conmon, catatonit, libc6]",
        ),
      ),
    );
    const result = await podboot(["check", path.join(dir, "podboot.yaml")]);
    expect(result.exitCode).toBe(2);
    expect(result.all).toMatch(
      /podboot\.yaml:\d+:\d+: package libc6 is listed by both extension base and extension runtime/,
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
