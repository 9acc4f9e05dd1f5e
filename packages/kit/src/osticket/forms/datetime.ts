import { datePattern, dateTimePattern, formatIcuDate } from "../dates.ts";

/** What dates need of the helpdesk's settings (ost_config, namespace core). */
export interface DateSettings {
  get(key: string): string | null | undefined;
  /** `default_timezone`, as the helpdesk reads it. */
  readonly defaultTimezone: string;
}

/**
 * How date answers are stored and shown: the time zone a date field without its own zone is read in
 * (osTicket's `$cfg->getTimezone()`: the signed-in agent's zone, else the helpdesk's `default_timezone`),
 * and the helpdesk's date and date-time patterns that DatetimeField::toString prints (and indexes) with.
 */
export interface AnswerDates {
  readonly timeZone: string;
  readonly datePattern: string;
  readonly dateTimePattern: string;
}

export function answerDates(config: DateSettings, agentTimeZone?: string | null): AnswerDates {
  const formats = config.get("date_formats") ?? "";
  return {
    timeZone: validZone(agentTimeZone ?? "") ?? validZone(config.defaultTimezone) ?? "UTC",
    datePattern: datePattern(formats, config.get("date_format") ?? ""),
    dateTimePattern: dateTimePattern(formats, config.get("datetime_format") ?? ""),
  };
}

/** Zone names already checked: building an Intl.DateTimeFormat to test one costs far more than a lookup. */
const checkedZones = new Map<string, boolean>();

function validZone(zone: string): string | undefined {
  if (!zone) return undefined;
  let valid = checkedZones.get(zone);
  if (valid === undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
      valid = true;
    } catch {
      valid = false;
    }
    // Names come from configuration and agents' profiles, yet a bound keeps odd input from growing it.
    if (checkedZones.size >= 1000) checkedZones.clear();
    checkedZones.set(zone, valid);
  }
  return valid ? zone : undefined;
}

const ZONE = String.raw`(Z|UTC|GMT|[+-]\d{2}:?\d{2})`;
const TIME = String.raw`(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([ap]\.?m\.?)?`;
const DATE = new RegExp(String.raw`^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ]${TIME})?\s*${ZONE}?$`, "i");
const US_DATE = new RegExp(String.raw`^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?:\s+${TIME})?\s*${ZONE}?$`, "i");
const EU_DATE = new RegExp(String.raw`^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s+${TIME})?\s*${ZONE}?$`, "i");
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const MONTH = String.raw`(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`;
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const WEEKDAY = String.raw`(sun|mon|tue|wed|thu|fri|sat)(?:day|s|sday|nesday|rs|rsday|urday)?`;
const ORDINAL = String.raw`(\d{1,2})(?:st|nd|rd|th)?`;
/** `Dec 1 2026`, `December 1, 2026`, with a weekday before and a time after. */
const MONTH_FIRST = new RegExp(
  String.raw`^(?:${WEEKDAY},?\s+)?${MONTH}\.?\s+${ORDINAL},?\s+(\d{4})(?:,?\s+${TIME})?\s*${ZONE}?$`,
  "i",
);
/** `1 December 2026`, `Tue, 01 Dec 2026 10:00:00 GMT` (RFC 2822), `01-Dec-2026`. */
const DAY_FIRST = new RegExp(
  String.raw`^(?:${WEEKDAY},?\s+)?${ORDINAL}[\s-]+${MONTH}\.?[\s-]+(\d{4})(?:,?\s+${TIME})?\s*${ZONE}?$`,
  "i",
);
const UNITS: Readonly<Record<string, number>> = {
  sec: 1,
  second: 1,
  min: 60,
  minute: 60,
  hour: 3600,
  day: 86400,
  week: 604800,
  fortnight: 1209600,
};

/**
 * Epoch seconds of a date as Format::parseDateTime reads it (PHP's DateTime parser with UTC as the default
 * zone, osTicket's bootstrap setting), for the forms people and programs write: Unix timestamps (also
 * `@…`), ISO dates (`-` or `/`) with an optional time and zone (Z, UTC, GMT, ±hh:mm), US `m/d/Y`, `d.m.Y`,
 * month names (`Dec 1 2026`, `1 December 2026`, RFC 2822's `Tue, 01 Dec 2026 10:00:00 GMT`), and the
 * relative words `now`, `today`, `midnight`, `noon`, `tomorrow`, `yesterday`, `±N unit(s)` and weekdays
 * (`monday`, `next monday`, `last friday`), counted from `nowMs`. Dates out of range roll over as PHP's do
 * (`2026-02-30` is 2 March). Other texts PHP might still read are treated as unreadable.
 */
