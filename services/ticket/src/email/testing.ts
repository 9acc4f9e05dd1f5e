import type { EntityManager } from "@mikro-orm/mysql";
import { createOrm, type Orm, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { int, str } from "../domain/rows.ts";
import { inTransaction, type Row, type SqlValue } from "../domain/sql.ts";

/** A private clone of the fresh osTicket install (ostmesh's migrations applied) for one test file. */
export interface MailHarness {
  readonly db: ScratchDatabase;
  readonly orm: Orm;
  readonly em: EntityManager;
  query(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  one(sql: string, params?: readonly SqlValue[]): Promise<Row>;
  /** Row counts of every table. */
  counts(): Promise<Map<string, number>>;
  setConfig(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

export async function openMailHarness(label: string): Promise<MailHarness> {
  const db = await createScratchDatabase({ label });
  const orm = await createOrm({ url: db.url, pool: { max: 4 } });
  await runMigrations(orm);
  const query = (sql: string, params: readonly SqlValue[] = []) =>
    inTransaction(orm.em, (tx) => tx.all(sql, params));
  const harness: MailHarness = {
    db,
    orm,
    em: orm.em,
    query,
    async one(sql, params = []) {
      const row = (await query(sql, params))[0];
      if (!row) throw new Error(`no row: ${sql}`);
      return row;
    },
    async counts() {
      const tables = await query(
        "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
      );
      const names = tables.map((t) => str(t, "name"));
      const rows = await query(
        names.map((n) => `SELECT '${n}' AS name, COUNT(*) AS n FROM \`${n}\``).join(" UNION ALL "),
      );
      return new Map(rows.map((r) => [str(r, "name"), int(r, "n")]));
    },
    async setConfig(key, value) {
      await inTransaction(orm.em, async (tx) => {
        const updated = await tx.run(
          "UPDATE ost_config SET value = ? WHERE namespace = 'core' AND `key` = ?",
          [value, key],
        );
        if (!updated.affectedRows) {
          await tx.run(
            "INSERT IGNORE INTO ost_config (namespace, `key`, value, updated) VALUES ('core', ?, ?, NOW())",
            [key, value],
          );
        }
      });
    },
    async close() {
      await orm.close(true);
      await db.drop();
    },
  };
  return harness;
}

/** Tables whose row counts differ between two snapshots, with the difference. */
export function countChanges(
  before: Map<string, number>,
  after: Map<string, number>,
): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [table, n] of after) {
    const delta = n - (before.get(table) ?? 0);
    if (delta) changed[table] = delta;
  }
  return changed;
}

/** A raw message from header lines and a body, CRLF line ends. */
export function rawMail(headers: readonly string[], body: string): Uint8Array {
  return Buffer.from(`${headers.join("\r\n")}\r\n\r\n${body.replace(/\r?\n/g, "\r\n")}`, "utf8");
}
