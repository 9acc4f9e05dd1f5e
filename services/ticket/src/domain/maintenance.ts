/**
 * The database share of osTicket's cron (include/class.cron.php, Cron::run) besides overdue marking: expired
 * locks, stale drafts, expired sessions, expired password-reset tokens and old system-log rows. Each duty
 * deletes exactly the rows osTicket's statement deletes, judged by the server's NOW(), but in batches of
 * `DELETE ... ORDER BY <primary key> LIMIT n` (each its own autocommitted statement), so no run holds many
 * row locks or one long transaction. Mail fetching, orphaned-file cleanup and table optimisation stay with
 * osTicket's own cron (services/ticket/README.md).
 */
import { isNumeric, phpTruthy, str } from "./rows.ts";
import type { Sql, SqlValue } from "./sql.ts";

/** `done`: nothing left; `more-left`: the batch limit was reached; `skipped`: osTicket would not run it. */
export type CleanupOutcome = "done" | "more-left" | "skipped" | "failed";

export interface CleanupResult {
  readonly rowsDeleted: number;
  readonly outcome: CleanupOutcome;
  /** Why the duty failed (outcome `failed`), for the log. */
  readonly error?: unknown;
}

export interface CleanupLimits {
  /** Rows one DELETE removes at most. */
  readonly batchSize: number;
  /** DELETEs per duty and run. */
  readonly maxBatches: number;
  /** Stops between batches (an abort is thrown, not reported as a failed duty). */
  readonly signal?: AbortSignal;
}

const SKIPPED: CleanupResult = { rowsDeleted: 0, outcome: "skipped" };

/**
 * Runs `DELETE ... LIMIT batchSize` until a batch deletes fewer rows or `maxBatches` ran. A failure ends the
 * duty with the rows deleted so far; an abort of the call is rethrown.
 */
async function deleteInBatches(
  sql: Sql,
  statement: string,
  params: readonly SqlValue[],
  limits: CleanupLimits,
): Promise<CleanupResult> {
  let rowsDeleted = 0;
  try {
    for (let batch = 0; batch < limits.maxBatches; batch++) {
      limits.signal?.throwIfAborted();
      const { affectedRows } = await sql.run(`${statement} LIMIT ?`, [...params, limits.batchSize]);
      rowsDeleted += affectedRows;
      if (affectedRows < limits.batchSize) return { rowsDeleted, outcome: "done" };
    }
    return { rowsDeleted, outcome: "more-left" };
  } catch (error) {
    if (limits.signal?.aborted) throw error;
    return { rowsDeleted, outcome: "failed", error };
  }
}

/** Lock::cleanup (include/class.lock.php L144-148): locks whose `expire` is before NOW(). */
export function deleteExpiredLocks(sql: Sql, limits: CleanupLimits): Promise<CleanupResult> {
  // ost_ticket.lock_id / ost_task.lock_id keep pointing at the deleted row, as after osTicket's cleanup.
  return deleteInBatches(sql, "DELETE FROM ost_lock WHERE expire < NOW() ORDER BY lock_id", [], limits);
}

/**
 * Draft::cleanup (include/class.draft.php L185-191): drafts kept two weeks, counted in calendar days
 * (DATEDIFF), from the last update or, for a draft never updated, from its creation. Their 'D' attachments
 * are left for the orphaned-file cleanup, as in osTicket.
 */
export function deleteStaleDrafts(sql: Sql, limits: CleanupLimits): Promise<CleanupResult> {
  return deleteInBatches(
    sql,
    "DELETE FROM ost_draft WHERE (updated IS NULL AND DATEDIFF(NOW(), created) > 14)" +
      " OR DATEDIFF(NOW(), updated) > 14 ORDER BY id",
    [],
    limits,
  );
}

/**
 * Whether osTicket's cron cleans ost_session, given ost-config.php's SESSION_BACKEND (undefined: not
 * defined). osTicketSession picks the backend (include/class.ostsession.php L39-43, L139-167): an unset or
 * unrecognised primary means the database; `database`, `memcache` and `system` primaries keep the whole
 * lower-cased value, of which only `database`, `database.memcache` and `memcache.database` have a database
 * store whose cleanup runs (L44-80; AbstractSessionStorageBackend::cleanup also cleans the secondary,
 * include/class.session.php L395-404). Anything else falls to the `system` handler, which has no cleanup.
 */
export function osTicketCleansDatabaseSessions(sessionBackend: string | undefined): boolean {
  if (sessionBackend === undefined) return true;
  const primary = (sessionBackend.split(".")[0] ?? "").toLowerCase();
  if (primary !== "database" && primary !== "memcache" && primary !== "system") return true;
  return ["database", "database.memcache", "memcache.database"].includes(sessionBackend.toLowerCase());
}

/**
 * osTicketSession::cleanup → DatabaseSessionRecord::cleanupExpired (include/class.ostsession.php L244-250, L472-476):
 * sessions whose `session_expire` is NOW() or before; only where osTicket keeps sessions in the database.
 */
