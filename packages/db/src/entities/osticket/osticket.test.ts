import { raw } from "@mikro-orm/core";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrm, type Orm } from "../../orm.ts";
import { osticketTables } from "../../schema/tables/index.ts";
import { execute, query } from "../../sql.ts";
import { schemaDifferences } from "../../testing/schema-diff.ts";
import {
  AttachmentFile,
  ConfigItem,
  osticketEntities,
  ThreadEntry,
  Ticket,
  TicketCdata,
  TicketStatus,
  User,
  UserEmail,
} from "./index.ts";

describe("osTicket entities", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await createScratchDatabase({ label: "entities" });
    orm = await createOrm({ url: db.url, entities: osticketEntities });
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  it("map every table of the real fresh install", () => {
    const mapped = [...orm.getMetadata().getAll().values()].map((m) => m.tableName).sort();
    expect(mapped).toEqual(osticketTables.map((t) => t.name).sort());
    expect(mapped).toHaveLength(72);
  });

  it("match the real schema: MikroORM's comparison finds no difference in any table", async () => {
    expect(await schemaDifferences(orm)).toEqual({});
  });

  it("round-trip rows, zero dates included, without shifting times", async () => {
    const em = orm.em.fork();
    const statuses = await em.find(TicketStatus, {}, { orderBy: { id: "asc" } });
    expect(statuses.map((s) => [s.id, s.name, s.state])).toEqual([
      [1, "Open", "open"],
      [2, "Resolved", "closed"],
      [3, "Closed", "closed"],
      [4, "Archived", "archived"],
      [5, "Deleted", "deleted"],
    ]);
    expect(statuses[0]?.updated).toBe("0000-00-00 00:00:00");

    const ticket = em.create(Ticket, {
      number: "004711",
      userId: 1,
      statusId: 1,
      deptId: 1,
      source: "API",
      ipAddress: "127.0.0.1",
      created: "2024-03-31 02:30:00", // a wall-clock time that does not exist in many zones (DST gap)
      updated: raw("NOW()"),
    });
    const entry = em.create(ThreadEntry, {
      threadId: 7,
      type: "M",
      poster: "Jane",
      body: "hello ☃",
      created: raw("NOW()"),
      updated: "0000-00-00 00:00:00",
    });
    await em.flush();
    expect(ticket.ticketId).toBeGreaterThan(0);

    const [row] = await query(
      em,
      "SELECT created, updated = NOW() AS fresh, source FROM ost_ticket WHERE ticket_id = ?",
      [ticket.ticketId],
    );
    expect(row).toMatchObject({ created: "2024-03-31 02:30:00", source: "API" });

    const again = await orm.em.fork().findOneOrFail(Ticket, ticket.ticketId);
    expect(again.created).toBe("2024-03-31 02:30:00");
    expect(again.updated).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const readEntry = await orm.em.fork().findOneOrFail(ThreadEntry, entry.id);
    expect(readEntry).toMatchObject({ updated: "0000-00-00 00:00:00", body: "hello ☃", flags: 0, pid: 0 });
  });

  it("reads rows osTicket wrote with omitted NOT NULL columns", async () => {
    // The way osTicket inserts a thread entry: no `updated`, sql_mode '' stores a zero date.
    const { insertId } = await execute(
      orm.em.fork(),
      "INSERT INTO ost_thread_entry SET thread_id = 9, type = 'N', poster = 'SYSTEM', body = 'x', created = NOW()",
    );
    const entry = await orm.em.fork().findOneOrFail(ThreadEntry, insertId);
    expect(entry.updated).toBe("0000-00-00 00:00:00");
    expect(entry.staffId).toBe(0);
  });

  it("updates only the changed columns", async () => {
    const em = orm.em.fork();
    const config = await em.findOneOrFail(ConfigItem, { namespace: "core", key: "helpdesk_title" });
    config.value = "Renamed Helpdesk";
    await em.flush();
    const [row] = await query(
      orm.em.fork(),
      "SELECT value FROM ost_config WHERE namespace='core' AND `key`='helpdesk_title'",
    );
    expect(row?.value).toBe("Renamed Helpdesk");
  });

  it("maps binary, composite-key and runtime-created tables", async () => {
    const em = orm.em.fork();
    const file = await em.findOneOrFail(AttachmentFile, 1);
    expect(file).toMatchObject({ ft: "T", bk: "D", type: "image/png", size: 9452 });

    const user = em.create(User, {
      orgId: 0,
      defaultEmailId: 0,
      name: "Ann",
      created: raw("NOW()"),
      updated: raw("NOW()"),
    });
    await em.flush();
    const email = em.create(UserEmail, { userId: user.id, address: "Ann@Example.com" });
    em.create(TicketCdata, { ticketId: 99, subject: "Subject", priority: "2" });
    await em.flush();
    // utf8_general_ci makes address lookups case-insensitive, as osTicket relies on.
    const found = await orm.em.fork().findOneOrFail(UserEmail, { address: "ann@example.COM" });
    expect(found.id).toBe(email.id);
    expect(await orm.em.fork().findOneOrFail(TicketCdata, 99)).toMatchObject({
      subject: "Subject",
      priority: "2",
    });
  });

  it("surface database errors (unique address) instead of hiding them", async () => {
    const em = orm.em.fork();
    em.create(UserEmail, { userId: 1, address: "dup@example.com" });
    await em.flush();
    const em2 = orm.em.fork();
    em2.create(UserEmail, { userId: 2, address: "DUP@example.com" });
    await expect(em2.flush()).rejects.toThrow(/Duplicate entry/);
  });
});

describe("schema comparison (control)", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await createScratchDatabase({ label: "entdrift" });
    orm = await createOrm({ url: db.url, entities: osticketEntities });
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  it("reports a changed default, a changed type, a missing index and a changed index", async () => {
    const em = orm.em.fork();
    await execute(em, "ALTER TABLE ost_ticket DROP INDEX created");
    await execute(
      em,
      "ALTER TABLE ost_ticket MODIFY source enum('Web','Email','Phone','API','Other') NOT NULL DEFAULT 'Web'",
    );
    await execute(em, "ALTER TABLE ost_user_email MODIFY address varchar(128) NOT NULL");
    await execute(em, "ALTER TABLE ost_config DROP INDEX namespace, ADD KEY namespace (namespace, `key`)");
    const diff = await schemaDifferences(orm);
    expect(Object.keys(diff).sort()).toEqual(["ost_config", "ost_ticket", "ost_user_email"]);
    expect(diff.ost_ticket?.join("\n")).toMatch(/created/);
    expect(diff.ost_ticket?.join("\n")).toMatch(/source/);
  });
});
