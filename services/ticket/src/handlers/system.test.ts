import { Code, type ConnectError } from "@connectrpc/connect";
import { rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import {
  ScheduledCleanupOutcome,
  SystemLogLevel,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqlFor } from "../domain/index.ts";
import { deleteExpiredSessions } from "../domain/maintenance.ts";
import { type TicketHarness, ticketHarness } from "../testing/harness.ts";

let h: TicketHarness;

beforeAll(async () => {
  h = await ticketHarness("system", {
    env: {
      TICKET_OVERDUE_BATCH: "2",
      TICKET_OVERDUE_MAX_BATCHES: "2",
      TICKET_CLEANUP_BATCH: "2",
      TICKET_CLEANUP_MAX_BATCHES: "2",
    },
  });
});
afterAll(async () => {
  await h?.close();
});

describe("RunScheduledTasks", () => {
  it("marks overdue tickets in bounded batches, each with its event, and continues on the next run", async () => {
    const service = await h.service();
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await h.client.createTicket(
        {
          requester: { email: `late${i}@example.com`, name: `Late ${i}` },
          subject: `Late ${i}`,
          message: "tick tock",
        },
        { headers: service },
      );
      ids.push(res.ticket?.id ?? 0);
    }
    // Five are past their SLA due date; one is closed (never overdue); one (the last) is still in time.
    await h.exec(
      `UPDATE ost_ticket SET est_duedate = NOW() - INTERVAL 1 HOUR WHERE ticket_id IN (${ids.slice(0, 5).join(",")})`,
    );
    await h.client.changeStatus({ ticketId: ids[4] ?? 0, statusId: 3 }, { headers: await h.agent() });
    const events = (await h.events()).length;

    const first = await h.client.runScheduledTasks({ idempotencyKey: "cron-1" }, { headers: service });
    expect(first.ticketsMarkedOverdue).toBe(4);
    expect(first.startedAt).toBeDefined();
    expect(first.finishedAt).toBeDefined();
    const newEvents = (await h.events()).slice(events);
    expect(newEvents.map((e) => e.type)).toEqual(Array(4).fill("ticket.overdue"));
    if (newEvents[0]?.payload.case !== "ticketOverdue") throw new Error("unexpected payload");
    expect(newEvents[0].payload.value.estDueDate).toBeDefined();

    // The same key replays the first run's answer and marks nothing.
    const replay = await h.client.runScheduledTasks({ idempotencyKey: "cron-1" }, { headers: service });
    expect(replay).toEqual(first);
    expect(await h.query("SELECT COUNT(*) AS n FROM ost_ticket WHERE isoverdue = 1")).toEqual([{ n: 4 }]);

    const second = await h.client.runScheduledTasks({ idempotencyKey: "cron-2" }, { headers: service });
    expect(second.ticketsMarkedOverdue).toBe(0);
    // An admin agent may run it too; nothing is left.
    const third = await h.client.runScheduledTasks({}, { headers: await h.agent() });
    expect(third.ticketsMarkedOverdue).toBe(0);
    const marked = await h.query(
      "SELECT t.ticket_id FROM ost_ticket t WHERE t.isoverdue = 1 ORDER BY t.ticket_id",
    );
    expect(marked.map((r) => r.ticket_id)).toEqual(ids.slice(0, 4));
    const overdueEvents = await h.query(
      "SELECT COUNT(*) AS n FROM ost_thread_event te JOIN ost_event e ON e.id = te.event_id WHERE e.name = 'overdue'",
    );
    expect(overdueEvents).toEqual([{ n: 4 }]);
  });

  it("stops after the batch limit and leaves the rest to the next run", async () => {
    const service = await h.service();
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await h.client.createTicket(
        {
          requester: { email: `batch${i}@example.com`, name: `Batch ${i}` },
          subject: `Batch ${i}`,
          message: "late",
        },
        { headers: service },
      );
      ids.push(res.ticket?.id ?? 0);
    }
    await h.exec(
      `UPDATE ost_ticket SET duedate = NOW() - INTERVAL 1 MINUTE WHERE ticket_id IN (${ids.join(",")})`,
    );
    expect((await h.client.runScheduledTasks({}, { headers: service })).ticketsMarkedOverdue).toBe(4);
    expect((await h.client.runScheduledTasks({}, { headers: service })).ticketsMarkedOverdue).toBe(1);
  });

  it("is refused to callers without cron rights", async () => {
    const noScope = await rejectionOf(
      h.client.runScheduledTasks({}, { headers: await h.service(["tickets:read"]) }),
    );
    expect(noScope.code).toBe(Code.PermissionDenied);
    const anonymous = await rejectionOf(h.client.runScheduledTasks({}));
    expect(anonymous.code).toBe(Code.Unauthenticated);
  });
});

