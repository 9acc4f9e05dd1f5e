import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pendingMigrations, runMigrations } from "./migrate.ts";
import { migrationsList } from "./migrations/index.ts";
import { createOrm, type Orm } from "./orm.ts";
import { query } from "./sql.ts";

describe("ostmesh migrations", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await createScratchDatabase({ label: "migrate" });
    orm = await createOrm({ url: db.url });
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  it("creates the foundation tables once and records them in ostmesh_migrations", async () => {
    const before = await checksumOstTables(orm);
    expect(await pendingMigrations(orm)).toEqual(migrationsList.map((m) => m.name));
    expect(await runMigrations(orm)).toEqual(migrationsList.map((m) => m.name));
    expect(await runMigrations(orm)).toEqual([]);
    expect(await pendingMigrations(orm)).toEqual([]);
    const recorded = await query(orm.em.fork(), "SELECT name FROM ostmesh_migrations ORDER BY id");
    expect(recorded.map((r) => r.name)).toEqual(migrationsList.map((m) => m.name));
    // Migrations never touch osTicket's tables.
    expect(await checksumOstTables(orm)).toEqual(before);
  });

  it("gives ostmesh_outbox exactly the agreed columns", async () => {
    expect(await columns(orm, "ostmesh_outbox")).toEqual([
      "id bigint(20) unsigned NO null auto_increment",
      "subject varchar(255) NO null ",
      "event_type varchar(128) NO null ",
      "aggregate_type varchar(32) NO null ",
      "aggregate_id varchar(64) NO null ",
      "payload mediumblob NO null ",
      "headers text YES NULL ",
      "created_at datetime(6) NO current_timestamp(6) ",
      "published_at datetime(6) YES NULL ",
      "attempts int(10) unsigned NO 0 ",
      "next_attempt_at datetime(6) YES NULL ",
      "last_error varchar(1024) YES NULL ",
    ]);
    expect(await indexes(orm, "ostmesh_outbox")).toEqual([
      "ix_outbox_pending published_at,id",
      "PRIMARY unique id",
    ]);
  });

  it("gives ostmesh_inbox and ostmesh_idempotency exactly the agreed columns and keys", async () => {
    expect(await columns(orm, "ostmesh_inbox")).toEqual([
      "consumer varchar(128) NO null ",
      "message_id varchar(128) NO null ",
      "processed_at datetime(6) NO current_timestamp(6) ",
    ]);
    expect(await indexes(orm, "ostmesh_inbox")).toEqual(["PRIMARY unique consumer,message_id"]);
    expect(await columns(orm, "ostmesh_idempotency")).toEqual([
      "scope varchar(191) NO null ",
      "idem_key varchar(128) NO null ",
      "request_hash char(64) NO null ",
      "response mediumblob YES NULL ",
      "created_at datetime(6) NO current_timestamp(6) ",
      "expires_at datetime(6) NO null ",
    ]);
    expect(await indexes(orm, "ostmesh_idempotency")).toEqual([
      "ix_idempotency_expires expires_at",
      "PRIMARY unique scope,idem_key",
    ]);
    const tables = await query(
      orm.em.fork(),
      "SELECT TABLE_NAME t, ENGINE e, TABLE_COLLATION c FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('ostmesh_outbox','ostmesh_inbox','ostmesh_idempotency') ORDER BY t",
    );
    expect(tables.map((r) => `${r.t} ${r.e} ${r.c}`)).toEqual([
      "ostmesh_idempotency InnoDB utf8mb4_bin",
      "ostmesh_inbox InnoDB utf8mb4_bin",
      "ostmesh_outbox InnoDB utf8mb4_bin",
    ]);
  });

  it("applies ostmesh's entities without any schema difference", async () => {
    const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: false });
    const ours = diff.split("\n").filter((line) => line.includes("ostmesh_"));
    expect(ours).toEqual([]);
  });
});

async function columns(orm: Orm, table: string): Promise<string[]> {
  const rows = await query(
    orm.em.fork(),
    "SELECT COLUMN_NAME n, COLUMN_TYPE t, IS_NULLABLE nl, COLUMN_DEFAULT d, EXTRA x FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    [table],
  );
  return rows.map((r) => `${r.n} ${r.t} ${r.nl} ${r.d} ${r.x}`);
}

async function indexes(orm: Orm, table: string): Promise<string[]> {
  const rows = await query(
    orm.em.fork(),
    "SELECT INDEX_NAME n, NON_UNIQUE nu, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? GROUP BY INDEX_NAME, NON_UNIQUE ORDER BY INDEX_NAME",
    [table],
  );
  return rows.map((r) => `${r.n}${Number(r.nu) === 0 ? " unique" : ""} ${r.c}`);
}

async function checksumOstTables(orm: Orm): Promise<string> {
  const rows = await query(orm.em.fork(), "SHOW TABLES");
  const names = rows.map((r) => String(Object.values(r)[0])).filter((n) => n.startsWith("ost_"));
  const sums = await query(orm.em.fork(), `CHECKSUM TABLE ${names.map((n) => `\`${n}\``).join(", ")}`);
  return JSON.stringify(sums);
}
