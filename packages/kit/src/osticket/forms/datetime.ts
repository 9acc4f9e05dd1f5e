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

const DATE =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?$/i;
const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4}|\d{2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap]m)?)?$/i;

/**
 * Epoch seconds of a date as Format::parseDateTime reads it (PHP's DateTime parser with UTC as the default
 * zone, osTicket's bootstrap setting): a Unix timestamp, ISO dates with an optional time and zone (Z, UTC,
 * GMT, ±hh:mm), and US `m/d/Y` dates. Other texts PHP might still read are treated as unreadable.
 */
export function parseAnswerDate(text: string): number | undefined {
  const t = text.trim();
  if (!t) return undefined;
  if (/^[+-]?\d+(?:\.\d+)?$/.test(t)) return Math.trunc(Number(t));
  let y: number;
  let mo: number;
  let d: number;
  let h = 0;
  let mi = 0;
  let s = 0;
  let offsetMinutes = 0;
  const iso = DATE.exec(t);
  const us = iso ? null : US_DATE.exec(t);
  if (iso) {
    [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
    [h, mi, s] = [Number(iso[4] ?? 0), Number(iso[5] ?? 0), Number(iso[6] ?? 0)];
    const zone = iso[7] ?? "";
    const offset = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (offset) offsetMinutes = (offset[1] === "-" ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3]));
  } else if (us) {
    [mo, d, y] = [Number(us[1]), Number(us[2]), Number(us[3])];
    if (y < 100) y += y < 70 ? 2000 : 1900;
    [h, mi, s] = [Number(us[4] ?? 0), Number(us[5] ?? 0), Number(us[6] ?? 0)];
    const meridiem = (us[7] ?? "").toLowerCase();
    if (meridiem && (h < 1 || h > 12)) return undefined;
    if (meridiem === "pm" && h < 12) h += 12;
    if (meridiem === "am" && h === 12) h = 0;
  } else return undefined;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || s > 60) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, s) / 1000 - offsetMinutes * 60;
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
