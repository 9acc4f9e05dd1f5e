import { createOrm, type Orm, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { MetadataCache } from "../reference/forms.ts";
import { int, str } from "../rows.ts";
import { inTransaction, type Row, type Sql, type SqlValue } from "../sql.ts";

/** A private clone of the fresh osTicket install with ostmesh's migrations applied, for one test file. */
export interface Harness {
  readonly db: ScratchDatabase;
  readonly orm: Orm;
  /** Runs `work` in one transaction (commits unless it throws). */
  tx<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
  query(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** Row counts of every table, to prove a failure wrote nothing. */
  counts(): Promise<Map<string, number>>;
  /** A metadata cache without caching (tests change forms). */
  metadata(): MetadataCache;
  setConfig(key: string, value: string, namespace?: string): Promise<void>;
  close(): Promise<void>;
}

export async function openHarness(label: string): Promise<Harness> {
  const db = await createScratchDatabase({ label });
  const orm = await createOrm({ url: db.url, pool: { max: 4 } });
  await runMigrations(orm);
  const harness: Harness = {
    db,
    orm,
    tx: (work) => inTransaction(orm.em, work),
    query: (sql, params = []) => inTransaction(orm.em, (tx) => tx.all(sql, params)),
    async counts() {
      const tables = await harness.query(
        "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
      );
      const names = tables.map((t) => str(t, "name"));
      const rows = await harness.query(
        names.map((n) => `SELECT '${n}' AS name, COUNT(*) AS n FROM \`${n}\``).join(" UNION ALL "),
      );
      return new Map(rows.map((r) => [str(r, "name"), int(r, "n")]));
    },
    metadata: () => new MetadataCache({ ttlMs: 0 }),
    async setConfig(key, value, namespace = "core") {
      await harness.tx(async (tx) => {
        const updated = await tx.run("UPDATE ost_config SET value = ? WHERE namespace = ? AND `key` = ?", [
          value,
          namespace,
          key,
        ]);
        if (!updated.affectedRows) {
          const exists = await tx.first("SELECT id FROM ost_config WHERE namespace = ? AND `key` = ?", [
            namespace,
            key,
          ]);
          if (!exists) {
            await tx.run(
              "INSERT INTO ost_config (namespace, `key`, value, updated) VALUES (?, ?, ?, NOW())",
              [namespace, key, value],
            );
          }
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

/** A clock pinned to an ISO instant. */
export function fixedClock(iso: string): { now(): Date } {
  const at = new Date(iso);
  return { now: () => at };
}

/** A deterministic random source (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
