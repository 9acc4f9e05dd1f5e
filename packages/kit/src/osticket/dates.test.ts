import { describe, expect, it } from "vitest";
import { dateTimePattern, formatIcuDate } from "./dates.ts";

// 2026-11-27 14:05:09 UTC, a Friday.
const WHEN = Date.UTC(2026, 10, 27, 14, 5, 9) / 1000;

describe("dates in e-mails, as osTicket's FormattedDate prints them", () => {
  it("picks the pattern from date_formats: the locale's short date and time, 24-hour, or the custom one", () => {
    expect(dateTimePattern("", "MM/dd/y h:mm a")).toBe("M/d/yy h:mm a");
    expect(dateTimePattern("24", "MM/dd/y h:mm a")).toBe("M/d/yy H:mm");
    expect(dateTimePattern("custom", "MM/dd/y h:mm a")).toBe("MM/dd/y h:mm a");
  });

  it("formats ICU patterns in the helpdesk's time zone", () => {
    expect(formatIcuDate(WHEN, "M/d/yy h:mm a", "UTC")).toBe("11/27/26 2:05 PM");
    expect(formatIcuDate(WHEN, "M/d/yy H:mm", "UTC")).toBe("11/27/26 14:05");
    expect(formatIcuDate(WHEN, "MM/dd/y h:mm a", "America/New_York")).toBe(
      "11/27/2026 09:05 AM".replace("09", "9"),
    );
    expect(formatIcuDate(WHEN, "EEE, MMM d y h:mm a", "Europe/Berlin")).toBe("Fri, Nov 27 2026 3:05 PM");
    expect(formatIcuDate(WHEN, "EEEE d MMMM yyyy HH:mm:ss", "Asia/Tokyo")).toBe(
      "Friday 27 November 2026 23:05:09",
    );
    expect(formatIcuDate(WHEN, "d.M.y 'um' HH:mm 'Uhr'", "Europe/Berlin")).toBe("27.11.2026 um 15:05 Uhr");
    expect(formatIcuDate(Date.UTC(2026, 0, 1, 0, 7) / 1000, "hh:mm a", "UTC")).toBe("12:07 AM");
    // Across midnight in the zone: the zone's own date and weekday.
    expect(formatIcuDate(WHEN, "EEE d", "Pacific/Kiritimati")).toBe("Sat 28");
  });

  it("prints nothing for no date", () => {
    expect(formatIcuDate(0, "M/d/yy h:mm a", "UTC")).toBe("");
  });
});
