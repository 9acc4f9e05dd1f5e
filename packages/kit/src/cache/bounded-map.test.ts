import { describe, expect, it } from "vitest";
import { BoundedMap } from "./bounded-map.ts";

describe("BoundedMap", () => {
  it("keeps an entry until its time is up, and none already out of time", () => {
    let now = 1_000;
    const map = new BoundedMap<string, string>({ limit: 10, now: () => now });
    map.set("a", "A", 2_000);
    map.set("b", "B");
    map.set("c", "C", 1_000);
    expect([map.get("a"), map.get("b"), map.get("c"), map.size]).toEqual(["A", "B", undefined, 2]);
    now = 2_000;
    expect([map.get("a"), map.get("b"), map.size]).toEqual([undefined, "B", 1]);
    map.delete("b");
    expect([map.get("b"), map.size]).toEqual([undefined, 0]);
  });

  it("holds at most its limit: the oldest set entry makes room, and setting a key again makes it the newest", () => {
    const map = new BoundedMap<string, number>({ limit: 2 });
    map.set("a", 1);
    map.set("b", 2);
    map.set("a", 3);
    map.set("c", 4);
    expect([map.get("a"), map.get("b"), map.get("c"), map.size]).toEqual([3, undefined, 4, 2]);
  });
});
