import { describe, expect, it } from "vitest";
import { addWorkingHours, type BusinessSchedule, type ScheduleEntryDef } from "./business-hours.ts";
import { toNaive } from "./zoned-time.ts";

const weekday = (day: number, name: string): ScheduleEntryDef => ({
  name,
  repeats: "weekly",
  startsOn: "2019-01-07",
  startsAt: "08:00:00",
  endsOn: "2019-01-07",
  endsAt: "17:00:00",
  stopsOn: null,
  day,
  week: null,
  month: null,
});
const holiday = (name: string, day: number, week: number | null, month: number): ScheduleEntryDef => ({
  name,
  repeats: "yearly",
  startsOn: "2019-01-01",
  startsAt: "00:00:00",
  endsOn: "2019-01-01",
  endsAt: "23:59:59",
  stopsOn: null,
  day,
  week,
  month,
});

/** The installer's "Monday - Friday 8am - 5pm with U.S. Holidays" schedule (ost_schedule 1 + 4). */
function monFri(timezone: string): BusinessSchedule {
  return {
    name: "Monday - Friday 8am - 5pm with U.S. Holidays",
    timezone,
    entries: [
      weekday(1, "Monday"),
      weekday(2, "Tuesday"),
      weekday(3, "Wednesday"),
      weekday(4, "Thursday"),
      weekday(5, "Friday"),
    ],
    holidays: [
      {
        name: "U.S. Holidays",
        timezone,
        entries: [
          holiday("New Year's Day", 1, null, 1),
          holiday("MLK Day", 1, 3, 1),
          holiday("Memorial Day", 1, -1, 5),
          holiday("Independence Day", 4, null, 7),
          holiday("Labor Day", 1, 1, 9),
          holiday("Thanksgiving Day", 4, 4, 11),
          holiday("Christmas Day", 25, null, 12),
        ],
      },
    ],
  };
}

const at = (iso: string) => Date.parse(iso) / 1000;
const iso = (epoch: number | null) => (epoch === null ? null : new Date(epoch * 1000).toISOString());

