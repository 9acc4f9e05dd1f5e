import type { StoredAnswer } from "@ostmesh/kit/osticket/forms/answers.ts";
import { isRecord, str } from "../rows.ts";
import { quoteIdentifier, type Sql, type SqlValue } from "../sql.ts";

export interface NewFormEntry {
  readonly formId: number;
  /** `T` ticket, `U` user, `O` organization, `A` task. */
  readonly objectType: string;
  readonly objectId: number;
  readonly sort: number;
  /** JSON text (e.g. the fields a help topic disables), null for none. */
  readonly extra: string | null;
}

/**
 * INSERT ost_form_entry + one multi-row INSERT of its answers, both deferred (Sql.later): nothing reads the
 * entry's id, so the answers name it by LAST_INSERT_ID(), which the entry's INSERT queued right before them
 * on the same connection has just set (the answers' table has no AUTO_INCREMENT column of its own).
 */
export function insertFormEntry(tx: Sql, entry: NewFormEntry, answers: readonly StoredAnswer[]): void {
  tx.later(
    "INSERT INTO ost_form_entry (form_id, object_id, object_type, sort, extra, created, updated)" +
      " VALUES (?, ?, ?, ?, ?, NOW(), NOW())",
    [entry.formId, entry.objectId, entry.objectType, entry.sort, entry.extra],
  );
  if (answers.length) {
    const params: SqlValue[] = answers.flatMap((a) => [a.fieldId, a.value, a.valueId]);
    tx.later(
      "INSERT INTO ost_form_entry_values (entry_id, field_id, value, value_id) VALUES " +
        answers.map(() => "(LAST_INSERT_ID(), ?, ?, ?)").join(", "),
      params,
    );
  }
}

/**
 * Mirrors answers into a `__cdata` table (`ost_ticket__cdata`, `ost_user__cdata`, ...) with one upsert.
 * These tables are disposable: osTicket drops and rebuilds them when an admin edits the form, and cron
 * recreates missing ones. So nothing about them is cached: the upsert is queued with every column (it
 * travels with the transaction's next statement, Sql.laterRecoverable), and should it fail, a missing table
 * is skipped, and when a column does not exist (yet) the table's current columns are read and the upsert
 * repeated without the missing ones — the real data is in ost_form_entry_values.
 */
export function upsertCdata(
  tx: Sql,
  table: string,
  keyColumn: string,
  objectId: number,
  values: ReadonlyMap<string, string>,
): void {
  const columns = [...values.entries()].filter(([c]) => c !== keyColumn);
  const { sql, params } = upsertStatement(table, keyColumn, objectId, columns);
  tx.laterRecoverable(sql, params, async (error) => {
    const errno = isRecord(error) ? error.errno : undefined;
    if (errno === ER_NO_SUCH_TABLE) return true;
    if (errno !== ER_BAD_FIELD_ERROR) return false;
    const rows = await tx.all(
      "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
      [table],
    );
    const existing = new Set(rows.map((r) => str(r, "name").toLowerCase()));
    if (!existing.has(keyColumn.toLowerCase())) return true;
    const retry = upsertStatement(
      table,
      keyColumn,
      objectId,
      columns.filter(([c]) => existing.has(c.toLowerCase())),
    );
    await tx.run(retry.sql, retry.params);
    return true;
  });
}

const ER_NO_SUCH_TABLE = 1146;
const ER_BAD_FIELD_ERROR = 1054;

function upsertStatement(
  table: string,
  keyColumn: string,
  objectId: number,
  columns: readonly (readonly [string, string])[],
): { sql: string; params: SqlValue[] } {
  const names = [keyColumn, ...columns.map(([c]) => c)].map(quoteIdentifier);
  const updates = columns.length
    ? columns.map(([c]) => `${quoteIdentifier(c)} = VALUES(${quoteIdentifier(c)})`)
    : [`${quoteIdentifier(keyColumn)} = ${quoteIdentifier(keyColumn)}`];
  return {
    sql:
      `INSERT INTO ${quoteIdentifier(table)} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})` +
      ` ON DUPLICATE KEY UPDATE ${updates.join(", ")}`,
    params: [objectId, ...columns.map(([, v]) => v)],
  };
}
