import { describe, expect, it } from "vitest";
import { TailCursor } from "./cursor.ts";

describe("TailCursor", () => {
  it("advances over handled ids and stops at a missing one until it times out", () => {
    const cursor = new TailCursor(10, 1_000);
    cursor.read([11, 13, 14]);
    for (const id of [11, 13, 14]) cursor.handle(id);
    expect(cursor.advance(0)).toBe(11);
    expect(cursor.missing()).toEqual([12]);
    expect(cursor.advance(999)).toBe(11);
    // The row committed late: handled, and the cursor moves past everything.
    cursor.handle(12);
    expect(cursor.advance(1_000)).toBe(14);
    expect(cursor.missing()).toEqual([]);
  });

  it("gives up on an id that never appears (a rolled-back transaction) after the gap timeout", () => {
    const cursor = new TailCursor(0, 500);
    cursor.read([1, 4]);
    cursor.handle(1);
    cursor.handle(4);
    expect(cursor.advance(100)).toBe(1);
    expect(cursor.missing()).toEqual([2, 3]);
    expect(cursor.advance(599)).toBe(1);
    expect(cursor.advance(600)).toBe(4);
    expect(cursor.highest).toBe(4);
  });

  it("holds at a deferred row that was read but not handled, and reads new rows from the highest id", () => {
    const cursor = new TailCursor(0, 10_000);
    cursor.read([1, 2, 3]);
    cursor.handle(1);
    cursor.handle(3);
    expect(cursor.advance(0)).toBe(1);
    expect(cursor.isHandled(3)).toBe(true);
    expect(cursor.isHandled(2)).toBe(false);
    expect(cursor.highest).toBe(3);
    cursor.read([4]);
    cursor.handle(4);
    cursor.handle(2);
    expect(cursor.advance(1)).toBe(4);
  });
});