export function parseAnswerDate(text: string, nowMs = Date.now()): number | undefined {
  const t = text.trim();
  if (!t) return undefined;
  if (/^[+-]?\d+(?:\.\d+)?$/.test(t)) return Math.trunc(Number(t));
  const at = /^@([+-]?\d+)$/.exec(t);
  if (at) return Number(at[1]);
  const relative = relativeDate(t.toLowerCase(), Math.floor(nowMs / 1000));
  if (relative !== undefined) return relative;
  let m = DATE.exec(t);
  if (m) return dateOf(Number(m[1]), Number(m[2]), Number(m[3]), m.slice(4, 9));
  m = US_DATE.exec(t);
  if (m) {
    const y = Number(m[3]);
    return dateOf(y < 100 ? y + (y < 70 ? 2000 : 1900) : y, Number(m[1]), Number(m[2]), m.slice(4, 9));
  }
  m = EU_DATE.exec(t);
  if (m) return dateOf(Number(m[3]), Number(m[2]), Number(m[1]), m.slice(4, 9));
  m = MONTH_FIRST.exec(t);
  if (m) return dateOf(Number(m[4]), monthOf(m[2] ?? ""), Number(m[3]), m.slice(5, 10));
  m = DAY_FIRST.exec(t);
  if (m) return dateOf(Number(m[4]), monthOf(m[3] ?? ""), Number(m[2]), m.slice(5, 10));
  return undefined;
}

const monthOf = (name: string) => MONTHS.indexOf(name.slice(0, 3).toLowerCase()) + 1;

/** A calendar date with the optional time parts [hour, minute, second, meridiem, zone] of the patterns. */
function dateOf(y: number, mo: number, d: number, time: (string | undefined)[]): number | undefined {
  let h = Number(time[0] ?? 0);
  const mi = Number(time[1] ?? 0);
  const s = Number(time[2] ?? 0);
  const meridiem = (time[3] ?? "").replace(/\./g, "").toLowerCase();
  if (meridiem && (h < 1 || h > 12)) return undefined;
  if (meridiem === "pm" && h < 12) h += 12;
  if (meridiem === "am" && h === 12) h = 0;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || s > 60) return undefined;
  let offsetMinutes = 0;
  const offset = /^([+-])(\d{2}):?(\d{2})$/.exec(time[4] ?? "");
  if (offset) offsetMinutes = (offset[1] === "-" ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3]));
  return Date.UTC(y, mo - 1, d, h, mi, s) / 1000 - offsetMinutes * 60;
}

/** PHP's relative formats osTicket users write, in UTC; undefined for other texts. */
function relativeDate(t: string, now: number): number | undefined {
  const midnight = now - (((now % 86400) + 86400) % 86400);
  switch (t) {
    case "now":
      return now;
    case "today":
    case "midnight":
      return midnight;
    case "noon":
      return midnight + 43200;
    case "tomorrow":
      return midnight + 86400;
    case "yesterday":
      return midnight - 86400;
  }
  const shift = /^([+-]?)\s*(\d+)\s*(sec|second|min|minute|hour|day|week|fortnight|month|year)s?$/.exec(t);
  if (shift) {
    const n = Number(shift[2]) * (shift[1] === "-" ? -1 : 1);
    const unit = shift[3] ?? "";
    const seconds = UNITS[unit];
    if (seconds !== undefined) return now + n * seconds;
    const date = new Date(now * 1000);
    if (unit === "month") date.setUTCMonth(date.getUTCMonth() + n);
    else date.setUTCFullYear(date.getUTCFullYear() + n);
    return date.getTime() / 1000;
  }
  const weekday = new RegExp(String.raw`^(?:(next|last|this)\s+)?${WEEKDAY}$`).exec(t);
  if (weekday) {
    const target = WEEKDAYS.indexOf(weekday[2] ?? "");
    const today = new Date(midnight * 1000).getUTCDay();
    let days = (target - today + 7) % 7;
    if (weekday[1] === "next" && days === 0) days = 7;
    if (weekday[1] === "last") days = days === 0 ? -7 : days - 7;
    return midnight + days * 86400;
  }
  return undefined;
}

