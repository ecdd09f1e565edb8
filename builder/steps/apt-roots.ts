// One private apt state per (suite, kind), made and refreshed on first use: binary indexes for the
// image and build containers, Sources indexes for component sources.
import { createHash } from "node:crypto";
import path from "node:path";
import type { Logger } from "../report/events.ts";
import { report } from "../report/events.ts";
import { MirrorUnreachable, updateLists } from "../tools/apt.ts";
import { prepareAptRoot, type AptRoot } from "../tools/apt-root.ts";

const LIST_MAX_AGE_MS = 24 * 3600 * 1000;

export class AptRoots {
  private readonly roots = new Map<string, Promise<AptRoot>>();

  constructor(
    private readonly cacheRoot: string,
    readonly mirror: string,
    private readonly components: string[],
    private readonly log: Logger,
    private readonly refresh: boolean,
  ) {}

  /** The root's directory: suite, kind and a hash of the mirror, so mirrors never mix. */
  dirFor(suite: string, kind: "deb" | "deb-src"): string {
    const mirrorHash = createHash("sha256").update(this.mirror).digest("hex").slice(0, 12);
    return path.join(
      this.cacheRoot,
      "apt",
      `${kind === "deb" ? "" : "src-"}${suite}-${mirrorHash}`,
    );
  }

  get(suite: string, kind: "deb" | "deb-src"): Promise<AptRoot> {
    const id = `${kind} ${suite}`;
    let root = this.roots.get(id);
    if (!root) {
      root = this.open(suite, kind);
      this.roots.set(id, root);
    }
    return root;
  }

  private async open(suite: string, kind: "deb" | "deb-src"): Promise<AptRoot> {
    const root: AptRoot = {
      dir: this.dirFor(suite, kind),
      mirror: this.mirror,
      suite,
      components: this.components,
      kind,
    };
    await prepareAptRoot(root);
    const log = this.log.stepLog(`apt-${kind}-${suite}`);
    try {
      const updated = await updateLists(root, log, this.refresh ? 0 : LIST_MAX_AGE_MS);
      if (updated) report.step(this.log, "apt", `${kind} indexes of ${suite} updated`);
    } catch (error) {
      // Lists fetched before still name exact versions and hashes: a build whose packages are
      // all cached can go on offline. Without any, nothing can be resolved.
      if (!(error instanceof MirrorUnreachable) || !error.listsFrom || this.refresh) throw error;
      report.warn(
        this.log,
        `${error.message}; using the ${kind} indexes of ${suite} fetched ${error.listsFrom.toISOString()}`,
      );
    } finally {
      await log.close();
    }
    return root;
  }
}
