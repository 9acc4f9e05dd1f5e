import { describe, expect, it } from "vitest";
import { BudgetHints } from "./budget-hints.ts";

describe("search read budget hints", () => {
  it("keeps what a search needed with a quarter to spare, forgets it when told, and holds at most its limit", () => {
    const hints = new BudgetHints(2);
    expect(hints.get("printer")).toBeUndefined();
    hints.remember("printer", 7990);
    expect(hints.get("printer")).toBe(9988);
    // The usual read sufficed this time: no hint.
    hints.remember("printer", undefined);
    expect(hints.get("printer")).toBeUndefined();
    hints.remember("a", 1000);
    hints.remember("b", 2000);
    // A remembered key is the newest again; the oldest makes room.
    hints.remember("a", 1200);
    hints.remember("c", 3000);
    expect([hints.get("a"), hints.get("b"), hints.get("c")]).toEqual([1500, undefined, 3750]);
  });
});