export function deleteExpiredSessions(
  sql: Sql,
  limits: CleanupLimits,
  sessionBackend: string | undefined,
): Promise<CleanupResult> {
  if (!osTicketCleansDatabaseSessions(sessionBackend)) return Promise.resolve(SKIPPED);
  return deleteInBatches(
    sql,
    "DELETE FROM ost_session WHERE session_expire <= NOW() ORDER BY session_id",
    [],
    limits,
  );
}

/**
 * The number PHP 8 arithmetic makes of a string: a numeric string, else its leading numeric part; null for a
 * string without one (PHP throws a TypeError there).
 */
function phpArithmeticNumber(value: string): number | null {
  const match = /^[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(value);
  return match ? Number(match[0].trim()) : null;
}

/** A `core` setting as OsticketConfig::get returns it (undefined: no row). */
async function coreSetting(sql: Sql, key: string): Promise<string | undefined> {
  const row = await sql.first("SELECT `value` FROM ost_config WHERE `namespace` = 'core' AND `key` = ?", [
    key,
  ]);
  return row ? str(row, "value") : undefined;
}

/**
 * ConfigItem::cleanPwResets (include/class.config.php L185-196): 'pwreset' tokens whose row was written more
 * than the reset window ago. The window is `pw_reset_window` minutes (OsticketConfig::getPwResetWindow,
 * L820-823; 30 when the key is missing, L229); a window of 0 cleans nothing.
 */
export async function deleteExpiredPasswordResets(sql: Sql, limits: CleanupLimits): Promise<CleanupResult> {
  let seconds: number;
  try {
    const minutes = phpArithmeticNumber((await coreSetting(sql, "pw_reset_window")) ?? "30");
    // A value PHP cannot multiply stops osTicket's cron with a TypeError; here only this duty is left out.
    if (minutes === null) return SKIPPED;
    seconds = minutes * 60;
  } catch (error) {
    return { rowsDeleted: 0, outcome: "failed", error };
  }
  if (seconds === 0) return SKIPPED;
  return deleteInBatches(
    sql,
    "DELETE FROM ost_config WHERE `namespace` = 'pwreset' AND updated < NOW() - INTERVAL ? SECOND ORDER BY id",
    [seconds],
    limits,
  );
}

/** ostmesh_scheduled_task row of the daily log purge. */
const PURGE_LOGS_TASK = "purge_logs";

/**
 * Takes today's log purge (the DB server's CURDATE()) for this run: true when it has not yet been done today
 * and no concurrent run took it. One statement each, so two runs never both take it.
 */
async function claimDailyPurge(sql: Sql): Promise<boolean> {
  const moved = await sql.run(
    "UPDATE ostmesh_scheduled_task SET done_on = CURDATE() WHERE task = ? AND done_on < CURDATE()",
    [PURGE_LOGS_TASK],
  );
  if (moved.affectedRows > 0) return true;
  const first = await sql.run(
    "INSERT IGNORE INTO ostmesh_scheduled_task (task, done_on) VALUES (?, CURDATE())",
    [PURGE_LOGS_TASK],
  );
  return first.affectedRows > 0;
}

/** Gives today's purge back, so that the next run continues an unfinished or failed one. */
async function releaseDailyPurge(sql: Sql): Promise<void> {
  await sql.run(
    "UPDATE ostmesh_scheduled_task SET done_on = CURDATE() - INTERVAL 1 DAY WHERE task = ? AND done_on = CURDATE()",
    [PURGE_LOGS_TASK],
  );
}

/**
 * osTicket::purgeLogs (include/class.osticket.php L335-347): system-log rows older than `log_graceperiod`
 * months (`DATE_ADD(created, INTERVAL <n> MONTH) <= NOW()`), unless the setting is empty, 0 ("Never Purge
 * Logs") or not numeric. osTicket's cron calls it on a random one run in 300 (Cron::PurgeLogs, "once a day on
 * a 5-minute cron"); here it runs at most once a day per database: the first run of the day that finds it not
 * done yet does it, and a purge that reaches the batch limit or fails is left to the next run.
 */
export async function purgeSystemLog(sql: Sql, limits: CleanupLimits): Promise<CleanupResult> {
  let months: number;
  try {
    const grace = await coreSetting(sql, "log_graceperiod");
    if (!phpTruthy(grace) || !isNumeric(grace)) return SKIPPED;
    // osTicket puts the setting's text into the SQL; the bound number is the same literal.
    months = Number(grace?.trim());
    if (!(await claimDailyPurge(sql))) return SKIPPED;
  } catch (error) {
    return { rowsDeleted: 0, outcome: "failed", error };
  }
  let result: CleanupResult;
  try {
    result = await deleteInBatches(
      sql,
      "DELETE FROM ost_syslog WHERE DATE_ADD(created, INTERVAL ? MONTH) <= NOW() ORDER BY log_id",
      [months],
      limits,
    );
  } catch (abort) {
    await releaseDailyPurge(sql).catch(() => undefined);
    throw abort;
  }
  if (result.outcome === "done") return result;
  try {
    await releaseDailyPurge(sql);
  } catch (error) {
    // The purge itself is reported; a lost release only delays the rest until tomorrow.
    return { ...result, outcome: "failed", error: result.error ?? error };
  }
  return result;
}
