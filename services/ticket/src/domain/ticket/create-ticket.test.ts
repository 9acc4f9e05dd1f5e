import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TicketDeniedError, TicketValidationError } from "../errors.ts";
import { SYSTEM_ACTOR } from "../ports.ts";
import { int, str } from "../rows.ts";
import { fixedClock, type Harness, openHarness, seededRandom } from "../testing/harness.ts";
import { type CreateTicketInput, createTicket } from "./create-ticket.ts";

let h: Harness;

beforeAll(async () => {
  h = await openHarness("create");
  // The captured install: DB time zone UTC, helpdesk zone America/New_York, no DNS verification.
  await h.setConfig("default_timezone", "America/New_York");
  await h.setConfig("verify_email_addrs", "0");
});
afterAll(async () => {
  await h?.close();
});

const TRACE_INPUT: CreateTicketInput = {
  requester: { email: "trace.user@example.net", name: "Trace User", phone: "555-123-4567" },
  subject: "Trace ticket",
  message: "<p>Hello <b>trace</b></p>",
  messageFormat: "html",
  source: "API",
  ipAddress: "203.0.113.7",
  legacy: true,
};

function create(input: CreateTicketInput, at = "2026-11-26T07:21:27Z") {
  return h.tx((tx) =>
    createTicket(tx, input, SYSTEM_ACTOR, {
      clock: fixedClock(at),
      forms: h.forms(),
      random: seededRandom(7),
    }),
  );
}

async function one(sql: string, params: (string | number)[]) {
  const rows = await h.query(sql, params);
  expect(rows).toHaveLength(1);
  return rows[0] ?? {};
}

describe("createTicket reproduces osTicket's API create (traces/api-create-ticket.rows.txt)", () => {
  it("writes every table as osTicket did for a new user with an html message", async () => {
    const r = await create(TRACE_INPUT);
    expect(r.number).toMatch(/^[1-9]\d{5}$/);

    const ticket = await one("SELECT * FROM ost_ticket WHERE ticket_id = ?", [r.ticketId]);
    expect(ticket).toMatchObject({
      ticket_pid: null,
      number: r.number,
      user_id: r.userId,
      user_email_id: 0,
      status_id: 1,
      dept_id: 1,
      sla_id: 1,
      topic_id: 0,
      staff_id: 0,
      team_id: 0,
      email_id: 0,
      lock_id: 0,
      flags: 0,
      sort: 0,
      ip_address: "203.0.113.7",
      source: "API",
      source_extra: null,
      isoverdue: 0,
      isanswered: 0,
      duedate: null,
      est_duedate: "2026-12-01 13:00:00",
      reopened: null,
      closed: null,
      lastupdate: "2026-11-26 07:21:27",
      created: "2026-11-26 07:21:27",
      updated: "2026-11-26 07:21:27",
    });
    expect(await one("SELECT * FROM ost_ticket__cdata WHERE ticket_id = ?", [r.ticketId])).toEqual({
      ticket_id: r.ticketId,
      subject: "Trace ticket",
      priority: "2",
    });
    expect(await one("SELECT * FROM ost_thread WHERE id = ?", [r.threadId])).toEqual({
      id: r.threadId,
      object_id: r.ticketId,
      object_type: "T",
      extra: null,
      lastresponse: null,
      lastmessage: "2026-11-26 07:21:27",
      created: "2026-11-26 07:21:27",
    });
    expect(await one("SELECT * FROM ost_thread_entry WHERE thread_id = ?", [r.threadId])).toEqual({
      id: r.messageEntryId,
      pid: 0,
      thread_id: r.threadId,
      staff_id: 0,
      user_id: r.userId,
      type: "M",
      flags: 65,
      poster: "Trace User",
      editor: null,
      editor_type: null,
      source: "API",
      title: "Trace ticket",
      body: "<p>Hello <b>trace</b></p>",
      format: "html",
      ip_address: "203.0.113.7",
      extra: null,
      recipients: null,
      created: "2026-11-26 07:21:27",
      updated: "0000-00-00 00:00:00",
    });
    const event = await one("SELECT * FROM ost_thread_event WHERE thread_id = ?", [r.threadId]);
    expect(event).toMatchObject({
      thread_type: "T",
      event_id: 1,
      staff_id: 0,
      team_id: 0,
      dept_id: 1,
      topic_id: 0,
      data: null,
      username: "SYSTEM",
      uid: r.userId,
      uid_type: "U",
      annulled: 0,
      timestamp: "2026-11-26 07:21:27",
    });
    const user = await one("SELECT * FROM ost_user WHERE id = ?", [r.userId]);
    expect(user).toMatchObject({
      org_id: 0,
      status: 0,
      name: "Trace User",
      created: "2026-11-26 07:21:27",
      updated: "2026-11-26 07:21:27",
    });
    const email = await one("SELECT * FROM ost_user_email WHERE user_id = ?", [r.userId]);
    expect(email).toMatchObject({ id: user.default_email_id, flags: 0, address: "trace.user@example.net" });
    expect(await one("SELECT * FROM ost_user__cdata WHERE user_id = ?", [r.userId])).toEqual({
      user_id: r.userId,
      email: null,
      name: null,
      phone: "5551234567",
      notes: "",
    });
    const entries = await h.query(
      "SELECT form_id, object_id, object_type, sort, extra, created, updated FROM ost_form_entry WHERE (object_type = 'T' AND object_id = ?) OR (object_type = 'U' AND object_id = ?) ORDER BY object_type",
      [r.ticketId, r.userId],
    );
    expect(entries).toEqual([
      {
        form_id: 2,
        object_id: r.ticketId,
        object_type: "T",
        sort: 1,
        extra: null,
        created: "2026-11-26 07:21:27",
        updated: "2026-11-26 07:21:27",
      },
      {
        form_id: 1,
        object_id: r.userId,
        object_type: "U",
        sort: 1,
        extra: null,
        created: "2026-11-26 07:21:27",
        updated: "2026-11-26 07:21:27",
      },
    ]);
    const values = await h.query(
      "SELECT e.object_type, v.field_id, v.value, v.value_id FROM ost_form_entry_values v JOIN ost_form_entry e ON e.id = v.entry_id" +
        " WHERE (e.object_type = 'T' AND e.object_id = ?) OR (e.object_type = 'U' AND e.object_id = ?) ORDER BY e.object_type, v.field_id",
      [r.ticketId, r.userId],
    );
    expect(values).toEqual([
      { object_type: "T", field_id: 20, value: "Trace ticket", value_id: null },
      { object_type: "T", field_id: 22, value: "Normal", value_id: 2 },
      { object_type: "U", field_id: 3, value: "5551234567", value_id: null },
      { object_type: "U", field_id: 4, value: null, value_id: null },
    ]);
    const search = await h.query(
      "SELECT object_type, title, content FROM ost__search WHERE (object_type = 'T' AND object_id = ?) OR (object_type = 'H' AND object_id = ?) OR (object_type = 'U' AND object_id = ?) ORDER BY object_type",
      [r.ticketId, r.messageEntryId, r.userId],
    );
    expect(search).toEqual([
      { object_type: "H", title: "Trace ticket", content: "Hello trace" },
      { object_type: "T", title: `${r.number} Trace ticket`, content: "Trace ticket" },
      {
        object_type: "U",
        title: "Trace User",
        content: "(555) 123-4567 trace.user@example.net\ntrace.user@example.net",
      },
    ]);
  });
});