/** `Y-m-d H:i:s T` (the date picker's universal form) of an instant in a zone. */
export function universalDate(epochSeconds: number, timeZone: string): string {
  return `${formatIcuDate(epochSeconds, "yyyy-MM-dd HH:mm:ss", timeZone)} ${zoneAbbreviation(epochSeconds, timeZone)}`;
}

/**
 * PHP's `T`: the zone's abbreviation (UTC, EST, CET...) or, for zones without one, the offset (+03, +0530).
 * ICU knows the abbreviations of the US zones in en-US and of the European ones in en-GB.
 */
function zoneAbbreviation(epochSeconds: number, timeZone: string): string {
  if (timeZone === "UTC" || timeZone === "Etc/UTC") return "UTC";
  const name = (locale: string) =>
    new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: "short" })
      .formatToParts(new Date(epochSeconds * 1000))
      .find((p) => p.type === "timeZoneName")?.value ?? "";
  for (const locale of ["en-US", "en-GB"]) {
    const abbreviation = name(locale);
    if (/^[A-Z]{2,5}$/.test(abbreviation)) return abbreviation;
  }
  const offset = /^GMT(?:([+-])(\d{1,2})(?::(\d{2}))?)?$/.exec(name("en-US"));
  if (!offset?.[1]) return "GMT";
  const hours = (offset[2] ?? "0").padStart(2, "0");
  return `${offset[1]}${hours}${offset[3] && offset[3] !== "00" ? offset[3] : ""}`;
}

/**
 * A date field's stored value as the date picker widget leaves it (DatetimePickerWidget::getValue): read,
 * then written as `Y-m-d H:i:s T` in the field's own zone, else `dates.timeZone`. Unreadable text stays as
 * it was.
 */
export function widgetDate(raw: string, fieldZone: unknown, dates: AnswerDates): string {
  const epoch = parseAnswerDate(raw);
  if (epoch === undefined) return raw;
  const zone = (typeof fieldZone === "string" && validZone(fieldZone)) || dates.timeZone;
  return universalDate(epoch, zone);
}

/**
 * DatetimeField::toString, the searchable text of a stored date: the date (with its time when the field
 * asks for one) in the helpdesk's format and `dates.timeZone`; "" for a value strtotime cannot read.
 */
export function dateAnswerText(value: string, withTime: boolean, dates: AnswerDates): string {
  const epoch = parseUniversal(value);
  if (epoch === undefined || epoch <= 0) return "";
  return formatIcuDate(epoch, withTime ? dates.dateTimePattern : dates.datePattern, dates.timeZone);
}

/** Reads a stored date: the universal form's zone abbreviation as PHP's strtotime knows the usual ones. */
function parseUniversal(value: string): number | undefined {
  const m = /^(\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}(?::\d{2})?) ([A-Za-z]{2,5}|[+-]\d{2,4})$/.exec(
    value.trim(),
  );
  if (!m) return parseAnswerDate(value);
  const base = parseAnswerDate(m[1] ?? "");
  if (base === undefined) return undefined;
  const zone = m[2] ?? "";
  const numeric = /^([+-])(\d{2})(\d{2})?$/.exec(zone);
  if (numeric)
    return base - (numeric[1] === "-" ? -1 : 1) * (Number(numeric[2]) * 3600 + Number(numeric[3] ?? 0) * 60);
  const hours = ZONE_HOURS[zone.toUpperCase()];
  return hours === undefined ? undefined : base - hours * 3600;
}

/** Offsets of the abbreviations universalDate writes for common zones (strtotime's table has them all). */
const ZONE_HOURS: Readonly<Record<string, number>> = {
  UTC: 0,
  GMT: 0,
  Z: 0,
  BST: 1,
  WET: 0,
  WEST: 1,
  CET: 1,
  CEST: 2,
  EET: 2,
  EEST: 3,
  MSK: 3,
  EST: -5,
  EDT: -4,
  CST: -6,
  CDT: -5,
  MST: -7,
  MDT: -6,
  PST: -8,
  PDT: -7,
  AKST: -9,
  AKDT: -8,
  HST: -10,
  AST: -4,
  ADT: -3,
  NST: -3.5,
  NDT: -2.5,
  JST: 9,
  KST: 9,
  AEST: 10,
  AEDT: 11,
  ACST: 9.5,
  ACDT: 10.5,
  AWST: 8,
  NZST: 12,
  NZDT: 13,
};
