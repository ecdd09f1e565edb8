// A component recipe (recipes/components/NAME.yaml): one program podboot compiles from source,
// where its source may come from (in order of preference) and how it is built inside a build
// container. Adding a component means adding one of these files, not TypeScript.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { PodbootError } from "../errors.ts";
import { parseYamlWith, readYaml, validate, type Locate } from "./load.ts";
import { fileStem, packageName, suiteName, usrPath, versionText } from "./rules.ts";

const debianSource = z
  .strictObject({
    "debian-source": z.strictObject({
      package: packageName.describe("the Debian source package"),
      version: versionText.describe(
        "exact Debian version; its orig tarball is checked against the signed index",
      ),
      suite: suiteName.default("trixie").describe("the suite whose Sources index lists it"),
      patches: z
        .boolean()
        .default(false)
        .describe(
          "also apply Debian's patch series (debian/patches/series of the package's " +
            ".debian.tar.*, verified against the same index), e.g. for Debian's security fixes",
        ),
    }),
  })
  .describe(
    "the upstream (orig) tarball of a Debian source package, optionally with Debian's patches",
  );

const debianDev = z
  .strictObject({
    "debian-dev": z.strictObject({
      package: packageName.describe(
        "a Go library package, e.g. golang-github-containers-buildah-dev",
      ),
      version: versionText.describe(
        "exact Debian version; the .deb is checked against the signed Packages index",
      ),
      suite: suiteName.default("trixie").describe("the suite whose Packages index lists it"),
      path: z
        .string()
        .regex(
          /^[a-z0-9-]+(\.[a-z0-9-]+)+(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$/,
          "a Go import path such as github.com/containers/buildah",
        )
        .describe("the Go import path whose tree under /usr/share/gocode/src is the source"),
    }),
  })
  .describe(
    "the source tree a Debian Go library package (-dev) carries under /usr/share/gocode/src",
  );

const gitSource = z
  .strictObject({
    git: z.strictObject({
      url: z.string().min(1).describe("repository URL (https://, file:// or a path)"),
      commit: z
        .string()
        .regex(/^[0-9a-f]{40}$/, "a full 40-digit commit id")
        .describe("the pinned commit; a tag alone is not enough for a reproducible build"),
      tag: z.string().optional().describe("the tag the commit carries, for people"),
    }),
  })
  .describe("an upstream git repository at a pinned commit");

const urlSource = z
  .strictObject({
    url: z.strictObject({
      url: z
        .string()
        .url()
        .refine((value) => /^(https?|file):\/\//.test(value), "an http://, https:// or file:// URL")
        .describe("tarball URL"),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits"),
    }),
  })
  .describe("an upstream tarball with a pinned sha256");

const localSource = z
  .strictObject({
    local: z.strictObject({
      path: z
        .string()
        .max(255)
        .regex(
          /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/,
          "a directory next to the recipe, such as podboot-activate",
        )
        .refine(
          (p) => p.split("/").every((part) => part !== ".." && part !== "."),
          "no '..' or '.'",
        )
        .describe("a directory beside this component recipe, in the project's own checkout"),
    }),
  })
  .describe("podboot's own source, in this checkout (packed reproducibly and hashed)");

const prebuiltSource = z
  .strictObject({
    prebuilt: z.literal(true).describe("use the verified Debian binary package instead"),
  })
  .describe("fallback: the Debian binary package named by `package`");

export const sourceSchema = z.union([
  debianSource,
  debianDev,
  gitSource,
  urlSource,
  localSource,
  prebuiltSource,
]);

export const componentSchema = z
  .strictObject({
    name: fileStem("conmon").describe(
      "the component's name; the file is recipes/components/NAME.yaml",
    ),
    version: versionText.describe("upstream version"),
    description: z.string().default(""),
    license: z.string().min(1).describe("SPDX license expression"),
    homepage: z.string().url().optional(),
    package: packageName
      .optional()
      .describe(
        "the Debian binary package this component stands for: the files in `provides` replace that " +
          "package's, and its run-time dependencies come from the package graph",
      ),
    extension: z
      .string()
      .max(64)
      .regex(/^[a-z][a-z0-9-]*$/, "an extension of the recipe, such as runtime")
      .optional()
      .describe(
        "instead of `package`, for podboot's own tools: the extension whose image gets the files " +
          "in `provides` (there is no Debian binary to fall back on; --prebuilt builds without it)",
      ),
    provides: z
      .array(usrPath)
      .min(1)
      .describe("files the build installs under $DESTDIR; each one is checked after the build"),
    artifacts: z
      .array(usrPath)
      .default([])
      .describe(
        "files the build installs under $DESTDIR that are not shipped in the image but delivered " +
          "next to it, in out/host/ (e.g. podman-remote, a client for the user's machine); " +
          "checked after the build like `provides`, listed in SHA256SUMS and the manifest",
      ),
    sources: z
      .array(sourceSchema)
      .min(1)
      .describe("where the source may come from, most preferred first"),
    build: z.strictObject({
      suite: suiteName.default("trixie").describe("Debian suite of the build container"),
      depends: z
        .array(packageName)
        .default([])
        .describe("Debian packages installed in the build container"),
      toolchain: fileStem("go-1.24")
        .optional()
        .describe(
          "a compiler podboot builds first (recipes/toolchains/NAME.yaml); its programs come " +
            "first on PATH in this component's build container",
        ),
      vendor: z
        .literal("cargo")
        .optional()
        .describe(
          "cargo: before the build, fetch the crates the source's Cargo.lock pins (`cargo vendor " +
            "--locked`; cargo checks each crate against the lock file's checksum) in a step that " +
            "has the host's network; the build itself then runs offline on those crates",
        ),
      script: z
        .string()
        .min(1)
        .describe(
          "sh script run in the unpacked source (/build/src) with DESTDIR, JOBS and " +
            "SOURCE_DATE_EPOCH set; no network",
        ),
    }),
  })
  .refine((c) => (c.package === undefined) !== (c.extension === undefined), {
    message:
      "give either package (the Debian package it replaces) or extension (where podboot's own tool ships)",
    path: ["package"],
  })
  .refine((c) => c.package !== undefined || !c.sources.some((s) => "prebuilt" in s), {
    message:
      "a tool of podboot's own has no Debian binary to fall back on: remove `prebuilt: true`",
    path: ["sources"],
  })
  .describe("a component compiled from source");

export type Component = z.infer<typeof componentSchema>;
export type ComponentSource = z.infer<typeof sourceSchema>;

const COMPONENT_FIX = "correct the component recipe (see recipes/component.schema.json)";

export function parseComponent(text: string, file: string): Component {
  return parseYamlWith(componentSchema, text, file, COMPONENT_FIX);
}

/** A component recipe read from its file, with the locations of its fields for later checks. */
export interface ComponentFile {
  component: Component;
  file: string;
  locate: Locate;
}

/** Reads and validates DIR/NAME.yaml; `listedAt` is where the name was asked for (file:line:col). */
export async function readComponentFile(
  dir: string,
  name: string,
  listedAt: string,
  what = "component",
): Promise<ComponentFile> {
  const file = path.join(dir, `${name}.yaml`);
  const text = await readFile(file, "utf8").catch(async () => {
    const available = (await readdir(dir).catch(() => [] as string[]))
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => f.replace(/\.yaml$/, ""));
    throw new PodbootError(
      `${listedAt}: no ${what} recipe ${path.relative(".", file)}`,
      `add it, or name one that exists (have: ${available.join(", ") || "none"})`,
    );
  });
  const { data, locate } = readYaml(text, file);
  const component = validate(componentSchema, data, locate, COMPONENT_FIX);
  if (component.name !== name) {
    throw new PodbootError(
      `${locate(["name"])}: name is ${component.name}, but the file is named ${name}.yaml`,
      "make the name and the file name agree",
    );
  }
  return { component, file, locate };
}

/**
 * Loads DIR/NAME.yaml for each name (recipes/components/, or recipes/toolchains/ for compilers),
 * checking the file's name matches. `listedIn` says where the names came from, for the error.
 */
export async function loadComponents(
  dir: string,
  names: string[],
  listedIn = "the recipe's components",
): Promise<Component[]> {
  const loaded = [];
  for (const name of names) loaded.push((await readComponentFile(dir, name, listedIn)).component);
  return loaded;
}

export type SourceKind = "debian-source" | "debian-dev" | "git" | "url" | "local" | "prebuilt";

export function sourceKind(source: ComponentSource): SourceKind {
  if ("debian-source" in source) return "debian-source";
  if ("debian-dev" in source) return "debian-dev";
  if ("git" in source) return "git";
  if ("url" in source) return "url";
  if ("local" in source) return "local";
  return "prebuilt";
}

/** What a component's files are for: the Debian package they replace, or the extension they go in. */
export function componentTarget(component: Component): string {
  return component.package ?? `(podboot's own, in the ${component.extension} extension)`;
}
