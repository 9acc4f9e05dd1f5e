import { Code, ConnectError } from "@connectrpc/connect";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { SystemLogLevel } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TicketHarness, ticketHarness } from "../testing/harness.ts";

let h: TicketHarness;

beforeAll(async () => {
  h = await ticketHarness("system", { env: { TICKET_OVERDUE_BATCH: "2", TICKET_OVERDUE_MAX_BATCHES: "2" } });
});
afterAll(async () => {
  await h?.close();
});

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("the call succeeded");
}

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
    const noScope = await failure(
      h.client.runScheduledTasks({}, { headers: await h.service(["tickets:read"]) }),
    );
    expect(noScope.code).toBe(Code.PermissionDenied);
    const anonymous = await failure(h.client.runScheduledTasks({}));
    expect(anonymous.code).toBe(Code.Unauthenticated);
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
    expect(field(await failure(h.client.recordSystemLog({ entries: [] }, { headers })))).toBe("entries");
    expect(
      field(
        await failure(h.client.recordSystemLog({ entries: [{ title: "x", message: "y" }] }, { headers })),
      ),
    ).toBe("entries[0].level");
    expect(
      field(
        await failure(
          h.client.recordSystemLog(
            { entries: [{ level: SystemLogLevel.DEBUG, title: " ", message: "y" }] },
            { headers },
          ),
        ),
      ),
    ).toBe("entries[0].title");
    const agent = await failure(
      h.client.recordSystemLog(
        { entries: [{ level: SystemLogLevel.DEBUG, title: "x", message: "y" }] },
        { headers: await h.agent() },
      ),
    );
    expect(agent.code).toBe(Code.PermissionDenied);
  });
});
