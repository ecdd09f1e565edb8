// The recipe's shape. Every object is strict (unknown keys are errors) and every field says what
// it expects, because these descriptions become recipes/schema.json for editors.
import { z } from "zod";
import {
  archiveComponent,
  cmdline,
  fileStem,
  mirrorUrl,
  packageName,
  rootGlob as glob,
  suiteName,
} from "./rules.ts";

const extensionName = z
  .string()
  .max(64, "at most 64 characters")
  .regex(/^[a-z][a-z0-9-]*$/, "lower-case letters, digits and dashes, starting with a letter");

const fragments = z
  .array(
    z
      .string()
      .max(64)
      .regex(/^[a-z][a-z0-9-]*$/, "a fragment name such as containers"),
  )
  .describe(
    "kernel-config/NAME.config fragments the kernel must satisfy; every build checks them " +
      "against the kernel's config and fails listing what is missing",
  );

/** Extensions the system cannot boot without; `podboot.ext=` cannot leave them out. */
export const REQUIRED_EXTENSIONS = new Set(["base", "overlay"]);

const squashfsCodec = z.enum(["xz", "zstd", "gzip", "lzo", "lz4"]);
const archiveCodec = z.enum(["none", "zstd", "xz", "gzip"]);
const blockSize = z
  .number()
  .int()
  .min(4096, "a power of two, 4K…1M")
  .max(1048576, "a power of two, 4K…1M")
  .refine((n) => (n & (n - 1)) === 0, "a power of two, 4K…1M");

const extension = z
  .strictObject({
    name: extensionName.describe("the extension's name; the image file is NAME.sqfs"),
    description: z.string().optional(),
    packages: z.array(packageName).default([]).describe("Debian packages this extension holds"),
    exclude: z
      .array(packageName)
      .default([])
      .describe("packages in the dependency closure that are not shipped (not needed at run time)"),
    keep: z.array(glob).default([]).describe("paths kept even when a drop rule matches them"),
    drop: z.array(glob).default([]).describe("extra paths dropped from this extension"),
    dropWithout: z
      .record(extensionName, z.array(glob))
      .default({})
      .describe(
        "paths dropped from this extension when the named extension is not in the build: files " +
          "that serve only its feature (podman's rootlessport, without rootless)",
      ),
    overlay: z
      .boolean()
      .default(false)
      .describe("true for the extension that carries rootfs-overlay/ (the top layer)"),
    fragments: fragments
      .default([])
      .describe(
        "kernel-config/NAME.config fragments this extension needs; added to the compiled kernel's when the extension is built",
      ),
    optional: z
      .boolean()
      .default(false)
      .describe(
        "left out of the default image; built only when asked for (podboot build --with NAME)",
      ),
    loadable: z
      .boolean()
      .default(false)
      .describe(
        "built and signed with the image but kept out of the ISO: written beside it " +
          "(out/extensions/NAME.sqfs) for podboot-load to mount at run time, from the data disk",
      ),
    compression: squashfsCodec
      .optional()
      .describe(
        "this extension's squashfs codec, instead of compression.squashfs: e.g. zstd for what " +
          "every boot reads (it decompresses several times faster than xz), xz for the rest",
      ),
    xzFilter: z
      .enum(["x86", "none"])
      .optional()
      .describe(
        "for an xz extension: x86 (the default) packs every block twice, without and with xz's " +
          "x86 BCJ filter, and keeps the smaller (about 5 % smaller for x86-64 code, twice the " +
          "packing time); none packs each block once",
      ),
    zstdLevel: z
      .number()
      .int()
      .min(1)
      .max(22)
      .optional()
      .describe(
        "for a zstd extension: its compression level (default 15); higher packs smaller and " +
          "slower, and reads back at the same speed",
      ),
    blockSize: blockSize
      .optional()
      .describe(
        "this extension's squashfs block size, instead of compression.squashfsBlockSize: larger " +
          "blocks pack smaller, and every page fault decompresses a whole block (slow when RAM is short)",
      ),
  })
  .describe("one squashfs extension");

export const KERNEL_BUILD_DEFAULTS = {
  package: "linux-source-6.12",
  fragments: ["base", "containers", "virt"],
  depends: ["bc", "bison", "flex", "libelf-dev", "libssl-dev", "cpio", "xz-utils", "zstd"],
};

export const KERNEL_DEBIAN_DEFAULTS = {
  package: "linux-image-amd64",
  modules: [] as string[],
  fragments: ["containers"],
};

const kernel = z.strictObject({
  source: z
    .enum(["build", "debian"])
    .default("build")
    .describe(
      "where the kernel comes from: build (compiled from Debian's Linux source in a build " +
        "container, see kernel.build) or debian (Debian's prebuilt kernel, the fast path; " +
        "`podboot build --prebuilt` or `--kernel debian` pick it too)",
    ),
  build: z
    .strictObject({
      package: packageName
        .default(KERNEL_BUILD_DEFAULTS.package)
        .describe("the Debian package holding the source tarball, e.g. linux-source-6.12"),
      fragments: fragments.default(KERNEL_BUILD_DEFAULTS.fragments),
      depends: z
        .array(packageName)
        .default(KERNEL_BUILD_DEFAULTS.depends)
        .describe("packages the build container needs besides build-essential"),
    })
    .default(KERNEL_BUILD_DEFAULTS)
    .describe("the from-source kernel: `make tinyconfig`, then the fragments, then olddefconfig"),
  debian: z
    .strictObject({
      package: packageName
        .default(KERNEL_DEBIAN_DEFAULTS.package)
        .describe("the kernel image package, e.g. linux-image-amd64"),
      modules: z
        .array(z.string().regex(/^[a-z0-9_-]+$/, "a module name such as overlay"))
        .default([])
        .describe("modules copied into the initramfs and loaded at boot (dependencies are added)"),
      fragments: fragments.default(KERNEL_DEBIAN_DEFAULTS.fragments),
    })
    .default(KERNEL_DEBIAN_DEFAULTS)
    .describe("the prebuilt kernel of the fast path"),
  cmdline: cmdline.default("").describe("kernel command line appended to every boot entry"),
});