describe("RunScheduledTasks cleanups", () => {
  const { DONE, MORE_LEFT, SKIPPED, FAILED } = ScheduledCleanupOutcome;
  const run = async () => h.client.runScheduledTasks({}, { headers: await h.service() });
  const cleanup = (rowsDeleted: number, outcome: ScheduledCleanupOutcome) => ({ rowsDeleted, outcome });
  const setCoreConfig = (key: string, value: string | null) =>
    value === null
      ? h.exec("DELETE FROM ost_config WHERE `namespace` = 'core' AND `key` = ?", [key])
      : h.setConfig(key, value);
  /** Today's purge not done yet (as on the first run of a new day). */
  const newDay = () => h.exec("DELETE FROM ostmesh_scheduled_task WHERE task = 'purge_logs'");
  const addLog = (title: string, created: string) =>
    h.exec(
      "INSERT INTO ost_syslog (log_type, title, log, logger, ip_address, created, updated)" +
        ` VALUES ('Debug', ?, 'x', '', '', ${created}, NOW())`,
      [title],
    );
  const logs = async (prefix: string) =>
    (await h.query("SELECT title FROM ost_syslog WHERE title LIKE ? ORDER BY log_id", [`${prefix}%`])).map(
      (r) => r.title,
    );

  it("deletes locks that expired and keeps running ones and those without expiry (Lock::cleanup)", async () => {
    const add = (code: string, expire: string) =>
      h.exec(`INSERT INTO ost_lock (staff_id, expire, code, created) VALUES (1, ${expire}, ?, NOW())`, [
        code,
      ]);
    try {
      await add("lk-expired", "NOW() - INTERVAL 1 SECOND");
      await add("lk-running", "NOW() + INTERVAL 1 MINUTE");
      await add("lk-no-expiry", "NULL");
      const res = await run();
      expect(res.expiredLocks).toMatchObject(cleanup(1, DONE));
      expect((await h.query("SELECT code FROM ost_lock ORDER BY lock_id")).map((r) => r.code)).toEqual([
        "lk-running",
        "lk-no-expiry",
      ]);
    } finally {
      await h.exec("DELETE FROM ost_lock");
    }
  });

  it("deletes drafts more than 14 calendar days past their update, or their creation if never updated (Draft::cleanup)", async () => {
    const add = (ns: string, created: string, updated: string) =>
      h.exec(
        `INSERT INTO ost_draft (staff_id, namespace, body, created, updated) VALUES (1, ?, 'draft', ${created}, ${updated})`,
        [ns],
      );
    try {
      // 15 calendar days ago though possibly less than 15×24 hours: DATEDIFF counts dates, not hours.
      await add(
        "d.created-15d",
        "CURDATE() - INTERVAL 15 DAY + INTERVAL 23 HOUR + INTERVAL 59 MINUTE",
        "NULL",
      );
      // 14 calendar days ago at midnight (more than 14×24 hours): kept.
      await add("d.created-14d", "CURDATE() - INTERVAL 14 DAY", "NULL");
      // An old draft edited yesterday counts from its update.
      await add("d.updated-1d", "NOW() - INTERVAL 30 DAY", "NOW() - INTERVAL 1 DAY");
      await add("d.updated-15d", "NOW() - INTERVAL 30 DAY", "CURDATE() - INTERVAL 15 DAY + INTERVAL 23 HOUR");
      await add("d.updated-14d", "NOW() - INTERVAL 30 DAY", "CURDATE() - INTERVAL 14 DAY");
      const res = await run();
      expect(res.staleDrafts).toMatchObject(cleanup(2, DONE));
      expect((await h.query("SELECT namespace FROM ost_draft ORDER BY id")).map((r) => r.namespace)).toEqual([
        "d.created-14d",
        "d.updated-1d",
        "d.updated-14d",
      ]);
    } finally {
      await h.exec("DELETE FROM ost_draft");
    }
  });

  it("deletes expired sessions where osTicket keeps them in the database (osTicketSession::cleanup)", async () => {
    const add = (id: string, expire: string) =>
      h.exec(
        "INSERT INTO ost_session (session_id, session_data, session_expire, session_updated, user_id, user_ip, user_agent)" +
          ` VALUES (?, '', ${expire}, NOW(), '0', '192.0.2.1', 'test')`,
        [id],
      );
    const sessions = async () =>
      (await h.query("SELECT session_id FROM ost_session ORDER BY session_id")).map((r) => r.session_id);
    try {
      await add("s-expired", "NOW() - INTERVAL 1 SECOND");
      await add("s-live", "NOW() + INTERVAL 1 MINUTE");
      await add("s-no-expiry", "NULL");
      // OSTICKET_SESSION_BACKEND unset: osTicket's default, the database.
      const res = await run();
      expect(res.expiredSessions).toMatchObject(cleanup(1, DONE));
      expect(await sessions()).toEqual(["s-live", "s-no-expiry"]);

      // Memcache or PHP's own handler: osTicket's cron leaves ost_session alone.
      await add("s-expired-2", "NOW() - INTERVAL 1 HOUR");
      const limits = { batchSize: 10, maxBatches: 1 };
      for (const backend of ["memcache", "system"]) {
        expect(await deleteExpiredSessions(sqlFor(h.em()), limits, backend)).toEqual({
          rowsDeleted: 0,
          outcome: "skipped",
        });
      }
      expect(await sessions()).toEqual(["s-expired-2", "s-live", "s-no-expiry"]);
      // Memcache with the database as secondary store: its cleanup runs.
      expect(await deleteExpiredSessions(sqlFor(h.em()), limits, "memcache.database")).toEqual({
        rowsDeleted: 1,
        outcome: "done",
      });
      expect(await sessions()).toEqual(["s-live", "s-no-expiry"]);
    } finally {
      await h.exec("DELETE FROM ost_session");
    }
  });

  it("deletes password-reset tokens older than pw_reset_window minutes (ConfigItem::cleanPwResets)", async () => {
    const add = (token: string, updated: string, namespace = "pwreset") =>
      h.exec(
        `INSERT INTO ost_config (\`namespace\`, \`key\`, \`value\`, updated) VALUES (?, ?, 'staff1', ${updated})`,
        [namespace, token],
      );
    const tokens = async () =>
      (
        await h.query("SELECT `key` FROM ost_config WHERE `key` LIKE 'tok-%' ORDER BY `namespace`, `key`")
      ).map((r) => r.key);
    try {
      // No pw_reset_window row (the fresh install has none): osTicket's default of 30 minutes.
      await add("tok-30m01s", "NOW() - INTERVAL 1801 SECOND");
      await add("tok-29m", "NOW() - INTERVAL 29 MINUTE");
      await add("tok-other-namespace", "NOW() - INTERVAL 1 YEAR", "ostmesh-test");
      expect((await run()).expiredPasswordResets).toMatchObject(cleanup(1, DONE));
      expect(await tokens()).toEqual(["tok-other-namespace", "tok-29m"]);

      await setCoreConfig("pw_reset_window", "60");
      await add("tok-45m", "NOW() - INTERVAL 45 MINUTE");
      await add("tok-61m", "NOW() - INTERVAL 61 MINUTE");
      expect((await run()).expiredPasswordResets).toMatchObject(cleanup(1, DONE));
      expect(await tokens()).toEqual(["tok-other-namespace", "tok-29m", "tok-45m"]);

      // A window of 0: osTicket cleans nothing.
      await setCoreConfig("pw_reset_window", "0");
      await add("tok-2d", "NOW() - INTERVAL 2 DAY");
      expect((await run()).expiredPasswordResets).toMatchObject(cleanup(0, SKIPPED));
      expect(await tokens()).toContain("tok-2d");
    } finally {
      await setCoreConfig("pw_reset_window", null);
      await h.exec("DELETE FROM ost_config WHERE `key` LIKE 'tok-%'");
    }
  });

  it("purges system-log rows past log_graceperiod months, at most once a day (osTicket::purgeLogs)", async () => {
    try {
      await newDay();
      // The fresh install's grace period: 12 months.
      await addLog("purge: 12 months and 1 second", "NOW() - INTERVAL 12 MONTH - INTERVAL 1 SECOND");
      await addLog("purge: 13 months", "NOW() - INTERVAL 13 MONTH");
      // Two days short: month arithmetic clamps to a month's last day, so a closer row could reach a 29 February.
      await addLog("purge: 2 days short of 12 months", "NOW() - INTERVAL 12 MONTH + INTERVAL 2 DAY");
      const first = await run();
      expect(first.systemLogPurge).toMatchObject(cleanup(2, DONE));
      expect(await logs("purge:")).toEqual(["purge: 2 days short of 12 months"]);
      expect(
        await h.query(
          "SELECT done_on = CURDATE() AS today FROM ostmesh_scheduled_task WHERE task = 'purge_logs'",
        ),
      ).toEqual([{ today: 1 }]);

      // Done today: a later run the same day leaves old rows alone.
      await addLog("purge: 14 months", "NOW() - INTERVAL 14 MONTH");
      expect((await run()).systemLogPurge).toMatchObject(cleanup(0, SKIPPED));
      expect(await logs("purge:")).toEqual(["purge: 2 days short of 12 months", "purge: 14 months"]);

      // The next day's first run purges again.
      await h.exec(
        "UPDATE ostmesh_scheduled_task SET done_on = CURDATE() - INTERVAL 1 DAY WHERE task = 'purge_logs'",
      );
      expect((await run()).systemLogPurge).toMatchObject(cleanup(1, DONE));
      expect(await logs("purge:")).toEqual(["purge: 2 days short of 12 months"]);

      // The setting is read on each purge: 6 months.
      await setCoreConfig("log_graceperiod", "6");
      await newDay();
      await addLog("purge: 7 months", "NOW() - INTERVAL 7 MONTH");
      await addLog("purge: 5 months", "NOW() - INTERVAL 5 MONTH");
      expect((await run()).systemLogPurge).toMatchObject(cleanup(2, DONE));
      expect(await logs("purge:")).toEqual(["purge: 5 months"]);
    } finally {
      await setCoreConfig("log_graceperiod", "12");
      await h.exec("DELETE FROM ost_syslog WHERE title LIKE 'purge:%'");
    }
  });

  it("never purges with log_graceperiod 0 (Never Purge Logs), empty or missing, and leaves the day's purge open", async () => {
    try {
      await addLog("never: 5 years", "NOW() - INTERVAL 5 YEAR");
      for (const grace of ["0", "", null]) {
        await setCoreConfig("log_graceperiod", grace);
        await newDay();
        expect((await run()).systemLogPurge).toMatchObject(cleanup(0, SKIPPED));
        expect(await logs("never:")).toEqual(["never: 5 years"]);
        expect(await h.query("SELECT task FROM ostmesh_scheduled_task WHERE task = 'purge_logs'")).toEqual(
          [],
        );
      }
    } finally {
      await setCoreConfig("log_graceperiod", "12");
      await h.exec("DELETE FROM ost_syslog WHERE title LIKE 'never:%'");
    }
  });

  it("deletes in bounded batches and leaves the rest, and an unfinished purge, to the next run", async () => {
    try {
      // TICKET_CLEANUP_BATCH=2, TICKET_CLEANUP_MAX_BATCHES=2: at most 4 rows per duty and run.
      for (let i = 0; i < 5; i++) {
        await h.exec(
          "INSERT INTO ost_lock (staff_id, expire, code, created) VALUES (1, NOW() - INTERVAL 1 HOUR, ?, NOW())",
          [`batch-${i}`],
        );
        await addLog(`batch: ${i}`, "NOW() - INTERVAL 2 YEAR");
      }
      await newDay();
      const first = await run();
      expect(first.expiredLocks).toMatchObject(cleanup(4, MORE_LEFT));
      expect(first.systemLogPurge).toMatchObject(cleanup(4, MORE_LEFT));
      expect(await h.query("SELECT COUNT(*) AS n FROM ost_lock")).toEqual([{ n: 1 }]);
      expect(await logs("batch:")).toEqual(["batch: 4"]);
      // The unfinished purge is not counted as today's.
      expect(
        await h.query(
          "SELECT done_on < CURDATE() AS open FROM ostmesh_scheduled_task WHERE task = 'purge_logs'",
        ),
      ).toEqual([{ open: 1 }]);

      const second = await run();
      expect(second.expiredLocks).toMatchObject(cleanup(1, DONE));
      expect(second.systemLogPurge).toMatchObject(cleanup(1, DONE));
      expect(await h.query("SELECT COUNT(*) AS n FROM ost_lock")).toEqual([{ n: 0 }]);
      expect(await logs("batch:")).toEqual([]);
      expect((await run()).systemLogPurge).toMatchObject(cleanup(0, SKIPPED));
    } finally {
      await h.exec("DELETE FROM ost_lock");
      await h.exec("DELETE FROM ost_syslog WHERE title LIKE 'batch:%'");
    }
  });

  it("reports a failing duty and still runs the others", async () => {
    await h.exec("RENAME TABLE ostmesh_scheduled_task TO ostmesh_scheduled_task_away");
    try {
      await h.exec(
        "INSERT INTO ost_lock (staff_id, expire, code, created) VALUES (1, NOW() - INTERVAL 1 MINUTE, 'fail', NOW())",
      );
      await h.exec(
        "INSERT INTO ost_draft (staff_id, namespace, body, created) VALUES (1, 'fail', 'x', NOW() - INTERVAL 20 DAY)",
      );
      await addLog("fail: old", "NOW() - INTERVAL 2 YEAR");
      const res = await run();
      expect(res.systemLogPurge).toMatchObject(cleanup(0, FAILED));
      expect(res.expiredLocks).toMatchObject(cleanup(1, DONE));
      expect(res.expiredSessions).toMatchObject(cleanup(0, DONE));
      expect(res.expiredPasswordResets).toMatchObject(cleanup(0, DONE));
      expect(res.staleDrafts).toMatchObject(cleanup(1, DONE));
      expect(await logs("fail:")).toEqual(["fail: old"]);
    } finally {
      await h.exec("RENAME TABLE ostmesh_scheduled_task_away TO ostmesh_scheduled_task");
      await h.exec("DELETE FROM ost_syslog WHERE title LIKE 'fail:%'");
      await h.exec("DELETE FROM ost_lock");
      await h.exec("DELETE FROM ost_draft");
    }
  });
});

