import { BoundedMap } from "@ostmesh/kit/cache/bounded-map.ts";
import {
  DAY,
  isoWeekday,
  naiveDate,
  naiveMidnight,
  parseTime,
  timeOfDay,
  toEpoch,
  toNaive,
} from "./zoned-time.ts";

/** One `ost_schedule_entry` row. */
export interface ScheduleEntryDef {
  readonly name: string;
  /** never | daily | weekdays | weekends | weekly | monthly | yearly */
  readonly repeats: string;
  readonly startsOn: string;
  readonly startsAt: string;
  readonly endsOn: string;
  readonly endsAt: string;
  /** `YYYY-MM-DD HH:MM:SS` or null. */
  readonly stopsOn: string | null;
  /** Weekday 1 (Monday) .. 7 (Sunday), or day of month. */
  readonly day: number | null;
  /** 1..5 = first..fifth, -1 = last. */
  readonly week: number | null;
  readonly month: number | null;
}

export interface HolidaySchedule {
  readonly name: string;
  readonly timezone: string;
  readonly entries: readonly ScheduleEntryDef[];
}

/** A business-hours schedule with its holiday schedules, time zones already resolved. */
export interface BusinessSchedule {
  readonly name: string;
  readonly timezone: string;
  readonly entries: readonly ScheduleEntryDef[];
  readonly holidays: readonly HolidaySchedule[];
}

/** Look-ahead window osTicket uses when it collects occurrences (BusinessHours::initOccurrences). */
const LOOKAHEAD_HOURS = 72;
/** osTicket collects at most this many occurrences per entry and window (ScheduleEntry::getOccurrences). */
const MAX_OCCURRENCES = 5;

interface Entry {
  readonly def: ScheduleEntryDef;
  readonly zone: string;
  readonly startsEpoch: number;
  readonly endsEpoch: number;
  readonly startsAt: number;
  readonly endsAt: number;
  readonly stopsEpoch: number | null;
}

function entry(def: ScheduleEntryDef, zone: string): Entry {
  const startsEpoch = toEpoch(naiveMidnight(def.startsOn) + parseTime(def.startsAt), zone);
  const endsEpoch = toEpoch(naiveMidnight(def.endsOn) + parseTime(def.endsAt), zone);
  let stopsEpoch: number | null = null;
  if (def.stopsOn) {
    const [date = def.stopsOn, time = "00:00:00"] = def.stopsOn.split(" ");
    stopsEpoch = toEpoch(naiveMidnight(date) + parseTime(time), zone);
  } else if (def.repeats === "never") {
    stopsEpoch = endsEpoch;
  }
  return {
    def,
    zone,
    startsEpoch,
    endsEpoch,
    startsAt: parseTime(def.startsAt),
    endsAt: parseTime(def.endsAt),
    stopsEpoch,
  };
}

/** Length of the entry's own window in seconds (ScheduleEntry::diff). */
function duration(e: Entry): number {
  return e.endsEpoch - e.startsEpoch;
}

/** Seconds from `naive`'s time of day to the window end (ScheduleEntry::diffTime). */
function remaining(e: Entry, naive: number): number {
  const start = toEpoch(naiveMidnight(e.def.startsOn) + timeOfDay(naive), e.zone);
  return e.endsEpoch - start;
}

function isFullDay(e: Entry): boolean {
  return (duration(e) + 1) / 3600 >= 24;
}

/** Occurrence of a weekday in a month: `week` 1..5 counts from the start, -1 is the last one. */
function nthWeekdayOf(year: number, month: number, isoDay: number, week: number): number {
  if (week === -1) {
    const last = Date.UTC(year, month, 0) / 1000;
    const back = (isoWeekday(last) - isoDay + 7) % 7;
    return last - back * DAY;
  }
  const first = Date.UTC(year, month - 1, 1) / 1000;
  const ahead = (isoDay - isoWeekday(first) + 7) % 7;
  return first + (ahead + (week - 1) * 7) * DAY;
}

/**
 * osTicket builds yearly "Nth weekday" holidays from a relative date string without "of" ("November 2026
 * Fourth Thursday"), which PHP resolves from the 1st of the month *excluding* the 1st itself: when the month
 * starts on that weekday, the holiday lands a week late. Reproduced so due dates match osTicket's.
 */
function yearlyRelativeWeekday(year: number, month: number, isoDay: number, week: number): number {
  const first = Date.UTC(year, month - 1, 1) / 1000;
  let ahead = (isoDay % 7) - (isoWeekday(first) % 7);
  if (ahead <= 0) ahead += 7;
  return first + (ahead + (week - 1) * 7) * DAY;
}

/** The occurrence of a monthly / yearly entry in the period containing `year`/`month`. */
function periodOccurrence(def: ScheduleEntryDef, year: number, month: number): number | null {
  const day = def.day ?? 0;
  if (def.repeats === "monthly") {
    if (!def.week && day > 0) return Date.UTC(year, month - 1, day) / 1000;
    if (!def.week || day < 1 || day > 7) return null;
    return nthWeekdayOf(year, month, day, def.week);
  }
  const m = def.month ?? 1;
  if ((def.week ?? 0) > 0)
    return day >= 1 && day <= 7 ? yearlyRelativeWeekday(year, m, day, def.week ?? 1) : null;
  if (def.week === -1) return day >= 1 && day <= 7 ? nthWeekdayOf(year, m, day, -1) : null;
  return Date.UTC(year, m - 1, day) / 1000;
}

