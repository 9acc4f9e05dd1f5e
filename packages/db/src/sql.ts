import type { EntityManager } from "@mikro-orm/mysql";

/** A row as mysql2 returns it: DATETIME values are strings, BIGINTs beyond 2^53 strings. */
export type Row = Record<string, unknown>;

export interface ExecuteResult {
  affectedRows: number;
  /** AUTO_INCREMENT id of the first inserted row (0 when none). */
  insertId: number;
}

/**
 * Runs a SELECT with `?` placeholders through `em`'s connection — inside `em`'s transaction when there is
 * one, so raw SQL (e.g. writes that need `NOW()`) and entity changes commit or roll back together.
 */
export async function query<T extends Row = Row>(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
): Promise<T[]> {
  return em.execute<T[]>(sql, [...params], "all");
}

/** Like `query`, for INSERT/UPDATE/DELETE: returns affected rows and the insert id. */
export async function execute(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
): Promise<ExecuteResult> {
  const res = await em.execute<{ affectedRows?: number; insertId?: number | bigint }>(
    sql,
    [...params],
    "run",
  );
  return { affectedRows: Number(res.affectedRows ?? 0), insertId: Number(res.insertId ?? 0) };
}

export interface ServerTime {
  /** `NOW()` on the DB server, `YYYY-MM-DD HH:MM:SS`, in the zone osTicket's timestamps are written in. */
  now: string;
  /**
   * The zone NOW() is evaluated in, found the way osTicket finds it: `@@global.time_zone`, or
   * `@@global.system_time_zone` when that is `SYSTEM` (e.g. `UTC`, `CET`, `+02:00`).
   */
  timeZone: string;
  /** The session's offset from UTC right now, in minutes (e.g. 120 for UTC+2). */
  utcOffsetMinutes: number;
}

/** Reads the DB server's clock and time zone (osTicket timestamps carry no zone of their own). */
export async function serverTime(em: EntityManager): Promise<ServerTime> {
  const [row] = await query<{ now: string; tz: string; systz: string; utcOffset: number | string }>(
    em,
    "SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now, @@global.time_zone AS tz," +
      " @@global.system_time_zone AS systz, TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), NOW()) AS utcOffset",
  );
  if (!row) throw new Error("the database returned no row for NOW()");
  return {
    now: row.now,
    timeZone: row.tz === "SYSTEM" ? row.systz : row.tz,
    utcOffsetMinutes: Number(row.utcOffset),
  };
}
