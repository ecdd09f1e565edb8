// `podboot machine load EXTENSION [NAME]`: a loadable extension (buildah and skopeo's `tools`, say)
// put on a running machine's data disk and loaded at once; every later boot loads it again before
// SSH starts. The image is the one the build wrote beside the machine's ISO
// (out/extensions/EXTENSION.sqfs), or --file; the guest's podboot-load checks it against the
// ISO's signed list, so another build's image is refused and removed, never left to fail a boot.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PodbootError } from "../errors.ts";
import { isPresent } from "../host/preflight.ts";
import { sshProbe } from "../tools/ssh.ts";
import { machinePace } from "../vm/pace.ts";
import { runningPid } from "./lifecycle.ts";
import type { MachineConfig, MachinePaths } from "./store.ts";

const EXTENSION_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const STORE = "/var/lib/podboot/extensions";
/** Copying ~20 MB over SSH and checking it in the guest, on the reference machine (TCG). */
const LOAD_LIMIT_MS = 180_000;

/** The image for `extension`: --file, or the one the build wrote beside the machine's ISO. */
export function extensionFile(config: MachineConfig, extension: string, file?: string): string {
  return path.resolve(
    file ?? path.join(path.dirname(config.iso), "extensions", `${extension}.sqfs`),
  );
}

/**
 * What the guest says of its loadable extensions (`podboot-load --list`): each name, and whether
 * it is loaded.
 */
export function parseLoadableList(text: string): Map<string, boolean> {
  const loadable = new Map<string, boolean>();
  for (const line of text.split("\n")) {
    const [name, state] = line.trim().split(/\s+/);
    if (name && EXTENSION_NAME.test(name)) loadable.set(name, state === "loaded");
  }
  return loadable;
}

/** The guest's side: the image stored on the data disk, then loaded; removed if refused. */
export function storeAndLoadScript(extension: string): string {
  const stored = `${STORE}/${extension}.sqfs`;
  return [
    `mkdir -p ${STORE}`,
    `cat > ${stored}.part && mv ${stored}.part ${stored} && sync || { rm -f ${stored}.part; echo "podboot-load: no room for ${extension}.sqfs on the data disk (df -h /mnt/data)"; exit 1; }`,
    `podboot-load ${extension} || { rm -f ${stored}; sync; exit 1; }`,
  ].join("\n");
}

export async function loadExtension(
  config: MachineConfig,
  paths: MachinePaths,
  extension: string,
  file?: string,
): Promise<string> {
  const name = config.name;
  if (!EXTENSION_NAME.test(extension)) {
    throw new PodbootError(
      `"${extension}" is no extension name`,
      `see the machine's loadable ones: podboot machine ssh ${name} -- podboot-load --list`,
    );
  }
  const image = extensionFile(config, extension, file);
  if (!(await isPresent(image))) {
    throw new PodbootError(
      `${image} is not there`,
      file
        ? "give the path of an extension image (NAME.sqfs)"
        : `build the ISO with it (npm run build-iso writes out/extensions/${extension}.sqfs beside out/podboot.iso), or pass --file`,
    );
  }
  if (!(await runningPid(paths))) {
    throw new PodbootError(
      `machine ${name} is not running`,
      `start it: podboot machine start ${name}`,
    );
  }
  const limit = LOAD_LIMIT_MS * machinePace();
  const listed = await sshProbe(config.sshPort, config.identity, "podboot-load --list", limit);
  if (listed.exitCode !== 0) {
    throw new PodbootError(
      `machine ${name} did not list its extensions: ${listed.output.trim() || `ssh exited with ${listed.exitCode}`}`,
      `check it: podboot machine ssh ${name} -- podboot-load --list`,
    );
  }
  const loadable = parseLoadableList(listed.output);
  if (!loadable.has(extension)) {
    throw new PodbootError(
      `machine ${name}'s ISO has no loadable extension ${extension}`,
      `its loadable ones: ${[...loadable.keys()].join(", ") || "none"}`,
    );
  }
  if (loadable.get(extension)) return `${extension} is loaded in machine ${name} already`;
  const loaded = await sshProbe(
    config.sshPort,
    config.identity,
    storeAndLoadScript(extension),
    limit,
    await readFile(image),
  );
  if (loaded.exitCode !== 0) {
    const said = loaded.output.trim().split("\n").at(-1) ?? "";
    throw new PodbootError(
      `${extension} was not loaded in machine ${name}: ${said || `ssh exited with ${loaded.exitCode}`}`,
      `use out/extensions/${extension}.sqfs of the build that made ${config.iso}`,
      { exitCode: 1 },
    );
  }
  return `${extension} loaded in machine ${name} (kept on its data disk: loaded at every boot)`;
}
