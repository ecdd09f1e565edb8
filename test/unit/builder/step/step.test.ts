import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { StepCache } from "../../../../builder/cache/store.ts";
import { SilentLogger } from "../../../../builder/report/console.ts";
import type { BuildEvent, Logger } from "../../../../builder/report/events.ts";
import { fileRef, label, ref, stepKey } from "../../../../builder/step/inputs.ts";
import { runStep, type StepDefinition } from "../../../../builder/step/step.ts";

type DemoInputs = {
  name: string;
  flags: string[];
  nested: { level: number; codec: string };
  source: ReturnType<typeof fileRef>;
  tool: ReturnType<typeof ref<{ run: () => string }>>;
  words: ReturnType<typeof label>;
};

const base: DemoInputs = {
  name: "demo",
  flags: ["-O2"],
  nested: { level: 19, codec: "zstd" },
  source: fileRef("/cache/a/demo.tar", "aa".repeat(32)),
  tool: ref({ run: () => "runc" }, undefined),
  words: label("demo 1.0"),
};

async function runner(events: BuildEvent[] = []) {
  const cache = new StepCache(await mkdtemp(path.join(os.tmpdir(), "podboot-step-")));
  const log: Logger = Object.assign(new SilentLogger(), {
    emit: (e: BuildEvent) => void events.push(e),
  });
  return { cache, log };
}

function demoStep(
  produce: StepDefinition<DemoInputs, string>["produce"],
): StepDefinition<DemoInputs, string> {
  return {
    kind: "demo",
    version: 1,
    instance: (inputs) => inputs.name,
    task: true,
    produce,
    read: (dir) => readFile(path.join(dir, "out"), "utf8"),
    summary: (result) => result,
  };
}

describe("a step's cache key", () => {
  it("changes when any declared input changes, and only then", () => {
    const key = stepKey(1, base);
    const changed: Partial<DemoInputs>[] = [
      { name: "other" },
      { flags: ["-Os"] },
      { flags: ["-O2", "-g"] },
      { nested: { level: 3, codec: "zstd" } },
      { nested: { level: 19, codec: "xz" } },
      // a file input: its content hash is the key, not its path
      { source: fileRef("/cache/a/demo.tar", "bb".repeat(32)) },
      { tool: ref({ run: () => "runc" }, "podman") },
    ];
    const keys = changed.map((change) => stepKey(1, { ...base, ...change }));
    expect(new Set([key, ...keys]).size).toBe(changed.length + 1);
    // the step's version is part of it
    expect(stepKey(2, base)).not.toBe(key);
    // what does not shape the output does not move it: where a file lies, words for messages
    expect(stepKey(1, { ...base, source: fileRef("/elsewhere/demo.tar", "aa".repeat(32)) })).toBe(
      key,
    );
    expect(stepKey(1, { ...base, words: label("other words") })).toBe(key);
  });

  it("is the key the step caches used before the skeleton (format + inputs)", async () => {
    const { cacheKey } = await import("../../../../builder/cache/store.ts");
    expect(stepKey(2, { name: "x", root: ref("/r", "k") })).toBe(
      cacheKey({ format: 2, name: "x", root: "k" }),
    );
  });
});

describe("runStep", () => {
  it("produces once, then reports the cache hit", async () => {
    const events: BuildEvent[] = [];
    const env = await runner(events);
    let runs = 0;
    const step = demoStep(async (inputs, dir) => {
      runs++;
      await writeFile(path.join(dir, "out"), `${inputs.name} ${inputs.flags.join(" ")}`);
    });
    const first = await runStep(env, step, base);
    const second = await runStep(env, step, base);
    expect(runs).toBe(1);
    expect([first.cacheHit, second.cacheHit]).toEqual([false, true]);
    expect(second.result).toBe("demo -O2");
    expect(second.key).toBe(stepKey(1, base));
    const lines = events
      .filter((e) => e.type === "step")
      .map((e) => (e as { message: string }).message);
    expect(lines[0]).toMatch(/^demo -O2 in \d+\.\d s$/);
    expect(lines[1]).toBe("demo -O2 (cached)");
    const states = events
      .filter((e) => e.type === "task")
      .map((e) => (e as { state: string }).state);
    expect(states).toEqual(["running", "done", "cached"]);
  });

  it("refuses a step that reads an input it did not declare, and caches nothing", async () => {
    const env = await runner();
    const sneaky = demoStep(async (inputs, dir) => {
      const undeclared = (inputs as unknown as Record<string, unknown>).recipe;
      await writeFile(path.join(dir, "out"), String(undeclared));
    });
    await expect(runStep(env, sneaky, base)).rejects.toThrow(
      'step demo read the input "recipe", which it did not declare',
    );
    expect(await readdir(path.join(env.cache.root, "steps")).catch(() => [])).toEqual([]);
  });

  it("refuses a step that changes its inputs", async () => {
    const env = await runner();
    const writer = demoStep(async (inputs) => {
      (inputs as { name: string }).name = "changed";
    });
    await expect(runStep(env, writer, base)).rejects.toThrow(/tried to change its input "name"/);
  });

  it("leaves no cache entry and marks the task failed when produce throws", async () => {
    const events: BuildEvent[] = [];
    const env = await runner(events);
    const failing = demoStep(async (_inputs, dir) => {
      await writeFile(path.join(dir, "half"), "x");
      throw new Error("compiler crashed");
    });
    await expect(runStep(env, failing, base)).rejects.toThrow("compiler crashed");
    expect(await readdir(path.join(env.cache.root, "tmp"))).toEqual([]);
    expect(await readdir(path.join(env.cache.root, "steps")).catch(() => [])).toEqual([]);
    expect(events.at(-1)).toEqual({ type: "task", task: "demo", state: "failed" });
  });
});
