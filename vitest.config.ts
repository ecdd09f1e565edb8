import { defineConfig } from "vitest/config";

// Two projects: the unit tests (pure code and small host tools, no root, no VM) run in parallel
// and are the inner loop (`npm run test:unit`); the system tests (the real CLI, build containers,
// ISOs booted under QEMU) run one file at a time, as they share the build cache and the CPUs.
export default defineConfig({
  test: {
    reporters: ["default", "./test/summary-reporter.ts"],
    globalSetup: ["./test/global-setup.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: "system",
          include: [
            "test/cli/**/*.test.ts",
            "test/integration/**/*.test.ts",
            "test/e2e/**/*.test.ts",
          ],
          fileParallelism: false,
          testTimeout: 30_000,
        },
      },
    ],
  },
});