function occursOn(e: Entry, midnight: number): boolean {
  const def = e.def;
  const weekday = isoWeekday(midnight);
  switch (def.repeats) {
    case "never":
      return naiveDate(midnight) === def.startsOn;
    case "daily":
      return true;
    case "weekdays":
      return weekday <= 5;
    case "weekends":
      return weekday >= 6;
    case "weekly":
      return weekday === def.day;
    case "monthly": {
      const d = new Date(midnight * 1000);
      const y = d.getUTCFullYear();
      const m = d.getUTCMonth() + 1;
      // An overflowing day (the 31st of a 30-day month) lands in the next month, as in PHP.
      return periodOccurrence(def, y, m) === midnight || periodOccurrence(def, y, m - 1) === midnight;
    }
    case "yearly": {
      const y = new Date(midnight * 1000).getUTCFullYear();
      return periodOccurrence(def, y, 1) === midnight || periodOccurrence(def, y - 1, 1) === midnight;
    }
    default:
      return false;
  }
}

/** Dates (local, `YYYY-MM-DD`) on which the entry occurs from `from` up to `endDate` (inclusive). */
function occurrences(e: Entry, from: number, fromZone: string, endDate: string | null): string[] {
  const fromEpoch = toEpoch(from, fromZone);
  let first = naiveMidnight(naiveDate(from));
  if (e.startsEpoch > fromEpoch) first = Math.max(first, naiveMidnight(e.def.startsOn));
  const scopeEpoch = Math.max(fromEpoch, e.startsEpoch);
  if (e.stopsEpoch !== null && e.stopsEpoch < scopeEpoch) return [];
  const last = endDate ? naiveMidnight(endDate) : first + 6 * 366 * DAY;
  const found: string[] = [];
  for (let day = first; day <= last && found.length < MAX_OCCURRENCES; day += DAY) {
    if (!occursOn(e, day)) continue;
    if (e.stopsEpoch !== null && toEpoch(day, e.zone) > e.stopsEpoch) break;
    found.push(naiveDate(day));
  }
  return found;
}

/**
 * Adds `hours` working hours of `schedule` to the instant `startEpoch` (seconds) the way osTicket's
 * BusinessHours::addWorkingHours does, quirks included: a quota met exactly at a window's end rolls on to
 * the next window start, and a day whose window end (read as UTC wall time) is before the current instant
 * is skipped. Returns null when the schedule has no entries (the caller then adds plain hours).
 */
export function addWorkingHours(
  startEpoch: number,
  hours: number,
  schedule: BusinessSchedule,
): number | null {
  // A pure function of its inputs, and schedules are shared across requests (metadata cache): tickets
  // created in the same second of one schedule share their due date, worked out once.
  let known = workedOut.get(schedule);
  if (!known) {
    known = new BoundedMap({ limit: 64 });
    workedOut.set(schedule, known);
  }
  const key = `${startEpoch} ${hours}`;
  const hit = known.get(key);
  if (hit !== undefined) return hit;
  const due = addHours(startEpoch, hours, schedule);
  known.set(key, due);
  return due;
}

/** Due dates already worked out, by schedule object, then start and hours. */
const workedOut = new WeakMap<BusinessSchedule, BoundedMap<string, number | null>>();

function addHours(startEpoch: number, hours: number, schedule: BusinessSchedule): number | null {
  if (!hours || !Number.isFinite(hours)) return startEpoch;
  if (schedule.entries.length === 0) return null;
  const zone = schedule.timezone;
  const work = schedule.entries.map((d) => entry(d, zone));
  const holidayEntries = schedule.holidays.flatMap((h) => h.entries.map((d) => entry(d, h.timezone)));

  const target = hours * 3600;
  let date = toNaive(startEpoch, zone);
  let collected = 0;
  let workdays = new Map<string, Entry>();

  for (let round = 0; collected < target; round++) {
    if (round > 1000) return null;
    // Collect this window's working days (first entry wins a date) and the holidays within them.
    let from = date;
    if (workdays.has(naiveDate(from))) from += DAY;
    const periodEnd = naiveDate(from + LOOKAHEAD_HOURS * 3600);
    const nextDays = new Map<string, Entry>();
    for (const e of work) {
      for (const d of occurrences(e, from, zone, periodEnd)) if (!nextDays.has(d)) nextDays.set(d, e);
    }
    workdays = new Map([...nextDays].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    if (workdays.size === 0) break;
    const lastDay = [...workdays.keys()].at(-1) ?? null;
    const holidays = new Map<string, Entry>();
    for (const h of holidayEntries) {
      for (const d of occurrences(h, from, zone, lastDay)) if (!holidays.has(d)) holidays.set(d, h);
    }

    for (const [day, e] of workdays) {
      let partial = false;
      if (day === naiveDate(date)) {
        if (timeOfDay(date) > e.endsAt) continue;
        if (timeOfDay(date) >= e.startsAt) partial = true;
      } else if (naiveMidnight(day) + e.endsAt < toEpoch(date, zone)) {
        // osTicket compares the window end read in PHP's default zone (UTC) with the real instant.
        continue;
      }
      let leadTime = 0;
      const holiday = holidays.get(day);
      if (holiday) {
        date = naiveMidnight(day) + holiday.endsAt;
        if (isFullDay(holiday)) continue;
        partial = true;
        if (holiday.startsAt > e.startsAt) leadTime = holiday.startsAt - e.startsAt;
      }
      collected += partial ? remaining(e, date) + leadTime : duration(e);
      date = naiveMidnight(day) + e.endsAt;
      if (collected > target) {
        return toEpoch(date, zone) - Math.round(collected - target);
      }
    }
  }
  return toEpoch(date, zone);
}