const image = z.strictObject({
  name: z
    .string()
    .regex(/^localhost\/[a-z0-9][a-z0-9._-]*(:[A-Za-z0-9._-]+)?$/, "localhost/NAME[:TAG]")
    .describe("the image reference inside the VM"),
  from: z
    .literal("busybox-static")
    .describe("what the image is made of: busybox-static (a one-binary userland)"),
  cmd: z.array(z.string()).min(1).describe("the image's default command"),
});

export const recipeSchema = z
  .strictObject({
    extends: z
      .string()
      .min(1)
      .optional()
      .describe(
        "a recipe this one is a variant of (a path relative to this file): its fields are taken " +
          "as they are, except the top-level fields given here, which replace them whole",
      ),
    name: extensionName.describe("image name; the ISO is out/NAME.iso"),
    version: z
      .string()
      .regex(/^[0-9]+\.[0-9]+\.[0-9]+([-.][A-Za-z0-9.]+)?$/, "a version such as 0.1.0")
      .describe("image version; it is part of the ISO volume ID"),
    debian: z
      .strictObject({
        suite: suiteName.default("trixie").describe("Debian suite the packages come from"),
        mirror: mirrorUrl
          .optional()
          .describe("archive URL; default: the first Debian mirror in the host's apt sources"),
        components: z.array(archiveComponent).min(1).default(["main"]),
      })
      .default({ suite: "trixie", components: ["main"] }),
    kernel,
    compression: z
      .strictObject({
        squashfs: squashfsCodec.default("xz"),
        squashfsBlockSize: blockSize.default(262144),
        initramfs: archiveCodec
          .default("zstd")
          .describe("the network boot's initramfs (stage 1 and the extensions in one)"),
        stage1: archiveCodec
          .default("zstd")
          .describe(
            "the ISO's stage 1 archive alone (busybox and init, ~0.3 MB, ~2 MB with busybox-static; " +
              "its boot loader loads it)",
          ),
      })
      .default({
        squashfs: "xz",
        squashfsBlockSize: 262144,
        initramfs: "zstd",
        stage1: "zstd",
      }),
    drop: z
      .array(glob)
      .default([])
      .describe("paths dropped from every extension: docs, man pages, locales …"),
    extensions: z.array(extension).min(1),
    components: z
      .array(fileStem("conmon or podman-4.3"))
      .default([])
      .describe(
        "components compiled from source in build containers (recipes/components/NAME.yaml); " +
          "each one's binaries replace those of its Debian package",
      ),
    stage1: z
      .strictObject({
        busybox: fileStem("busybox-stage1")
          .default("busybox-stage1")
          .describe(
            "component compiled (statically, with only the commands stage 1 runs) as the " +
              "initramfs' busybox; with --prebuilt, or when none of its sources can be had, " +
              "stage 1 takes busybox-static's binary",
          ),
      })
      .default({ busybox: "busybox-stage1" }),
    signing: z
      .strictObject({
        verifier: fileStem("minisign")
          .default("minisign")
          .describe(
            "component compiled (statically) into the initramfs when the build has --sign-key: " +
              "stage 1 checks the signed list of extensions with it before mounting any",
          ),
      })
      .default({ verifier: "minisign" }),
    sysext: z
      .strictObject({
        name: z
          .string()
          .regex(/^[a-z][a-z0-9_-]*$/, "lower-case letters, digits, _ and -")
          .default("podman")
          .describe("the image is out/NAME.raw; its release file is extension-release.NAME"),
        extensions: z
          .array(extensionName)
          .min(1)
          .default(["runtime", "network", "rootless", "podman"])
          .describe("the extensions whose /usr goes into the systemd-sysext image"),
      })
      .default({ name: "podman", extensions: ["runtime", "network", "rootless", "podman"] })
      .describe(
        "`podboot build --format sysext`: the podman stack as a systemd-sysext image for other hosts",
      ),
    images: z
      .array(image)
      .default([])
      .describe("OCI images built at build time and loaded at boot"),
    iso: z
      .strictObject({
        label: z
          .string()
          .regex(
            /^[A-Z0-9_]{1,16}$/,
            "1–16 upper-case letters, digits or _ (the version is appended)",
          )
          .describe("ISO volume ID prefix"),
        timeout: z
          .number()
          .int()
          .min(0)
          .max(60)
          .default(1)
          .describe("boot menu timeout, seconds (any key stops the countdown)"),
      })
      .describe("ISO options"),
  })
  .describe("a podboot recipe");

export type Recipe = z.infer<typeof recipeSchema>;
export type ExtensionSpec = Recipe["extensions"][number];
export type ImageSpec = Recipe["images"][number];
