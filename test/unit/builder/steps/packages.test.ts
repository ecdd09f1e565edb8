import { describe, expect, it } from "vitest";
import { downloadGroups } from "../../../../builder/steps/packages.ts";

describe("packages: downloads in parallel groups", () => {
  const sized = (...sizes: number[]) => sizes.map((size, i) => ({ name: `p${i}`, size }));

  it("deals the packages round-robin, largest first, so each group gets one large package", () => {
    const groups = downloadGroups(sized(5, 108, 1, 36, 2, 24, 3), 3);
    // 108, 36, 24, 5, 3, 2, 1 dealt to three groups in turn
    expect(groups.map((g) => g.map((r) => r.size))).toEqual([
      [108, 5, 1],
      [36, 3],
      [24, 2],
    ]);
  });

  it("makes no empty group, and keeps every package exactly once", () => {
    expect(downloadGroups(sized(7, 8), 3).map((g) => g.length)).toEqual([1, 1]);
    expect(downloadGroups([], 3)).toEqual([]);
    const records = sized(...Array.from({ length: 86 }, (_, i) => (i * 37) % 101));
    const groups = downloadGroups(records, 3);
    expect(groups.map((g) => g.length)).toEqual([29, 29, 28]);
    expect(
      groups
        .flat()
        .map((r) => r.name)
        .sort(),
    ).toEqual(records.map((r) => r.name).sort());
  });
});
