import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../migrate.ts";
import { createOrm, type Orm } from "../orm.ts";
import { query } from "../sql.ts";
import { allEntities } from "./index.ts";

describe("attachment tables", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await createScratchDatabase({ label: "attachmentdb" });
    orm = await createOrm({ url: db.url, entities: allEntities });
    await runMigrations(orm);
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  it("creates ostmesh_upload as InnoDB utf8mb4_bin with its key", async () => {
    const em = orm.em.fork();
    const tables = await query(
      em,
      "SELECT TABLE_NAME t, ENGINE e, TABLE_COLLATION c FROM information_schema.TABLES" +
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ostmesh_upload'",
    );
    expect(tables.map((r) => `${r.t} ${r.e} ${r.c}`)).toEqual(["ostmesh_upload InnoDB utf8mb4_bin"]);
    const key = await query(
      em,
      "SELECT COLUMN_NAME n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()" +
        " AND TABLE_NAME = 'ostmesh_upload' AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
    );
    expect(key.map((r) => r.n)).toEqual(["file_id", "principal_kind", "principal_id"]);
  });

  it("matches the entity column for column (no schema difference)", async () => {
    const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: false });
    expect(diff.split("\n").filter((line) => /ostmesh_upload\b/.test(line))).toEqual([]);
  });

  it("records every uploader of a file once", async () => {
    const em = orm.em.fork();
    const insert =
      "INSERT INTO ostmesh_upload (file_id, principal_kind, principal_id, file_key) VALUES (7, ?, ?, 'k')";
    await em.execute(insert, ["user", 5]);
    await em.execute(insert, ["agent", 5]);
    await em.execute(insert, ["apikey:ostmesh", 5]);
    await expect(em.execute(insert, ["user", 5])).rejects.toThrow(/Duplicate/);
    const [row] = await query(em, "SELECT COUNT(*) AS n FROM ostmesh_upload WHERE file_id = 7");
    expect(Number(row?.n)).toBe(3);
  });
});
