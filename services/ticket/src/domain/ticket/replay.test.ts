import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Actor, Ports } from "../ports.ts";
import { fixedClock, type Harness, openHarness } from "../testing/harness.ts";
import { changeStatus, postMessage, postReply, transferTicket } from "./actions.ts";

/**
 * Rows exactly as osTicket's PHP wrote them for the captured API create (traces/api-create-ticket.rows.txt),
 * inserted verbatim; ostmesh must read and update them like its own.
 */
const CREATED = "2026-11-26 07:21:27";
const PHP_ROWS = [
  `INSERT INTO ost_user VALUES (28, 0, 28, 0, 'Trace User', '${CREATED}', '${CREATED}')`,
  "INSERT INTO ost_user_email VALUES (28, 28, 0, 'trace.user@example.net')",
  `INSERT INTO ost_ticket VALUES (25, NULL, '771291', 28, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, '203.0.113.7', 'API', NULL, 0, 0, NULL, '2026-12-01 13:00:00', NULL, NULL, '${CREATED}', '${CREATED}', '${CREATED}')`,
  "INSERT INTO ost_ticket__cdata VALUES (25, 'Trace ticket', '2')",
  `INSERT INTO ost_thread VALUES (25, 25, 'T', NULL, NULL, '${CREATED}', '${CREATED}')`,
  `INSERT INTO ost_thread_entry VALUES (31, 0, 25, 0, 28, 'M', 65, 'Trace User', NULL, NULL, 'API', 'Trace ticket', '<p>Hello <b>trace</b></p>', 'html', '203.0.113.7', NULL, NULL, '${CREATED}', '0000-00-00 00:00:00')`,
  `INSERT INTO ost_thread_event VALUES (32, 25, 'T', 1, 0, 0, 1, 0, NULL, 'SYSTEM', 28, 'U', 0, '${CREATED}')`,
  "INSERT INTO ost_user__cdata VALUES (28, NULL, NULL, '5551234567', '')",
  `INSERT INTO ost_form_entry VALUES (54, 1, 28, 'U', 1, NULL, '${CREATED}', '${CREATED}'), (55, 2, 25, 'T', 1, NULL, '${CREATED}', '${CREATED}')`,
  "INSERT INTO ost_form_entry_values VALUES (55, 20, 'Trace ticket', NULL), (55, 22, 'Normal', 2), (54, 3, '5551234567', NULL), (54, 4, NULL, NULL)",
  "INSERT INTO ost__search VALUES ('H', 31, 'Trace ticket', 'Hello trace'), ('T', 25, '771291 Trace ticket', 'Trace ticket'), ('U', 28, 'Trace User', '(555) 123-4567 trace.user@example.net\\ntrace.user@example.net')",
];

let h: Harness;
const ADMIN: Actor = { kind: "staff", staffId: 1 };
const OWNER: Actor = { kind: "user", userId: 28 };
const at = (iso: string): Ports => ({ clock: fixedClock(iso), metadata: h.metadata() });

beforeAll(async () => {
  h = await openHarness("replay");
  await h.tx(async (tx) => {
    for (const sql of PHP_ROWS) await tx.run(sql);
  });
});
afterAll(async () => {
  await h?.close();
});

describe("tickets written by osTicket's PHP", () => {
  it("are read and updated like ostmesh's own", async () => {
    const reply = await h.tx((tx) =>
      postReply(tx, { ticketId: 25, body: "Looking into it" }, ADMIN, at("2026-11-26T08:00:00Z")),
    );
    expect(reply).toMatchObject({ ticketId: 25, number: "771291", staffId: 1, statusId: 1, deptId: 1 });
    const entry = (
      await h.query("SELECT pid, type, poster, body, format FROM ost_thread_entry WHERE id = ?", [
        reply.entryId,
      ])
    )[0];
    expect(entry).toEqual({
      pid: 31,
      type: "R",
      poster: "Admin User",
      body: "Looking into it",
      format: "text",
    });

    await h.tx((tx) => changeStatus(tx, { ticketId: 25, statusId: 3 }, ADMIN, at("2026-11-26T09:00:00Z")));
    const message = await h.tx((tx) =>
      postMessage(tx, { ticketId: 25, body: "Thanks, but no." }, OWNER, at("2026-11-27T15:00:00Z")),
    );
    expect(message.reopened).toBe(true);
    await h.tx((tx) => transferTicket(tx, { ticketId: 25, deptId: 2 }, ADMIN, at("2026-11-27T16:00:00Z")));

    const ticket = (await h.query("SELECT * FROM ost_ticket WHERE ticket_id = 25"))[0];
    expect(ticket).toMatchObject({
      number: "771291",
      user_id: 28,
      status_id: 1,
      dept_id: 2,
      sla_id: 1,
      staff_id: 1,
      isanswered: 0,
      closed: null,
      reopened: "2026-11-27 15:00:00",
      lastupdate: "2026-11-27 15:00:00",
      // Reopened Fri 2026-11-27 15:00 UTC: 2 h Fri, 9 h Mon, 7 h Tue → Tue 15:00 (helpdesk zone UTC).
      est_duedate: "2026-12-01 15:00:00",
      created: CREATED,
      updated: "2026-11-27 16:00:00",
    });
    // The original rows osTicket wrote are untouched.
    expect((await h.query("SELECT flags, updated FROM ost_thread_entry WHERE id = 31"))[0]).toEqual({
      flags: 65,
      updated: "0000-00-00 00:00:00",
    });
    expect((await h.query("SELECT * FROM ost_ticket__cdata WHERE ticket_id = 25"))[0]).toEqual({
      ticket_id: 25,
      subject: "Trace ticket",
      priority: "2",
    });
    expect(
      (await h.query("SELECT title, content FROM ost__search WHERE object_type = 'T' AND object_id = 25"))[0],
    ).toEqual({
      title: "771291 Trace ticket",
      content: "Trace ticket",
    });
    const events = await h.query(
      "SELECT e.name, t.dept_id, t.data, t.username, t.annulled FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id WHERE t.thread_id = 25 ORDER BY t.id",
    );
    expect(events).toEqual([
      { name: "created", dept_id: 1, data: null, username: "SYSTEM", annulled: 0 },
      { name: "closed", dept_id: 1, data: '{"status":[3,"Closed"]}', username: "ostadmin", annulled: 1 },
      { name: "reopened", dept_id: 1, data: null, username: "trace.user@example.net", annulled: 0 },
      { name: "transferred", dept_id: 2, data: '{"dept":"Sales"}', username: "ostadmin", annulled: 0 },
    ]);
  });
});
