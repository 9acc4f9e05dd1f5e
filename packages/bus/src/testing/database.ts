import type { MikroORM } from "@mikro-orm/mysql";
import { createOrm, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";

export interface OutboxDatabase {
  readonly db: ScratchDatabase;
  readonly orm: MikroORM;
  close(): Promise<void>;
}

/** An empty scratch database with ostmesh's own tables (outbox, inbox) created by the db package's migrations. */
export async function createOutboxDatabase(label: string): Promise<OutboxDatabase> {
  const db = await createScratchDatabase({ from: "empty", label });
  const orm = await createOrm({ url: db.url, pool: { max: 8 } });
  await runMigrations(orm);
  return {
    db,
    orm,
    async close() {
      await orm.close(true);
      await db.drop();
    },
  };
}
