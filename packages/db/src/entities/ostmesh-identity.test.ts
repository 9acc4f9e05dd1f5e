import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../migrate.ts";
import { createOrm, type Orm } from "../orm.ts";
import { query } from "../sql.ts";
import { allEntities } from "./index.ts";

describe("identity tables", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await createScratchDatabase({ label: "identitydb" });
    orm = await createOrm({ url: db.url, entities: allEntities });
    await runMigrations(orm);
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  it("creates the four identity tables as InnoDB utf8mb4_bin", async () => {
    const rows = await query(
      orm.em.fork(),
      "SELECT TABLE_NAME t, ENGINE e, TABLE_COLLATION c FROM information_schema.TABLES" +
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('ostmesh_signing_key', 'ostmesh_refresh_token'," +
        " 'ostmesh_api_key', 'ostmesh_login_failure') ORDER BY t",
    );
    expect(rows.map((r) => `${r.t} ${r.e} ${r.c}`)).toEqual([
      "ostmesh_api_key InnoDB utf8mb4_bin",
      "ostmesh_login_failure InnoDB utf8mb4_bin",
      "ostmesh_refresh_token InnoDB utf8mb4_bin",
      "ostmesh_signing_key InnoDB utf8mb4_bin",
    ]);
  });

  it("matches the entities column for column (no schema difference)", async () => {
    const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: false });
    const ours = diff
      .split("\n")
      .filter((line) => /ostmesh_(signing_key|refresh_token|api_key|login_failure)/.test(line));
    expect(ours).toEqual([]);
  });

  it("enforces the unique refresh-token hash and API-key prefix", async () => {
    const em = orm.em.fork();
    const insertToken =
      "INSERT INTO ostmesh_refresh_token (token_hash, family_id, principal_kind, principal_id, created_at," +
      " expires_at, family_expires_at) VALUES (?, ?, 'agent', 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))";
    await em.execute(insertToken, ["a".repeat(64), "f".repeat(32)]);
    await expect(em.execute(insertToken, ["a".repeat(64), "g".repeat(32)])).rejects.toThrow(/Duplicate/);
    const insertKey =
      "INSERT INTO ostmesh_api_key (key_prefix, secret_hash, scopes, allowed_ips, created_by, created_at)" +
      " VALUES (?, ?, '[]', '[]', 'agent:1', UTC_TIMESTAMP(6))";
    await em.execute(insertKey, ["osm_abcdefghijkl", "b".repeat(64)]);
    await expect(em.execute(insertKey, ["osm_abcdefghijkl", "c".repeat(64)])).rejects.toThrow(/Duplicate/);
  });
});
