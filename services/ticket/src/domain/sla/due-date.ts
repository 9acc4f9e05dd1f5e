import { type Lookups, SlaFlag } from "../reference/lookups.ts";
import { int, intOrNull, isRecord, json, str, strOrNull } from "../rows.ts";
import type { Row, Sql } from "../sql.ts";
import { addWorkingHours, type BusinessSchedule, type ScheduleEntryDef } from "./business-hours.ts";
import { isValidTimeZone } from "./zoned-time.ts";

function toEntry(row: Row): ScheduleEntryDef {
  return {
    name: str(row, "name"),
    repeats: str(row, "repeats").toLowerCase(),
    startsOn: str(row, "starts_on"),
    startsAt: str(row, "starts_at") || "00:00:00",
    endsOn: str(row, "ends_on"),
    endsAt: str(row, "ends_at") || "00:00:00",
    stopsOn: strOrNull(row, "stops_on"),
    day: intOrNull(row, "day"),
    week: intOrNull(row, "week"),
    month: intOrNull(row, "month"),
  };
}

function zoneOf(row: Row, fallbackZone: string): string {
  const zone = strOrNull(row, "timezone");
  if (zone && isValidTimeZone(zone)) return zone;
  return isValidTimeZone(fallbackZone) ? fallbackZone : "UTC";
}

/**
 * A business-hours schedule (flag 0x1) with its entries and holiday schedules (ost_config
 * `schedule.<id>` → configuration.holidays), in two queries. `fallbackZone` is used when the schedule has
 * no time zone ("floating" schedules follow the acting agent's zone, else the helpdesk default).
 */
export async function loadBusinessSchedule(
  tx: Sql,
  scheduleId: number,
  fallbackZone: string,
): Promise<BusinessSchedule | undefined> {
  if (!scheduleId) return undefined;
  const rows = await tx.all(
    `SELECT s.id, s.name AS schedule_name, s.timezone, c.value AS configuration, e.id AS entry_id, ${ENTRY_SELECT}` +
      " FROM ost_schedule s LEFT JOIN ost_config c ON c.namespace = CONCAT('schedule.', s.id) AND c.`key` = 'configuration'" +
      " LEFT JOIN ost_schedule_entry e ON e.schedule_id = s.id WHERE s.id = ? AND s.flags & 1 != 0 ORDER BY e.id",
    [scheduleId],
  );
  const schedule = rows[0];
  if (!schedule) return undefined;
  const configuration = json(strOrNull(schedule, "configuration"));
  const holidayIds =
    isRecord(configuration) && Array.isArray(configuration.holidays)
      ? configuration.holidays.map((v) => Number(v)).filter((v) => Number.isInteger(v) && v > 0)
      : [];
  const holidayRows = holidayIds.length
    ? await tx.all(
        `SELECT s.id, s.name AS schedule_name, s.timezone, e.id AS entry_id, ${ENTRY_SELECT} FROM ost_schedule s` +
          ` LEFT JOIN ost_schedule_entry e ON e.schedule_id = s.id WHERE s.id IN (${holidayIds.map(() => "?").join(", ")})` +
          " ORDER BY e.id",
        holidayIds,
      )
    : [];
  const holidays = holidayIds.flatMap((id) => {
    const mine = holidayRows.filter((r) => int(r, "id") === id);
    const first = mine[0];
    return first
      ? [
          {
            name: str(first, "schedule_name"),
            timezone: zoneOf(first, fallbackZone),
            entries: entriesOf(mine),
          },
        ]
      : [];
  });
  return {
    name: str(schedule, "schedule_name"),
    timezone: zoneOf(schedule, fallbackZone),
    entries: entriesOf(rows),
    holidays,
  };
}

const ENTRY_SELECT =
  "e.name, e.repeats, e.starts_on, e.starts_at, e.ends_on, e.ends_at, e.stops_on, e.day, e.week, e.month";

function entriesOf(rows: readonly Row[]): ScheduleEntryDef[] {
  return rows.filter((r) => r.entry_id !== null && r.entry_id !== undefined).map(toEntry);
}

export interface DueDateInput {
  readonly slaId: number;
  readonly deptId: number;
  /** Instant (epoch seconds) the grace period starts: the ticket's reopen, else create time. */
  readonly startEpoch: number;
  /** The acting agent's time zone, used by schedules without their own zone. */
  readonly actorTimezone?: string | null;
}

/**
 * Ticket::getSLADueDate: the SLA's grace period added in business hours of the department's schedule,
 * else the SLA's, else the helpdesk default schedule; plain hours when no schedule applies. Null when the
 * ticket has no active SLA (est_duedate NULL).
 */
export async function computeSlaDueDate(
  tx: Sql,
  lookups: Lookups,
  input: DueDateInput,
): Promise<number | null> {
  const sla = input.slaId ? await lookups.sla(input.slaId) : undefined;
  if (!sla || (sla.flags & SlaFlag.ACTIVE) === 0) return null;
  const config = lookups.config;
  const zone = input.actorTimezone || config.defaultTimezone;
  const dept = input.deptId ? await lookups.department(input.deptId) : undefined;
  // Schedules change as rarely as forms: shared across requests for the metadata cache's TTL.
  const businessSchedule = (id: number) =>
    id ? lookups.shared(`schedule:${id}:${zone}`, () => loadBusinessSchedule(tx, id, zone)) : undefined;
  const schedule =
    (await businessSchedule(dept?.scheduleId ?? 0)) ??
    (await businessSchedule(sla.scheduleId)) ??
    (await businessSchedule(config.defaultScheduleId));
  if (schedule) {
    const due = addWorkingHours(input.startEpoch, sla.gracePeriod, schedule);
    if (due !== null) return due;
  }
  return input.startEpoch + Math.round(sla.gracePeriod * 3600);
}

/** Reads the DB clock as epoch seconds (honours a pinned `SET timestamp`). */
export async function dbEpoch(tx: Sql): Promise<number> {
  const row = await tx.first("SELECT UNIX_TIMESTAMP() AS now");
  return row ? int(row, "now") : Math.floor(Date.now() / 1000);
}
