// The shell a compile runs in its build container, around the recipe's own script. Every value
// (the archive's path, the tree inside a .deb, the patches, the recipe's script, what to strip)
// reaches it through the environment (PODBOOT_*), never spliced into the script's text, so no
// recipe value is ever parsed as shell.

/** Unpacks the source: a tarball, or (PODBOOT_SUBDIR set) one tree inside a .deb's data. */
const UNPACK = [
  "set -eu",
  "mkdir -p /build/src",
  'if [ -n "$PODBOOT_SUBDIR" ]; then',
  // A .deb's data lists ./usr/share/…: strip the dot and every directory above the tree.
  '  depth=$(( $(printf %s "$PODBOOT_SUBDIR" | tr -cd / | wc -c) + 2 ))',
  '  dpkg-deb --fsys-tarfile "$PODBOOT_SOURCE" | tar -x -C /build/src --strip-components="$depth" "./$PODBOOT_SUBDIR/"',
  "else",
  '  tar -xf "$PODBOOT_SOURCE" -C /build/src --strip-components=1',
  "fi",
  "cd /build/src",
];

/** Applies Debian's patch series when PODBOOT_PATCHES names the packaging tarball. */
const PATCH = [
  'if [ -n "$PODBOOT_PATCHES" ]; then',
  "  mkdir -p /build/debian",
  '  tar -xf "$PODBOOT_PATCHES" -C /build/debian',
  "  if [ -f /build/debian/debian/patches/series ]; then",
  "    grep -v -e '^#' -e '^[[:space:]]*$' /build/debian/debian/patches/series | while read -r patch options; do",
  '      echo "applying Debian patch $patch"',
  '      patch --batch --forward --no-backup-if-mismatch ${options:--p1} < "/build/debian/debian/patches/$patch"',
  "    done",
  "  fi",
  "fi",
];

/** The recipe's script (from /tmp, the container's tmpfs; with -eu, as always), then strip. */
const COMPILE = [
  'printf "%s\\n" "$PODBOOT_RECIPE_SCRIPT" > /tmp/podboot-recipe.sh',
  "sh -eu /tmp/podboot-recipe.sh",
  // Ship stripped binaries, as Debian does; a non-ELF file is left as it is.
  'printf "%s\\n" "$PODBOOT_STRIP" | while read -r file; do',
  '  [ -n "$file" ] && { strip --strip-unneeded "$DESTDIR/$file" 2>/dev/null || true; }',
  "done",
  "",
];

/**
 * The scripts a compile runs. `build` unpacks and patches the source, runs the recipe's script
 * and strips what it installed. With crates to vendor, unpacking moves to `fetch`, which also
 * downloads the pinned dependencies (the one container with network); `build` then continues
 * in the same /build offline.
 */
export function buildScripts(vendorCrates: boolean): { fetch?: string; build: string } {
  if (!vendorCrates) return { build: [...UNPACK, ...PATCH, ...COMPILE].join("\n") };
  return {
    fetch: [
      ...UNPACK,
      ...PATCH,
      // cargo checks every crate it downloads against Cargo.lock's checksum; the configuration
      // it prints points the offline build at the vendored copies.
      'mkdir -p "$CARGO_HOME"',
      'cargo vendor --locked --versioned-dirs /build/vendor > "$CARGO_HOME/config.toml"',
      "",
    ].join("\n"),
    build: ["set -eu", "cd /build/src", ...COMPILE].join("\n"),
  };
}
