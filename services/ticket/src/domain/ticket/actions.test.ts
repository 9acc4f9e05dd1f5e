import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError, TicketActionError, TicketValidationError } from "../errors.ts";
import { type Actor, type Ports, SYSTEM_ACTOR } from "../ports.ts";
import { fixedClock, type Harness, openHarness, seededRandom } from "../testing/harness.ts";
import {
  assignTicket,
  changeStatus,
  checkOverdue,
  postMessage,
  postNote,
  postReply,
  releaseTicket,
  transferTicket,
} from "./actions.ts";
import { createTicket } from "./create-ticket.ts";

let h: Harness;
const ADMIN: Actor = { kind: "staff", staffId: 1 };

beforeAll(async () => {
  h = await openHarness("actions");
  await h.setConfig("verify_email_addrs", "0");
});
afterAll(async () => {
  await h?.close();
});

const ports = (at: string): Ports => ({ clock: fixedClock(at), forms: h.forms(), random: seededRandom(11) });

async function newTicket(email: string, name: string) {
  return h.tx((tx) =>
    createTicket(
      tx,
      {
        requester: { email, name },
        subject: "Testing API",
        message: "First message",
        source: "API",
        legacy: true,
      },
      SYSTEM_ACTOR,
      ports("2026-03-02T09:00:00Z"),
    ),
  );
}

const ticketRow = async (id: number) =>
  (await h.query("SELECT * FROM ost_ticket WHERE ticket_id = ?", [id]))[0] ?? {};
const entries = (threadId: number) =>
  h.query(
    "SELECT id, pid, staff_id, user_id, type, flags, poster, source, title, body, format, ip_address, created FROM ost_thread_entry WHERE thread_id = ? ORDER BY id",
    [threadId],
  );
const events = (threadId: number) =>
  h.query(
    "SELECT e.name AS event, t.staff_id, t.team_id, t.dept_id, t.topic_id, t.data, t.username, t.uid, t.uid_type, t.annulled, t.timestamp" +
      " FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id WHERE t.thread_id = ? ORDER BY t.id",
    [threadId],
  );