describe("RecordSystemLog", () => {
  it("writes ost_syslog rows exactly as given and returns their ids in order", async () => {
    const res = await h.client.recordSystemLog(
      {
        idempotencyKey: "syslog-1",
        entries: [
          {
            level: SystemLogLevel.WARNING,
            title: "API Error (401)",
            message: "Valid API key required",
            ipAddress: "192.0.2.1",
          },
          {
            level: SystemLogLevel.ERROR,
            title: "Unexpected Data (400)",
            message: "bogus: Unexpected data received in API request [KEY] ",
            ipAddress: "192.0.2.1",
          },
        ],
      },
      { headers: await h.service() },
    );
    expect(res.logIds).toHaveLength(2);
    const rows = await h.query(
      `SELECT log_id, log_type, title, log, logger, ip_address, created = updated AS same FROM ost_syslog WHERE log_id IN (${res.logIds.join(",")}) ORDER BY log_id`,
    );
    expect(rows).toEqual([
      {
        log_id: res.logIds[0],
        log_type: "Warning",
        title: "API Error (401)",
        log: "Valid API key required",
        logger: "",
        ip_address: "192.0.2.1",
        same: 1,
      },
      {
        log_id: res.logIds[1],
        log_type: "Error",
        title: "Unexpected Data (400)",
        log: "bogus: Unexpected data received in API request [KEY] ",
        logger: "",
        ip_address: "192.0.2.1",
        same: 1,
      },
    ]);
    const again = await h.client.recordSystemLog(
      {
        idempotencyKey: "syslog-1",
        entries: [
          {
            level: SystemLogLevel.WARNING,
            title: "API Error (401)",
            message: "Valid API key required",
            ipAddress: "192.0.2.1",
          },
          {
            level: SystemLogLevel.ERROR,
            title: "Unexpected Data (400)",
            message: "bogus: Unexpected data received in API request [KEY] ",
            ipAddress: "192.0.2.1",
          },
        ],
      },
      { headers: await h.service() },
    );
    expect(again.logIds).toEqual(res.logIds);
    expect(await h.query("SELECT COUNT(*) AS n FROM ost_syslog WHERE title = 'API Error (401)'")).toEqual([
      { n: 1 },
    ]);
  });

  it("writes only the rows the helpdesk's log level admits, as osTicket does (0 for a row left out)", async () => {
    const entries = [
      { level: SystemLogLevel.ERROR, title: "Level check (error)", message: "e", ipAddress: "192.0.2.9" },
      { level: SystemLogLevel.WARNING, title: "Level check (warning)", message: "w", ipAddress: "192.0.2.9" },
      { level: SystemLogLevel.DEBUG, title: "Level check (debug)", message: "d", ipAddress: "192.0.2.9" },
    ];
    const written = async () =>
      (await h.query("SELECT log_type FROM ost_syslog WHERE title LIKE 'Level check%' ORDER BY log_id")).map(
        (r) => r.log_type,
      );
    const setLevel = (value: string | null) =>
      value === null
        ? h.query("DELETE FROM ost_config WHERE `namespace` = 'core' AND `key` = 'log_level'")
        : h.query(
            "INSERT INTO ost_config (`namespace`, `key`, `value`) VALUES ('core', 'log_level', ?)" +
              " ON DUPLICATE KEY UPDATE `value` = VALUES(`value`)",
            [value],
          );
    const headers = await h.service();
    try {
      // The install's default (2): errors and warnings, no debug rows.
      const warnings = await h.client.recordSystemLog({ entries }, { headers });
      expect(warnings.logIds.map((id) => id > 0)).toEqual([true, true, false]);
      expect(await written()).toEqual(["Error", "Warning"]);
      await h.query("DELETE FROM ost_syslog WHERE title LIKE 'Level check%'");

      await setLevel("1");
      await h.client.recordSystemLog({ entries }, { headers });
      expect(await written()).toEqual(["Error"]);
      await h.query("DELETE FROM ost_syslog WHERE title LIKE 'Level check%'");

      await setLevel("3");
      await h.client.recordSystemLog({ entries }, { headers });
      expect(await written()).toEqual(["Error", "Warning", "Debug"]);
      await h.query("DELETE FROM ost_syslog WHERE title LIKE 'Level check%'");

      // No setting at all: PHP's null is below every level.
      await setLevel(null);
      const none = await h.client.recordSystemLog({ entries }, { headers });
      expect(none.logIds).toEqual([0, 0, 0]);
      expect(await written()).toEqual([]);
    } finally {
      await setLevel("2");
    }
  });

  it("refuses empty or incomplete entries and callers other than services", async () => {
    const headers = await h.service();
    const field = (e: ConnectError) => e.findDetails(ValidationErrorsSchema)[0]?.violations[0]?.field;
    expect(field(await rejectionOf(h.client.recordSystemLog({ entries: [] }, { headers })))).toBe("entries");
    expect(
      field(
        await rejectionOf(h.client.recordSystemLog({ entries: [{ title: "x", message: "y" }] }, { headers })),
      ),
    ).toBe("entries[0].level");
    expect(
      field(
        await rejectionOf(
          h.client.recordSystemLog(
            { entries: [{ level: SystemLogLevel.DEBUG, title: " ", message: "y" }] },
            { headers },
          ),
        ),
      ),
    ).toBe("entries[0].title");
    const agent = await rejectionOf(
      h.client.recordSystemLog(
        { entries: [{ level: SystemLogLevel.DEBUG, title: "x", message: "y" }] },
        { headers: await h.agent() },
      ),
    );
    expect(agent.code).toBe(Code.PermissionDenied);
  });
});
