import { appendFile, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { followLog } from "../../../../builder/machine/console-log.ts";

describe("followLog", () => {
  it("reads nothing before the file exists, then only what was added, after the last read's end", async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), "podboot-log-")), "console.log");
    const follow = followLog(file);
    expect(await follow()).toBe("");
    const boot = `stage 1\n${"k".repeat(300)}\npodboot: rea`;
    await writeFile(file, boot);
    expect(await follow()).toBe(boot);
    await appendFile(file, "dy\n");
    // the line split between two reads is whole in the second
    expect(await follow()).toContain("podboot: ready\n");
    await appendFile(file, "x".repeat(1000));
    const third = await follow();
    expect(third).toHaveLength(128 + 1000);
    expect(third).not.toContain("stage 1");
  });
});