describe("ticket actions write what osTicket writes (traces/ticket-actions.writes.sql)", () => {
  it("reply, note, close, reopen, claim, team, transfer, user message, resolve", async () => {
    const t = await newTicket("angry.user@example.com", "Angry User");
    const first = t.messageEntryId;

    // ---- reply: R entry (pid = last message), lastresponse, auto-claim, isanswered; lastupdate untouched.
    const reply = await h.tx((tx) =>
      postReply(
        tx,
        { ticketId: t.ticketId, body: "<p>Agent reply</p>", format: "html" },
        ADMIN,
        ports("2026-03-02T10:00:00Z"),
      ),
    );
    let row = await ticketRow(t.ticketId);
    expect(row).toMatchObject({
      staff_id: 1,
      isanswered: 1,
      lastupdate: "2026-03-02 09:00:00",
      updated: "2026-03-02 10:00:00",
    });
    const thread = (
      await h.query("SELECT lastresponse, lastmessage FROM ost_thread WHERE id = ?", [t.threadId])
    )[0];
    expect(thread).toEqual({ lastresponse: "2026-03-02 10:00:00", lastmessage: "2026-03-02 09:00:00" });

    // ---- note
    const note = await h.tx((tx) =>
      postNote(
        tx,
        { ticketId: t.ticketId, title: "My note title", body: "<p>Internal note</p>", format: "html" },
        ADMIN,
        ports("2026-03-02T10:05:00Z"),
      ),
    );
    row = await ticketRow(t.ticketId);
    expect(row.updated).toBe("2026-03-02 10:00:00");

    // ---- close (Closed) then reopen (Open)
    await h.tx((tx) =>
      changeStatus(tx, { ticketId: t.ticketId, statusId: 3 }, ADMIN, ports("2026-03-02T11:00:00Z")),
    );
    row = await ticketRow(t.ticketId);
    expect(row).toMatchObject({
      status_id: 3,
      closed: "2026-03-02 11:00:00",
      lastupdate: "2026-03-02 11:00:00",
      staff_id: 1,
    });
    await h.tx((tx) =>
      changeStatus(tx, { ticketId: t.ticketId, statusId: 1 }, ADMIN, ports("2026-03-02T12:00:00Z")),
    );
    row = await ticketRow(t.ticketId);
    expect(row).toMatchObject({
      status_id: 1,
      closed: null,
      reopened: "2026-03-02 12:00:00",
      lastupdate: "2026-03-02 12:00:00",
      isanswered: 0,
      staff_id: 1,
    });

    // ---- claim (already the assignee), team, transfer with a comment
    await h.tx((tx) =>
      assignTicket(
        tx,
        { ticketId: t.ticketId, assignee: { staffId: 1 } },
        ADMIN,
        ports("2026-03-02T12:10:00Z"),
      ),
    );
    await h.tx((tx) =>
      assignTicket(
        tx,
        { ticketId: t.ticketId, assignee: { teamId: 1 } },
        ADMIN,
        ports("2026-03-02T12:20:00Z"),
      ),
    );
    const transfer = await h.tx((tx) =>
      transferTicket(
        tx,
        { ticketId: t.ticketId, deptId: 2, comment: "moving" },
        ADMIN,
        ports("2026-03-02T12:30:00Z"),
      ),
    );
    row = await ticketRow(t.ticketId);
    expect(row).toMatchObject({ dept_id: 2, team_id: 1, staff_id: 1, sla_id: 1 });

    // ---- end-user message from the portal
    const message = await h.tx((tx) =>
      postMessage(
        tx,
        { ticketId: t.ticketId, body: "user follow-up", source: "Web", ipAddress: "10.1.1.1" },
        { kind: "user", userId: t.userId },
        ports("2026-03-02T13:00:00Z"),
      ),
    );
    expect(message.reopened).toBe(false);
    row = await ticketRow(t.ticketId);
    expect(row).toMatchObject({ lastupdate: "2026-03-02 13:00:00", isanswered: 0 });

    // ---- resolve with a comment
    const resolve = await h.tx((tx) =>
      changeStatus(
        tx,
        { ticketId: t.ticketId, statusId: 2, comment: "closing comment" },
        ADMIN,
        ports("2026-03-02T14:00:00Z"),
      ),
    );
    expect(resolve.entryId).toBeGreaterThan(0);

    expect(await entries(t.threadId)).toEqual([
      expect.objectContaining({ id: first, type: "M", flags: 1, poster: "Angry User", source: "API" }),
      {
        id: reply.entryId,
        pid: first,
        staff_id: 1,
        user_id: 0,
        type: "R",
        flags: 64,
        poster: "Admin User",
        source: "",
        title: null,
        body: "<p>Agent reply</p>",
        format: "html",
        ip_address: "",
        created: "2026-03-02 10:00:00",
      },
      {
        id: note.entryId,
        pid: 0,
        staff_id: 1,
        user_id: 0,
        type: "N",
        flags: 64,
        poster: "Admin User",
        source: "",
        title: "My note title",
        body: "<p>Internal note</p>",
        format: "html",
        ip_address: "",
        created: "2026-03-02 10:05:00",
      },
      expect.objectContaining({
        id: transfer.entryId,
        type: "N",
        staff_id: 1,
        title: "Ticket transferred from Support to Sales",
        body: "moving",
        format: "html",
        flags: 64,
      }),
      {
        id: message.entryId,
        pid: 0,
        staff_id: 0,
        user_id: t.userId,
        type: "M",
        flags: 0,
        poster: "Angry User",
        source: "Web",
        title: null,
        body: "user follow-up",
        format: "text",
        ip_address: "10.1.1.1",
        created: "2026-03-02 13:00:00",
      },
      expect.objectContaining({
        id: resolve.entryId,
        type: "N",
        title: "Status Changed",
        body: "closing comment",
        flags: 64,
      }),
    ]);

    const staffEvent = { username: "ostadmin", uid: 1, uid_type: "S", topic_id: 0 };
    expect(await events(t.threadId)).toEqual([
      expect.objectContaining({ event: "created", username: "SYSTEM", uid: t.userId, uid_type: "U" }),
      {
        ...staffEvent,
        event: "closed",
        staff_id: 1,
        team_id: 0,
        dept_id: 1,
        data: '{"status":[3,"Closed"]}',
        annulled: 1,
        timestamp: "2026-03-02 11:00:00",
      },
      {
        ...staffEvent,
        event: "reopened",
        staff_id: 1,
        team_id: 0,
        dept_id: 1,
        data: null,
        annulled: 0,
        timestamp: "2026-03-02 12:00:00",
      },
      {
        ...staffEvent,
        event: "assigned",
        staff_id: 1,
        team_id: 0,
        dept_id: 1,
        data: '{"claim":true}',
        annulled: 0,
        timestamp: "2026-03-02 12:10:00",
      },
      {
        ...staffEvent,
        event: "assigned",
        staff_id: 1,
        team_id: 1,
        dept_id: 1,
        data: '{"team":1}',
        annulled: 0,
        timestamp: "2026-03-02 12:20:00",
      },
      {
        ...staffEvent,
        event: "transferred",
        staff_id: 1,
        team_id: 1,
        dept_id: 2,
        data: '{"dept":"Sales"}',
        annulled: 0,
        timestamp: "2026-03-02 12:30:00",
      },
      {
        ...staffEvent,
        event: "closed",
        staff_id: 1,
        team_id: 1,
        dept_id: 2,
        data: '{"status":[2,"Resolved"]}',
        annulled: 0,
        timestamp: "2026-03-02 14:00:00",
      },
    ]);

    // Referrals: the close referred the thread to agent 1, the claim removed it, the resolve added it again.
    expect(
      await h.query("SELECT object_id, object_type, created FROM ost_thread_referral WHERE thread_id = ?", [
        t.threadId,
      ]),
    ).toEqual([{ object_id: 1, object_type: "S", created: "2026-03-02 14:00:00" }]);
    row = await ticketRow(t.ticketId);
    expect(row).toMatchObject({ status_id: 2, closed: "2026-03-02 14:00:00", dept_id: 2 });

    const search = await h.query(
      "SELECT object_type, object_id, title, content FROM ost__search WHERE (object_type = 'H' AND object_id IN (?, ?, ?, ?)) OR (object_type = 'T' AND object_id = ?) ORDER BY object_type, object_id",
      [reply.entryId, note.entryId, transfer.entryId, message.entryId, t.ticketId],
    );
    expect(search).toEqual([
      { object_type: "H", object_id: reply.entryId, title: "", content: "Agent reply" },
      { object_type: "H", object_id: note.entryId, title: "My note title", content: "Internal note" },
      {
        object_type: "H",
        object_id: transfer.entryId,
        title: "Ticket transferred from Support to Sales",
        content: "moving",
      },
      { object_type: "H", object_id: message.entryId, title: "", content: "user follow-up" },
      { object_type: "T", object_id: t.ticketId, title: `${t.number} Testing API`, content: "Testing API" },
    ]);
  });
});
