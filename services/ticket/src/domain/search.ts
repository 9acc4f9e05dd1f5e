import { placeholders, type Sql, type SqlValue } from "./sql.ts";

/** One `ost__search` row: `T` ticket, `H` thread entry, `U` user, `O` organization. */
export interface SearchRow {
  readonly objectType: "T" | "H" | "U" | "O";
  readonly objectId: number;
  readonly title: string;
  readonly content: string;
}

const phpFalsy = (s: string) => s === "" || s === "0";

/**
 * REPLACE INTO ost__search for every row in one statement (osTicket rewrites a ticket's row after every
 * save; staff search reads only this table). Rows with neither title nor content are skipped, as osTicket
 * skips them.
 */
export async function replaceSearchRows(tx: Sql, rows: readonly SearchRow[]): Promise<void> {
  const kept = rows.filter((r) => r.objectId && !(phpFalsy(r.content) && phpFalsy(r.title)));
  if (!kept.length) return;
  const params: SqlValue[] = kept.flatMap((r) => [r.objectType, r.objectId, r.title, r.content]);
  tx.later(
    `REPLACE INTO ost__search (object_type, object_id, title, content) VALUES ${placeholders(kept.length, 4)}`,
    params,
  );
}
