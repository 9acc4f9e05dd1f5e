/**
 * Wall-clock time in an IANA zone. Business hours are evaluated on a "naive" timeline: seconds since
 * 1970-01-01 00:00 of the wall clock, as if the zone were UTC, which keeps day and time-of-day arithmetic
 * trivial; `toEpoch` / `toNaive` convert to and from real instants.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, f);
  }
  return f;
}

/** True when the runtime knows the zone (osTicket falls back when a stored zone name is unusable). */
export function isValidTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** Wall-clock seconds (naive timeline) of a real instant in `zone`, formatted by Intl (the slow path). */
function formatNaive(epochSeconds: number, zone: string): number {
  const parts = formatter(zone).formatToParts(new Date(epochSeconds * 1000));
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return (
    Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second")) / 1000
  );
}

/** Offsets change only at transitions, which fall on quarter hours: one offset per quarter hour and zone. */
const OFFSET_BUCKET = 900;
const offsets = new Map<string, number | null>();

/** Wall-clock seconds (naive timeline) of a real instant in `zone`. */
export function toNaive(epochSeconds: number, zone: string): number {
  const bucket = Math.floor(epochSeconds / OFFSET_BUCKET) * OFFSET_BUCKET;
  const key = `${zone} ${bucket}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    // The same offset at both ends of the quarter hour: it holds throughout (no zone changes twice in 15 min).
    const start = formatNaive(bucket, zone) - bucket;
    const end = formatNaive(bucket + OFFSET_BUCKET - 1, zone) - (bucket + OFFSET_BUCKET - 1);
    offset = start === end ? start : null;
    if (offsets.size >= 50_000) offsets.clear();
    offsets.set(key, offset);
  }
  // Whole seconds, as the wall clock reads them.
  const whole = Math.floor(epochSeconds);
  return offset === null ? formatNaive(whole, zone) : whole + offset;
}

/** The real instant whose wall clock in `zone` reads `naive` (the earlier one when it is ambiguous). */
export function toEpoch(naive: number, zone: string): number {
  let guess = naive;
  for (let i = 0; i < 3; i++) {
    const offset = toNaive(guess, zone) - guess;
    const next = naive - offset;
    if (next === guess) break;
    guess = next;
  }
  return guess;
}

export const DAY = 86_400;

/** `YYYY-MM-DD` of a naive time. */
export function naiveDate(naive: number): string {
  return new Date(naive * 1000).toISOString().slice(0, 10);
}

/** Seconds since midnight of a naive time. */
export function timeOfDay(naive: number): number {
  return ((naive % DAY) + DAY) % DAY;
}

/** Naive midnight of a `YYYY-MM-DD` date (day overflow rolls over like PHP: 2026-11-31 is 2026-12-01). */
export function naiveMidnight(date: string): number {
  const [y, m, d] = date.split("-").map((p) => Number.parseInt(p, 10));
  return Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1) / 1000;
}

/** Seconds of an `HH:MM:SS` time. */
export function parseTime(time: string): number {
  const [h, m, s] = time.split(":").map((p) => Number.parseInt(p, 10));
  return (h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0);
}

/** ISO weekday of a naive time: 1 = Monday ... 7 = Sunday. */
export function isoWeekday(naive: number): number {
  const dow = new Date(naive * 1000).getUTCDay();
  return dow === 0 ? 7 : dow;
}
