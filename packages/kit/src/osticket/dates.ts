/**
 * Dates as osTicket prints a FormattedDate (Format::datetime → IntlDateFormatter): with an ICU
 * pattern, in the helpdesk's time zone. The pattern is the helpdesk's own (`date_formats` = custom:
 * `datetime_format`), else the locale's short date and short time (en_US: `M/d/yy h:mm a`), with the hour
 * on the 24-hour clock when `date_formats` = 24 (OsticketConfig::getDateTimeFormat / getTimeFormat).
 */

/** The locale's short date and time patterns osTicket joins with a space (en_US, osTicket's default). */
const LOCALE_DATETIME = "M/d/yy h:mm a";

/** The ICU pattern osTicket formats date-times with, from `date_formats` and `datetime_format`. */
export function dateTimePattern(dateFormats: string, customPattern: string): string {
  if (dateFormats === "custom") return customPattern;
  // isForce24HourTime: getTimeFormat drops the `a` and turns `h` into `H`.
  if (dateFormats === "24") return LOCALE_DATETIME.replace(/a/g, "").replace(/h/g, "H").trim();
  return LOCALE_DATETIME;
}

/**
 * The ICU pattern osTicket formats dates (without time) with (OsticketConfig::getDateFormat): the helpdesk's
 * `date_format` when `date_formats` = custom, else the locale's short date (en_US: `M/d/yy`).
 */
export function datePattern(dateFormats: string, customPattern: string): string {
  if (dateFormats === "custom") return customPattern;
  return LOCALE_DATETIME.split(" ")[0] ?? "";
}

interface Parts {
  year: number;
  month: number;
  day: number;
  weekday: number;
  hour: number;
  minute: number;
  second: number;
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function partsIn(date: Date, timeZone: string): Parts {
  const fields = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(date);
  const get = (type: string) => Number(fields.find((f) => f.type === type)?.value ?? 0);
  const year = get("year");
  const month = get("month");
  const day = get("day");
  return {
    year,
    month,
    day,
    weekday: new Date(Date.UTC(year, month - 1, day)).getUTCDay(),
    hour: get("hour"),
    minute: get("minute"),
    second: get("second"),
  };
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** One ICU pattern field (a run of one letter) for `p`. Letters it does not know are kept as written. */
function field(letter: string, count: number, p: Parts): string {
  switch (letter) {
    case "y":
      return count === 2 ? pad(p.year % 100, 2) : pad(p.year, count);
    case "M":
    case "L":
      if (count >= 4) return MONTHS[p.month - 1] ?? "";
      if (count === 3) return (MONTHS[p.month - 1] ?? "").slice(0, 3);
      return pad(p.month, count);
    case "d":
      return pad(p.day, count);
    case "E":
      return count >= 4 ? (WEEKDAYS[p.weekday] ?? "") : (WEEKDAYS[p.weekday] ?? "").slice(0, 3);
    case "h":
      return pad(p.hour % 12 === 0 ? 12 : p.hour % 12, count);
    case "H":
      return pad(p.hour, count);
    case "m":
      return pad(p.minute, count);
    case "s":
      return pad(p.second, count);
    case "a":
      return p.hour < 12 ? "AM" : "PM";
    default:
      return letter.repeat(count);
  }
}

/** `epochSeconds` in `timeZone` with ICU `pattern`; "" for no date (osTicket prints nothing for a zero date). */
export function formatIcuDate(epochSeconds: number, pattern: string, timeZone: string): string {
  if (!(epochSeconds > 0)) return "";
  let parts: Parts;
  try {
    parts = partsIn(new Date(epochSeconds * 1000), timeZone);
  } catch {
    parts = partsIn(new Date(epochSeconds * 1000), "UTC");
  }
  let out = "";
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i] ?? "";
    if (c === "'") {
      // A quoted literal; '' is a single quote.
      const end = pattern.indexOf("'", i + 1);
      if (end === i + 1) {
        out += "'";
        i += 2;
        continue;
      }
      out += pattern.slice(i + 1, end < 0 ? pattern.length : end);
      i = end < 0 ? pattern.length : end + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (pattern[j] === c) j++;
      out += field(c, j - i, parts);
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}
