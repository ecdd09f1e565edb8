import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The e2e suite boots real ISOs under QEMU; its files run one at a time.
    fileParallelism: false,
    testTimeout: 30_000,
    reporters: ["default", "./test/summary-reporter.ts"],
    globalSetup: ["./test/global-setup.ts"],
  },
});
