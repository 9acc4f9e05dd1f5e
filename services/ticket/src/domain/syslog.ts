import { phpInt } from "./rows.ts";
import type { Sql } from "./sql.ts";

/** osTicket's system-log row types, by its numeric level (osTicket::log: 1 Error, 2 Warning, 3 Debug). */
export type SystemLogType = "Error" | "Warning" | "Debug";

const LEVELS: Readonly<Record<SystemLogType, number>> = { Error: 1, Warning: 2, Debug: 3 };

export interface SystemLogRow {
  readonly type: SystemLogType;
  readonly title: string;
  readonly message: string;
  /** `ost_syslog.logger` ("" for osTicket's own rows). */
  readonly logger?: string;
  /** The client's address (osTicket: `$_SERVER['REMOTE_ADDR']`). */
  readonly ipAddress: string;
}

/**
 * `core.log_level` as osTicket::log compares it: a missing setting is PHP's null, below every level, so
 * nothing is logged.
 */
async function systemLogLevel(sql: Sql): Promise<number> {
  const row = await sql.first(
    "SELECT `value` FROM ost_config WHERE `namespace` = 'core' AND `key` = 'log_level'",
  );
  return row ? phpInt(String(row.value ?? "")) : 0;
}

/**
 * Writes ost_syslog rows the helpdesk's log level admits (Admin Panel → Settings → System → Default Log
 * Level), one statement each (the ids of a multi-row INSERT are not guaranteed consecutive); the id of each
 * row in order, 0 for a row left out.
 */
export async function writeSystemLog(sql: Sql, rows: readonly SystemLogRow[]): Promise<number[]> {
  const level = await systemLogLevel(sql);
  const ids: number[] = [];
  for (const row of rows) {
    if (LEVELS[row.type] > level) {
      ids.push(0);
      continue;
    }
    const { insertId } = await sql.run(
      "INSERT INTO ost_syslog (log_type, title, log, logger, ip_address, created, updated)" +
        " VALUES (?, ?, ?, ?, ?, NOW(), NOW())",
      [row.type, row.title, row.message, row.logger ?? "", row.ipAddress],
    );
    ids.push(insertId);
  }
  return ids;
}

export { sanitizeLogText } from "@ostmesh/kit/osticket/text.ts";
