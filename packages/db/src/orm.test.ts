import { existsSync } from "node:fs";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrm, detectFlavor, type Orm } from "./orm.ts";
import { execute, query, serverTime } from "./sql.ts";

describe("createOrm", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await createScratchDatabase({ label: "orm" });
    orm = await createOrm({ url: db.url, pool: { min: 0, max: 4 } });
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  it("applies osTicket's session settings on every pooled connection", async () => {
    // Four concurrent transactions hold four distinct connections of the pool.
    const sessions = await Promise.all(
      [1, 2, 3, 4].map(() =>
        orm.em.fork().transactional(async (em) => {
          const [row] = await query(
            em,
            "SELECT CONNECTION_ID() AS id, @@session.sql_mode AS mode, @@session.time_zone AS tz," +
              " @@character_set_client AS cs, @@collation_connection AS coll, SLEEP(0.05) AS s",
          );
          return row;
        }),
      ),
    );
    expect(new Set(sessions.map((s) => s?.id)).size).toBe(4);
    for (const s of sessions) {
      expect(s).toMatchObject({ mode: "", tz: "SYSTEM", cs: "utf8mb3", coll: "utf8mb3_general_ci" });
    }
  });

  it("accepts osTicket-style inserts that omit NOT NULL columns and reads zero dates as strings", async () => {
    const em = orm.em.fork();
    // thread_entry.updated is NOT NULL without a default: osTicket never sets it on insert.
    const { insertId } = await execute(
      em,
      "INSERT INTO ost_thread_entry SET thread_id = 1, type = 'M', poster = 'x', body = 'b', created = NOW()",
    );
    expect(insertId).toBeGreaterThan(0);
    const [row] = await query<{ updated: string; created: string }>(
      em,
      "SELECT updated, created FROM ost_thread_entry WHERE id = ?",
      [insertId],
    );
    expect(row?.updated).toBe("0000-00-00 00:00:00");
    expect(row?.created).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  it("runs raw SQL inside the entity manager's transaction", async () => {
    const marker = `tx-${Date.now()}`;
    await expect(
      orm.em.fork().transactional(async (em) => {
        await execute(em, "INSERT INTO ost_syslog SET log_type='Debug', title=?, log='', created=NOW()", [
          marker,
        ]);
        const seen = await query(em, "SELECT log_id FROM ost_syslog WHERE title = ?", [marker]);
        expect(seen).toHaveLength(1);
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await query(orm.em.fork(), "SELECT log_id FROM ost_syslog WHERE title = ?", [marker])).toEqual([]);
  });

  it("reports the server's NOW() and time zone the way osTicket reads them", async () => {
    const em = orm.em.fork();
    const time = await serverTime(em);
    const [row] = await query<{ tz: string; systz: string; now: string }>(
      em,
      "SELECT @@global.time_zone AS tz, @@global.system_time_zone AS systz, NOW() AS now",
    );
    expect(time.timeZone).toBe(row?.tz === "SYSTEM" ? row.systz : row?.tz);
    expect(time.now).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const drift = Math.abs(Date.parse(`${time.now}Z`) - Date.parse(`${row?.now}Z`));
    expect(drift).toBeLessThan(5_000);
    expect(Number.isInteger(time.utcOffsetMinutes)).toBe(true);
  });

  it("detects the server flavor", async () => {
    const [row] = await query<{ v: string }>(orm.em.fork(), "SELECT VERSION() AS v");
    expect(await detectFlavor(db.url)).toBe(row?.v.includes("MariaDB") ? "mariadb" : "mysql");
  });

  it("connects through the server's Unix socket when the URL names one (socketPath)", async (ctx) => {
    const [row] = await query<{ socket: string }>(orm.em.fork(), "SELECT @@socket AS socket");
    const socket = row?.socket ?? "";
    if (!socket || !existsSync(socket)) ctx.skip(); // a server on another machine
    const url = new URL(db.url);
    url.hostname = "localhost";
    url.port = "";
    url.searchParams.set("socketPath", socket);
    const local = await createOrm({ url: url.toString() });
    try {
      const [who] = await query<{ host: string; db: string }>(
        local.em.fork(),
        "SELECT SUBSTRING_INDEX(USER(), '@', -1) AS host, DATABASE() AS db, @@session.time_zone AS tz",
      );
      expect(who).toMatchObject({ host: "localhost", db: new URL(db.url).pathname.slice(1), tz: "SYSTEM" });
    } finally {
      await local.close();
    }
  });

  it("fails clearly when the database is unreachable", async () => {
    await expect(createOrm({ url: "mysql://root@127.0.0.1:1/osticket" })).rejects.toThrow(/ECONNREFUSED/);
  });

  it("surfaces SQL errors from raw queries", async () => {
    await expect(query(orm.em.fork(), "SELECT * FROM ost_no_such_table")).rejects.toThrow(/doesn't exist/);
  });
});
