import { str } from "../rows.ts";
import { placeholders, quoteIdentifier, type Sql, type SqlValue } from "../sql.ts";
import type { StoredAnswer } from "./answers.ts";

export interface NewFormEntry {
  readonly formId: number;
  /** `T` ticket, `U` user, `O` organization, `A` task. */
  readonly objectType: string;
  readonly objectId: number;
  readonly sort: number;
  /** JSON text (e.g. the fields a help topic disables), null for none. */
  readonly extra: string | null;
}

/** INSERT ost_form_entry + one multi-row INSERT of its answers; returns the entry id. */
export async function insertFormEntry(
  tx: Sql,
  entry: NewFormEntry,
  answers: readonly StoredAnswer[],
): Promise<number> {
  const { insertId } = await tx.run(
    "INSERT INTO ost_form_entry (form_id, object_id, object_type, sort, extra, created, updated)" +
      " VALUES (?, ?, ?, ?, ?, NOW(), NOW())",
    [entry.formId, entry.objectId, entry.objectType, entry.sort, entry.extra],
  );
  if (answers.length) {
    const params: SqlValue[] = answers.flatMap((a) => [insertId, a.fieldId, a.value, a.valueId]);
    await tx.run(
      `INSERT INTO ost_form_entry_values (entry_id, field_id, value, value_id) VALUES ${placeholders(answers.length, 4)}`,
      params,
    );
  }
  return insertId;
}

/**
 * Mirrors answers into a `__cdata` table (`ost_ticket__cdata`, `ost_user__cdata`, ...) with one upsert.
 * These tables are disposable: osTicket drops and rebuilds them when an admin edits the form, and cron
 * recreates missing ones. So the column list is read at write time, a missing table is skipped, and
 * answers whose column does not exist (yet) are left out — the real data is in ost_form_entry_values.
 */
export async function upsertCdata(
  tx: Sql,
  table: string,
  keyColumn: string,
  objectId: number,
  values: ReadonlyMap<string, string>,
): Promise<void> {
  const rows = await tx.all(
    "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    [table],
  );
  if (rows.length === 0) return;
  const existing = new Set(rows.map((r) => str(r, "name").toLowerCase()));
  const columns = [...values.entries()].filter(([c]) => existing.has(c.toLowerCase()) && c !== keyColumn);
  if (!existing.has(keyColumn.toLowerCase())) return;
  const names = [keyColumn, ...columns.map(([c]) => c)].map(quoteIdentifier);
  const updates = columns.map(([c]) => `${quoteIdentifier(c)} = VALUES(${quoteIdentifier(c)})`);
  await tx.run(
    `INSERT INTO ${quoteIdentifier(table)} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})` +
      (updates.length
        ? ` ON DUPLICATE KEY UPDATE ${updates.join(", ")}`
        : ` ON DUPLICATE KEY UPDATE ${quoteIdentifier(keyColumn)} = ${quoteIdentifier(keyColumn)}`),
    [objectId, ...columns.map(([, v]) => v)],
  );
}
