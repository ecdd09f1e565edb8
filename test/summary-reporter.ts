// Prints the closing line CI reads: "N passed, N failed" alone on the last line. A file that
// failed on its own (a hook that threw or timed out, an import error) counts as one failure
// even when none of its tests ran, and so does an error outside every test: whenever vitest
// fails the run, the line says so.
import type { Reporter, TestModule } from "vitest/node";

export function summarize(
  testModules: ReadonlyArray<TestModule>,
  unhandledErrors: ReadonlyArray<unknown>,
): string {
  let passed = 0;
  let failed = unhandledErrors.length;
  let skipped = 0;
  for (const module of testModules) {
    let failedHere = 0;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === "passed") passed++;
      else if (state === "failed") failedHere++;
      else skipped++;
    }
    failed += module.state() === "failed" ? Math.max(failedHere, 1) : failedHere;
  }
  return `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`;
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<unknown>,
  ): void {
    process.stdout.write(`\n${summarize(testModules, unhandledErrors)}\n`);
  }
}