describe("addWorkingHours (osTicket's BusinessHours)", () => {
  it("reproduces the observed due date: Thanksgiving 07:15 UTC + 18 h in New York → Tue 08:00 New York", () => {
    expect(iso(addWorkingHours(at("2026-11-26T07:15:00Z"), 18, monFri("America/New_York")))).toBe(
      "2026-12-01T13:00:00.000Z",
    );
  });

  it("gives Tue 08:00 UTC for the same case in UTC (observed on the second install)", () => {
    expect(iso(addWorkingHours(at("2026-11-26T07:15:00Z"), 18, monFri("UTC")))).toBe(
      "2026-12-01T08:00:00.000Z",
    );
  });

  it("counts the rest of the current window and backtracks inside the last one", () => {
    // Wed 2026-03-04 15:00 UTC: 2 h left today, 3 h more → Thu 11:00.
    expect(iso(addWorkingHours(at("2026-03-04T15:00:00Z"), 5, monFri("UTC")))).toBe(
      "2026-03-05T11:00:00.000Z",
    );
    // Before opening time a day counts in full: Mon 06:00 + 4 h → Mon 12:00.
    expect(iso(addWorkingHours(at("2026-03-02T06:00:00Z"), 4, monFri("UTC")))).toBe(
      "2026-03-02T12:00:00.000Z",
    );
    // After hours the day is skipped: Fri 18:00 + 1 h → Mon 09:00.
    expect(iso(addWorkingHours(at("2026-03-06T18:00:00Z"), 1, monFri("UTC")))).toBe(
      "2026-03-09T09:00:00.000Z",
    );
  });

  it("answers a schedule's repeated start and hours from memory with what a fresh copy of it gives", () => {
    const shared = monFri("America/New_York");
    for (let i = 0; i < 120; i++)
      for (const hours of [1, 18, 0]) {
        const start = at("2026-12-23T20:00:00Z") + i * 1800;
        const fresh = addWorkingHours(start, hours, structuredClone(shared));
        // The second call of a pair is answered from memory.
        expect([start, hours, addWorkingHours(start, hours, shared)]).toEqual([start, hours, fresh]);
        expect([start, hours, addWorkingHours(start, hours, shared)]).toEqual([start, hours, fresh]);
      }
  });

  it("skips Christmas and New Year's Day", () => {
    // Thu 2026-12-24 16:00: 1 h Thu, Fri 25 is Christmas, Mon 28 9 h → 10 h total ends Mon 17:00, rolls to Tue 08:00.
    expect(iso(addWorkingHours(at("2026-12-24T16:00:00Z"), 10, monFri("UTC")))).toBe(
      "2026-12-29T08:00:00.000Z",
    );
    expect(iso(addWorkingHours(at("2026-12-31T16:00:00Z"), 2, monFri("UTC")))).toBe(
      "2027-01-04T09:00:00.000Z",
    );
  });

  it("reproduces PHP's relative-weekday quirk for yearly Nth-weekday holidays", () => {
    // January 2029 starts on a Monday: "January 2029 Third Monday" resolves to Jan 22 in PHP (not Jan 15).
    expect(iso(addWorkingHours(at("2029-01-15T08:00:00Z"), 1, monFri("UTC")))).toBe(
      "2029-01-15T09:00:00.000Z",
    );
    expect(iso(addWorkingHours(at("2029-01-22T08:00:00Z"), 1, monFri("UTC")))).toBe(
      "2029-01-23T09:00:00.000Z",
    );
  });

  it("returns the start for zero hours and null for a schedule without entries", () => {
    expect(addWorkingHours(at("2026-03-02T06:00:00Z"), 0, monFri("UTC"))).toBe(at("2026-03-02T06:00:00Z"));
    expect(
      addWorkingHours(at("2026-03-02T06:00:00Z"), 5, {
        name: "empty",
        timezone: "UTC",
        entries: [],
        holidays: [],
      }),
    ).toBeNull();
  });

  it("handles 24/7 daily schedules", () => {
    const daily: BusinessSchedule = {
      name: "24/7",
      timezone: "UTC",
      entries: [
        { ...weekday(0, "Daily"), repeats: "daily", startsAt: "00:00:00", endsAt: "23:59:59", day: null },
      ],
      holidays: [],
    };
    // Each day counts 23:59:59; 48 h from Sat 10:00 → quota passes on Mon, backtrack into Mon.
    const due = addWorkingHours(at("2026-03-07T10:00:00Z"), 48, daily);
    expect(due).not.toBeNull();
    expect((due ?? 0) - at("2026-03-07T10:00:00Z")).toBeGreaterThanOrEqual(48 * 3600);
    expect(iso(due)).toBe("2026-03-09T10:00:02.000Z");
  });
});

describe("toNaive", () => {
  it("reads the wall clock exactly as Intl does, also around DST transitions and in odd offsets", () => {
    const intl = (epoch: number, zone: string) => {
      const parts = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      }).formatToParts(new Date(epoch * 1000));
      const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
      return (
        Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second")) / 1000
      );
    };
    // Around the 2026 transitions of New York and Berlin, Lord Howe's 30-minute DST, Kathmandu's +05:45.
    const spans: [string, number][] = [
      ["America/New_York", Date.UTC(2026, 2, 8, 6, 0) / 1000],
      ["America/New_York", Date.UTC(2026, 10, 1, 5, 0) / 1000],
      ["Europe/Berlin", Date.UTC(2026, 2, 29, 0, 0) / 1000],
      ["Australia/Lord_Howe", Date.UTC(2026, 3, 4, 14, 0) / 1000],
      ["Asia/Kathmandu", Date.UTC(2026, 0, 1, 0, 0) / 1000],
      ["UTC", 0],
    ];
    for (const [zone, around] of spans)
      for (let t = around - 7200; t <= around + 7200; t += 277) {
        expect(toNaive(t, zone)).toBe(intl(t, zone));
        expect(toNaive(t + 0.75, zone)).toBe(intl(t + 0.75, zone));
      }
  });
});
