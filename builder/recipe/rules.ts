// Field rules shared by the recipe and component schemas. Every value that becomes a path, a file
// name or part of a command is confined here, so a recipe cannot name a file outside the place it
// belongs (an apt state directory outside the cache, a file outside the image root) and a
// mistake is refused with the field's location before anything runs.
import { z } from "zod";

export const packageName = z
  .string()
  .max(100)
  .regex(/^[a-z0-9][a-z0-9+.-]+$/, "a Debian package name such as podman or libc6");

/** A Debian suite or component: it names directories of the cache's apt state. */
export const suiteName = z
  .string()
  .max(40)
  .regex(/^[a-z][a-z0-9-]*$/, "a Debian suite such as trixie or bookworm-backports");

export const archiveComponent = z
  .string()
  .max(40)
  .regex(/^[a-z][a-z0-9-]*$/, "an archive component such as main or non-free-firmware");

/** A name that becomes a file name (NAME.yaml, NAME.sqfs …). */
export function fileStem(example: string, max = 64): z.ZodString {
  return z
    .string()
    .max(max, `at most ${max} characters`)
    .regex(/^[a-z][a-z0-9.-]*$/, `lower-case letters, digits, dots and dashes, such as ${example}`)
    .refine((value) => !value.includes(".."), "no '..'");
}

/** No segment that climbs out (..), stays put (.) or is empty (//), and not absolute. */
function confined(value: string): boolean {
  if (value.startsWith("/") || value.includes("\\")) return false;
  return value.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

/** A file path inside the image root, under usr/ (what a component installs). */
export const usrPath = z
  .string()
  .max(255)
  .regex(/^usr\/[^*?[\]\s]+$/, "a path under usr/ such as usr/bin/conmon")
  .refine(confined, "a plain path inside usr/: no '..', '.' or empty segments");

/** A path glob relative to the image root (drop and keep rules). */
export const rootGlob = z
  .string()
  .min(1)
  .max(255)
  .refine(confined, "a glob relative to the image root: no leading '/', no '..' or '.' segments")
  .describe("a path glob relative to the image root, e.g. usr/share/doc/**");

/** Kernel command line words: GRUB reads them, so nothing it would treat as syntax. */
export const cmdline = z
  .string()
  .max(1024)
  .regex(
    /^[A-Za-z0-9 ._,=:/+@%-]*$/,
    "kernel parameters: letters, digits, spaces and ._,=:/+@%- (no quotes, $, ; or braces)",
  );

/** An archive URL: http, https or a local file:// mirror. */
export const mirrorUrl = z
  .string()
  .url()
  .refine((value) => /^(https?|file):\/\//.test(value), "an http://, https:// or file:// URL");

/** Versions become file and image names: no spaces or path characters. */
export const versionText = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9.+~:_-]*$/, "a version such as 1.21 or 2.1.13-1");
