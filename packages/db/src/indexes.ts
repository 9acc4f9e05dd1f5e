import type { EntityManager, MikroORM } from "@mikro-orm/mysql";
import { quoteIdentifier } from "./schema/ddl.ts";
import { execute, query } from "./sql.ts";

/**
 * Purely additive indexes on osTicket's tables for queries osTicket and ostmesh run but osTicket's schema
 * does not index (DESIGN principle 2). Opt-in: nothing applies them unless an operator calls
 * `applyRecommendedIndexes` (or runs `node packages/db/src/cli/recommended-indexes.ts apply`). They never
 * change a column or an existing index, are named `ostmesh_*`, and can be removed again with
 * `dropRecommendedIndexes`. osTicket itself keeps working with or without them.
 */
export interface RecommendedIndex {
  table: string;
  name: string;
  columns: readonly string[];
  why: string;
}

export const recommendedIndexes: readonly RecommendedIndex[] = [
  {
    table: "ost_ticket",
    name: "ostmesh_number",
    columns: ["number"],
    why:
      "Tickets are looked up by their public number (legacy API, staff search, e-mail subjects) and every " +
      "new ticket checks its number for uniqueness (COUNT(*) ... WHERE number=?); without an index each of " +
      "these scans the whole table.",
  },
  {
    table: "ost_ticket",
    name: "ostmesh_status_created",
    columns: ["status_id", "created"],
    why:
      "Queue listings filter by status and order by creation time (open tickets, newest first); the separate " +
      "status_id and created indexes force a filesort over every ticket of that status.",
  },
  {
    table: "ost_ticket",
    name: "ostmesh_lastupdate",
    columns: ["lastupdate"],
    why:
      "Ticket lists are ordered by last activity (osTicket's queues, ListTickets' default sort, newest first); " +
      "with this index a page is read in index order and stops after the page, instead of sorting every " +
      "ticket the caller may see.",
  },
  {
    table: "ost_ticket",
    name: "ostmesh_updated",
    columns: ["updated"],
    why:
      "Incremental readers ask for tickets changed since a point in time (WHERE updated > ?); osTicket indexes " +
      "created, closed and duedate but not updated.",
  },
];

export type RecommendedIndexStatus =
  | "created"
  | "present"
  | "covered"
  | "missing-table"
  | "dropped"
  | "absent";

export interface RecommendedIndexReport {
  table: string;
  name: string;
  status: RecommendedIndexStatus;
  /** For `covered`: the existing index that already starts with the same columns. */
  coveredBy?: string;
}

type Target = MikroORM | EntityManager;
const emOf = (target: Target): EntityManager => ("em" in target ? target.em.fork() : target);

/**
 * Adds each recommended index that is not there yet. Skips an index when the table is missing or an
 * existing index already begins with the same columns. Uses online DDL (no table lock) on InnoDB.
 */
export async function applyRecommendedIndexes(
  target: Target,
  indexes: readonly RecommendedIndex[] = recommendedIndexes,
): Promise<RecommendedIndexReport[]> {
  const em = emOf(target);
  const report: RecommendedIndexReport[] = [];
  for (const index of indexes) {
    const existing = await tableIndexes(em, index.table);
    if (existing === undefined) {
      report.push({ table: index.table, name: index.name, status: "missing-table" });
      continue;
    }
    if (existing.indexes.has(index.name)) {
      report.push({ table: index.table, name: index.name, status: "present" });
      continue;
    }
    const wanted = index.columns.join(",");
    const cover = [...existing.indexes].find(([, cols]) => cols.join(",").startsWith(wanted));
    if (cover) {
      report.push({ table: index.table, name: index.name, status: "covered", coveredBy: cover[0] });
      continue;
    }
    const online = existing.engine === "InnoDB" ? ", ALGORITHM=INPLACE, LOCK=NONE" : "";
    await execute(
      em,
      `ALTER TABLE ${quoteIdentifier(index.table)} ADD INDEX ${quoteIdentifier(index.name)} (${index.columns
        .map(quoteIdentifier)
        .join(", ")})${online}`,
    );
    report.push({ table: index.table, name: index.name, status: "created" });
  }
  return report;
}

/** Removes the recommended indexes again (only those named in the list; nothing of osTicket's own). */
export async function dropRecommendedIndexes(
  target: Target,
  indexes: readonly RecommendedIndex[] = recommendedIndexes,
): Promise<RecommendedIndexReport[]> {
  const em = emOf(target);
  const report: RecommendedIndexReport[] = [];
  for (const index of indexes) {
    if (!index.name.startsWith("ostmesh_"))
      throw new Error(`refusing to drop ${index.name}: not an ostmesh index`);
    const existing = await tableIndexes(em, index.table);
    if (!existing?.indexes.has(index.name)) {
      report.push({ table: index.table, name: index.name, status: existing ? "absent" : "missing-table" });
      continue;
    }
    await execute(
      em,
      `ALTER TABLE ${quoteIdentifier(index.table)} DROP INDEX ${quoteIdentifier(index.name)}`,
    );
    report.push({ table: index.table, name: index.name, status: "dropped" });
  }
  return report;
}

async function tableIndexes(
  em: EntityManager,
  table: string,
): Promise<{ engine: string; indexes: Map<string, string[]> } | undefined> {
  const [info] = await query<{ engine: string }>(
    em,
    "SELECT ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    [table],
  );
  if (!info) return undefined;
  const rows = await query<{ name: string; col: string }>(
    em,
    "SELECT INDEX_NAME AS name, COLUMN_NAME AS col FROM information_schema.STATISTICS" +
      " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX",
    [table],
  );
  const indexes = new Map<string, string[]>();
  for (const r of rows) indexes.set(r.name, [...(indexes.get(r.name) ?? []), r.col]);
  return { engine: info.engine, indexes };
}
