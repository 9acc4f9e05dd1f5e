/**
 * Dates as osTicket's PHP reads them (Format::parseDateTime, UTC), each row checked against osTicket 1.18.1
 * storing the same text from a legacy API request (its picker's `Y-m-d H:i:s T`), on 2026-11-27 (a Friday).
 */
import { describe, expect, it } from "vitest";
import { parseAnswerDate, universalDate } from "./datetime.ts";

const NOW = Date.UTC(2026, 10, 27, 12, 35, 21);
const stored = (text: string) => {
  const epoch = parseAnswerDate(text, NOW);
  return epoch === undefined ? undefined : universalDate(epoch, "UTC");
};

describe("parseAnswerDate", () => {
  it.each([
    ["2026-12-01", "2026-12-01 00:00:00 UTC"],
    ["2026/12/01", "2026-12-01 00:00:00 UTC"],
    ["2026-12-01T10:00:00+02:00", "2026-12-01 08:00:00 UTC"],
    ["12/1/26", "2026-12-01 00:00:00 UTC"],
    ["01.12.2026", "2026-12-01 00:00:00 UTC"],
    ["Dec 1 2026", "2026-12-01 00:00:00 UTC"],
    ["December 1, 2026", "2026-12-01 00:00:00 UTC"],
    ["1 December 2026", "2026-12-01 00:00:00 UTC"],
    ["1 Dec 2026 14:30", "2026-12-01 14:30:00 UTC"],
    ["Tue, 01 Dec 2026 10:00:00 GMT", "2026-12-01 10:00:00 UTC"],
    ["1795000000", "2026-11-18 11:06:40 UTC"],
    ["@1795000000", "2026-11-18 11:06:40 UTC"],
    ["2026-02-30", "2026-03-02 00:00:00 UTC"],
    ["today", "2026-11-27 00:00:00 UTC"],
    ["tomorrow", "2026-11-28 00:00:00 UTC"],
    ["+1 week", "2026-12-04 12:35:21 UTC"],
    ["next monday", "2026-11-30 00:00:00 UTC"],
  ])("%s → %s", (text, expected) => {
    expect(stored(text)).toBe(expected);
  });

  it("leaves what PHP cannot read unread (osTicket then stores the text as sent)", () => {
    for (const text of ["garbage", "2026-12-01 25:00", "Monkey 1 2026", ""])
      expect(stored(text)).toBeUndefined();
  });

  it("counts weekdays from today: this one, the next, the last", () => {
    expect(stored("friday")).toBe("2026-11-27 00:00:00 UTC");
    expect(stored("next friday")).toBe("2026-12-04 00:00:00 UTC");
    expect(stored("last friday")).toBe("2026-11-20 00:00:00 UTC");
    expect(stored("-2 days")).toBe("2026-11-25 12:35:21 UTC");
    expect(stored("+1 month")).toBe("2026-12-27 12:35:21 UTC");
  });
});
