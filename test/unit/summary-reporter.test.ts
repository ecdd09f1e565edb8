import type { TestModule } from "vitest/node";
import { describe, expect, it } from "vitest";
import { summarize } from "../summary-reporter.ts";

type State = "passed" | "failed" | "skipped" | "pending";

/** A test file as the reporter sees it: its own state and its tests' states. */
function file(state: "passed" | "failed" | "skipped", tests: State[]): TestModule {
  const all = tests.map((s) => ({ result: () => ({ state: s }) }));
  return { state: () => state, children: { allTests: () => all.values() } } as never;
}

describe("the closing line CI reads", () => {
  it("counts tests by their result", () => {
    expect(
      summarize([file("passed", ["passed", "passed"]), file("failed", ["passed", "failed"])], []),
    ).toBe("3 passed, 1 failed");
  });

  it("counts a file whose hook failed as a failure, though its tests were skipped", () => {
    expect(
      summarize([file("passed", ["passed"]), file("failed", ["skipped", "skipped"])], []),
    ).toBe("1 passed, 1 failed, 2 skipped");
    expect(summarize([file("failed", [])], [])).toBe("0 passed, 1 failed");
  });

  it("counts errors outside every test", () => {
    expect(summarize([file("passed", ["passed"])], [new Error("unhandled rejection")])).toBe(
      "1 passed, 1 failed",
    );
  });
});
