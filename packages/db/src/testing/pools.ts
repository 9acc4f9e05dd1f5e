import { createOrm, type Orm } from "../orm.ts";
import { createScratchDatabase, type ScratchDatabase } from "./scratch.ts";

/** The two kinds of pool @ostmesh/db's statement batching behaves differently on. */
export type PoolKind = "batched" | "oneByOne";

export interface ScratchPools {
  readonly db: ScratchDatabase;
  /** `batched`: createOrm with multipleStatements; `oneByOne`: without. No entities. */
  readonly orms: Readonly<Record<PoolKind, Orm>>;
  close(): Promise<void>;
}

/** A scratch database with one pool of each kind on it, `max` connections each. */
export async function scratchPools(label: string, max: number): Promise<ScratchPools> {
  const db = await createScratchDatabase({ label });
  const options = {
    url: db.url,
    entities: [],
    pool: { min: 0, max },
    extra: { discovery: { warnWhenNoEntities: false } },
  };
  const orms = {
    batched: await createOrm({ ...options, multipleStatements: true }),
    oneByOne: await createOrm(options),
  };
  return {
    db,
    orms,
    async close() {
      await Promise.all(Object.values(orms).map((orm) => orm.close(true)));
      await db.drop();
    },
  };
}
