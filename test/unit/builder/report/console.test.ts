import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderTasks, TtyLogger } from "../../../../builder/report/console.ts";

describe("renderTasks", () => {
  it("one row per task: mark, name, state, elapsed time, source kind", () => {
    const rows = renderTasks(
      [
        { name: "go-1.24", state: "done", detail: "debian-source", seconds: 294.5 },
        { name: "skopeo", state: "running", detail: "debian-source", started: 1_000 },
        { name: "podman", state: "prebuilt", detail: "Debian binary" },
        { name: "crun", state: "cached", detail: "debian-source", seconds: 0.1 },
        { name: "buildah", state: "queued", detail: "debian-dev" },
      ],
      13_500,
    );
    expect(rows).toEqual([
      "  ✓ go-1.24  done      294.5s  debian-source",
      `  ${rows[1]![2]} skopeo   running    12.5s  debian-source`,
      "  – podman   prebuilt          Debian binary",
      "  ✓ crun     cached      0.1s  debian-source",
      "  · buildah  queued            debian-dev",
    ]);
    expect("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏").toContain(rows[1]![2]);
  });

  it("cuts rows to the terminal's width, so a redraw never meets a wrapped line", () => {
    const [row] = renderTasks([{ name: "x", state: "queued", detail: "y".repeat(200) }], 0, 40);
    expect(row).toHaveLength(40);
    expect(row!.endsWith("…")).toBe(true);
  });
});

describe("TtyLogger", () => {
  it("keeps the task list below the scrolling lines, redrawn in place", async () => {
    let written = "";
    const out = { write: (s: string) => ((written += s), true), columns: 80 };
    let now = 0;
    const log = new TtyLogger(
      await mkdtemp(path.join(os.tmpdir(), "podboot-log-")),
      out as unknown as NodeJS.WriteStream,
      () => now,
    );
    log.emit({ type: "task", task: "conmon", state: "queued", detail: "debian-source" });
    log.emit({ type: "task", task: "crun", state: "queued", detail: "debian-source" });
    log.emit({ type: "task", task: "conmon", state: "running" });
    now = 2_000;
    log.emit({
      type: "step",
      step: "compile",
      message: "conmon 2.1.12: usr/bin/conmon 150 kB in 2.0 s",
    });
    log.emit({ type: "task", task: "conmon", state: "done" });
    log.close();
    // Each redraw moves up over the list drawn before (2 rows) and clears to the end.
    const frames = written.split("\x1b[2F\x1b[J");
    const last = frames.at(-1)!;
    expect(last).toBe(
      "  ✓ conmon  done        2.0s  debian-source\n  · crun    queued            debian-source\n",
    );
    // The step line was printed above the list, which was drawn again under it.
    const withLine = frames.find((f) => f.includes("conmon 2.1.12"))!;
    expect(withLine).toMatch(
      /^\[ +\d+\.\ds\] compile +conmon 2\.1\.12: .*\n {2}\S conmon +running +2\.0s/,
    );
    // After close, output goes below the final list instead of over it.
    written = "";
    log.emit({ type: "info", message: "built out/podboot.iso" });
    expect(written).toMatch(/^\[ +\d+\.\ds\] built out\/podboot\.iso\n {2}✓ conmon/);
  });
});
