import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../migrate.ts";
import { createOrm, type Orm } from "../orm.ts";
import { query } from "../sql.ts";
import { allEntities } from "./index.ts";

const TABLES =
  /ostmesh_(capture_cursor|capture_claim|capture_published|capture_ticket|email|webhook|webhook_secret|webhook_delivery)\b/;

describe("notification tables", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await createScratchDatabase({ label: "notificationdb" });
    orm = await createOrm({ url: db.url, entities: allEntities });
    await runMigrations(orm);
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  it("creates the eight notification tables as InnoDB utf8mb4_bin", async () => {
    const rows = await query(
      orm.em.fork(),
      "SELECT TABLE_NAME t, ENGINE e, TABLE_COLLATION c FROM information_schema.TABLES" +
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'ostmesh\\_%' ORDER BY t",
    );
    expect(rows.filter((r) => TABLES.test(String(r.t))).map((r) => `${r.t} ${r.e} ${r.c}`)).toEqual([
      "ostmesh_capture_claim InnoDB utf8mb4_bin",
      "ostmesh_capture_cursor InnoDB utf8mb4_bin",
      "ostmesh_capture_published InnoDB utf8mb4_bin",
      "ostmesh_capture_ticket InnoDB utf8mb4_bin",
      "ostmesh_email InnoDB utf8mb4_bin",
      "ostmesh_webhook InnoDB utf8mb4_bin",
      "ostmesh_webhook_delivery InnoDB utf8mb4_bin",
      "ostmesh_webhook_secret InnoDB utf8mb4_bin",
    ]);
  });

  it("matches the entities column for column (no schema difference)", async () => {
    const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: false });
    expect(diff.split("\n").filter((line) => TABLES.test(line))).toEqual([]);
  });

  it("sends an e-mail once per event, template and recipient (case-insensitive address)", async () => {
    const em = orm.em.fork();
    const insert =
      "INSERT INTO ostmesh_email (event_id, template, recipient, from_address, subject, body_html, message_id)" +
      " VALUES ('e1', 'ticket.alert', ?, 'alerts@example.com', 's', 'b', ?)";
    await em.execute(insert, ["Agent@Example.com", "<a@x>"]);
    await expect(em.execute(insert, ["agent@example.com", "<b@x>"])).rejects.toThrow(/Duplicate/);
  });

  it("delivers an event once per webhook, while replays may repeat it", async () => {
    const em = orm.em.fork();
    const insert =
      "INSERT INTO ostmesh_webhook_delivery (webhook_id, event_id, event_type, dedupe_key, body) VALUES (1, 'e1', 'ticket.created', ?, '{}')";
    await em.execute(insert, ["e1"]);
    await expect(em.execute(insert, ["e1"])).rejects.toThrow(/Duplicate/);
    await em.execute(insert, [null]);
    await em.execute(insert, [null]);
    const [row] = await query(em, "SELECT COUNT(*) AS n FROM ostmesh_webhook_delivery WHERE event_id = 'e1'");
    expect(Number(row?.n)).toBe(3);
  });
});
