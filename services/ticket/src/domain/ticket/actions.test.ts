import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError, TicketActionError, TicketValidationError } from "../errors.ts";
import { type Actor, type Ports, SYSTEM_ACTOR } from "../ports.ts";
import { loadConfigAndClock } from "../reference/config.ts";
import { Lookups } from "../reference/lookups.ts";
import type { Sql } from "../sql.ts";
import { fixedClock, type Harness, openHarness, seededRandom } from "../testing/harness.ts";
import { recordingSql } from "../testing/round-trips.ts";
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
import { ticketForUpdateRead, ticketStateOf } from "./state.ts";

let h: Harness;
const ADMIN: Actor = { kind: "staff", staffId: 1 };

beforeAll(async () => {
  h = await openHarness("actions");
  await h.setConfig("verify_email_addrs", "0");
});
afterAll(async () => {
  await h?.close();
});

const ports = (at: string): Ports => ({
  clock: fixedClock(at),
  metadata: h.metadata(),
  random: seededRandom(11),
});

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

describe("round trips", () => {
  it("posts a reply and a note in a bounded number of round trips (the ticket and its lock read with config, the reply's reads together)", async () => {
    const t = await newTicket("round.trips@example.com", "Round Trips");
    const metadata = h.metadata();
    const counted = async (act: (tx: Sql) => Promise<unknown>) => {
      let recorded: ReturnType<typeof recordingSql> | undefined;
      await h.tx((tx) => {
        recorded = recordingSql(tx);
        return act(recorded.sql);
      });
      return { roundTrips: recorded?.roundTrips.length, deferred: recorded?.deferred.length };
    };
    const reply = await counted((tx) =>
      postReply(tx, { ticketId: t.ticketId, body: "On it", recipients: "all", respectLock: true }, ADMIN, {
        metadata,
      }),
    );
    const note = await counted((tx) =>
      postNote(
        tx,
        { ticketId: t.ticketId, title: "Checked", body: "Looked at it", respectLock: true },
        ADMIN,
        {
          metadata,
        },
      ),
    );
    // Reply: config, agent, ticket, status and the ticket's lock; the message replied to, the recipients and the department;
    // the entry; the ticket's update with its answers for the search row. Note: the same without the second.
    expect({ reply, note }).toEqual({
      reply: { roundTrips: 4, deferred: 3 },
      note: { roundTrips: 3, deferred: 1 },
    });
  });
});

describe("the ticket an action locks", () => {
  it("has the status its locked row names, also when another transaction changed it after this one's snapshot", async () => {
    const t = await newTicket("snapshot@example.com", "Snap Shot");
    const state = await h.tx(async (tx) => {
      // This transaction's snapshot sees the ticket open; another one closes it and commits meanwhile.
      expect(await tx.all("SELECT status_id FROM ost_ticket WHERE ticket_id = ?", [t.ticketId])).toEqual([
        { status_id: 1 },
      ]);
      await h.query("UPDATE ost_ticket SET status_id = 3 WHERE ticket_id = ?", [t.ticketId]);
      const { config } = await loadConfigAndClock(tx);
      const lookups = new Lookups(tx, config, h.metadata());
      return ticketStateOf(await tx.read(ticketForUpdateRead(t.ticketId)), lookups, t.ticketId);
    });
    expect({ statusId: state.statusId, status: state.status?.name, state: state.state }).toEqual({
      statusId: 3,
      status: "Closed",
      state: "closed",
    });
  });
});

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

async function expectNoWrites(
  work: () => Promise<unknown>,
  errorType: new (...args: never[]) => Error,
  check?: (e: Error) => void,
) {
  const before = await h.counts();
  const error = await work().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(errorType);
  if (check && error instanceof Error) check(error);
  expect(await h.counts()).toEqual(before);
}

describe("action error paths write nothing", () => {
  it("refuses unknown tickets, empty bodies, non-agents, bad transfers, releases and statuses", async () => {
    const t = await newTicket("errors@example.com", "Error Case");
    const at = ports("2026-03-03T09:00:00Z");
    await expectNoWrites(
      () => h.tx((tx) => postReply(tx, { ticketId: 999_999, body: "x" }, ADMIN, at)),
      NotFoundError,
    );
    await expectNoWrites(
      () => h.tx((tx) => postReply(tx, { ticketId: t.ticketId, body: " <br> ", format: "html" }, ADMIN, at)),
      TicketValidationError,
      (e) =>
        expect(e instanceof TicketValidationError ? e.issues : []).toEqual([
          { key: "response", message: "Response content is required" },
        ]),
    );
    await expectNoWrites(
      () => h.tx((tx) => postReply(tx, { ticketId: t.ticketId, body: "x" }, SYSTEM_ACTOR, at)),
      TicketActionError,
    );
    await expectNoWrites(
      () => h.tx((tx) => postNote(tx, { ticketId: t.ticketId, title: "t", body: "" }, ADMIN, at)),
      TicketValidationError,
    );
    await expectNoWrites(
      () => h.tx((tx) => postMessage(tx, { ticketId: t.ticketId, body: "" }, SYSTEM_ACTOR, at)),
      TicketValidationError,
    );
    await expectNoWrites(
      () =>
        h.tx((tx) =>
          postMessage(tx, { ticketId: t.ticketId, body: "hi", userId: 999_999 }, SYSTEM_ACTOR, at),
        ),
      NotFoundError,
    );
    await expectNoWrites(
      () => h.tx((tx) => transferTicket(tx, { ticketId: t.ticketId, deptId: 1 }, ADMIN, at)),
      TicketActionError,
      (e) => expect(e.message).toBe("Ticket already in the department"),
    );
    await expectNoWrites(
      () => h.tx((tx) => transferTicket(tx, { ticketId: t.ticketId, deptId: 999 }, ADMIN, at)),
      TicketActionError,
      (e) => expect(e.message).toBe("Department selection required"),
    );
    await expectNoWrites(
      () => h.tx((tx) => releaseTicket(tx, { ticketId: t.ticketId }, ADMIN, at)),
      TicketActionError,
      (e) => expect(e.message).toBe("Ticket is not assigned!"),
    );
    await expectNoWrites(
      () => h.tx((tx) => changeStatus(tx, { ticketId: t.ticketId, statusId: 4 }, ADMIN, at)),
      TicketActionError,
    );
    await expectNoWrites(
      () => h.tx((tx) => changeStatus(tx, { ticketId: t.ticketId, statusId: 99 }, ADMIN, at)),
      NotFoundError,
    );
    await expectNoWrites(
      () => h.tx((tx) => assignTicket(tx, { ticketId: t.ticketId, assignee: { staffId: 99 } }, ADMIN, at)),
      NotFoundError,
    );
    await h.tx((tx) => tx.run("UPDATE ost_staff SET onvacation = 1 WHERE staff_id = 1"));
    try {
      await expectNoWrites(
        () =>
          h.tx((tx) =>
            assignTicket(tx, { ticketId: t.ticketId, assignee: { staffId: 1 } }, SYSTEM_ACTOR, at),
          ),
        TicketActionError,
        (e) => expect(e.message).toBe("Agent is unavailable for assignment"),
      );
    } finally {
      await h.tx((tx) => tx.run("UPDATE ost_staff SET onvacation = 0 WHERE staff_id = 1"));
    }
    // Closing is refused while a task is open.
    await h.tx((tx) =>
      tx.run(
        "INSERT INTO ost_task (object_id, object_type, number, dept_id, flags, created, updated) VALUES (?, 'T', '1', 1, 1, NOW(), NOW())",
        [t.ticketId],
      ),
    );
    await expectNoWrites(
      () => h.tx((tx) => changeStatus(tx, { ticketId: t.ticketId, statusId: 3 }, ADMIN, at)),
      TicketActionError,
      (e) => expect(e.message).toBe("This ticket has 1 open tasks and cannot be closed"),
    );
  });
});

describe("messages, collaborators, reopen and SLA", () => {
  it("reopens a closed ticket on a user message and recomputes the SLA due date from the reopen time", async () => {
    const t = await newTicket("reopen@example.com", "Re Opener");
    await h.tx((tx) =>
      postReply(tx, { ticketId: t.ticketId, body: "answer" }, ADMIN, ports("2026-03-02T09:30:00Z")),
    );
    await h.tx((tx) =>
      changeStatus(tx, { ticketId: t.ticketId, statusId: 2 }, ADMIN, ports("2026-03-02T10:00:00Z")),
    );
    const m = await h.tx((tx) =>
      postMessage(
        tx,
        { ticketId: t.ticketId, body: "still broken" },
        { kind: "user", userId: t.userId },
        ports("2026-03-04T15:00:00Z"),
      ),
    );
    expect(m.reopened).toBe(true);
    const row = (
      await h.query(
        "SELECT status_id, closed, reopened, isanswered, staff_id, est_duedate FROM ost_ticket WHERE ticket_id = ?",
        [t.ticketId],
      )
    )[0];
    // Default SLA 18 h in "Mon-Fri 8-17" (UTC): Wed 15:00 → 2 h Wed, 9 h Thu, 7 h Fri → Fri 15:00.
    expect(row).toEqual({
      status_id: 1,
      closed: null,
      reopened: "2026-03-04 15:00:00",
      isanswered: 0,
      staff_id: 1,
      est_duedate: "2026-03-06 15:00:00",
    });
    const ev = await events(t.threadId);
    // The portal's reopen logs no user object: `$thisclient` is a ClientSession (neither Staff nor User),
    // so uid stays NULL and uid_type 'S', with the user's address as the name.
    expect(ev.map((e) => [e.event, e.annulled, e.username, e.uid, e.uid_type])).toEqual([
      ["created", 0, "SYSTEM", t.userId, "U"],
      ["closed", 1, "ostadmin", 1, "S"],
      ["reopened", 0, "reopen@example.com", null, "S"],
    ]);
  });

  it("adds a non-owner author as collaborator and flags the entry", async () => {
    const t = await newTicket("owner@example.com", "Owner Person");
    const other = await newTicket("helper@example.com", "Helper Person");
    const m = await h.tx((tx) =>
      postMessage(
        tx,
        { ticketId: t.ticketId, body: "me too", userId: other.userId },
        SYSTEM_ACTOR,
        ports("2026-03-05T09:00:00Z"),
      ),
    );
    expect(
      await h.query(
        "SELECT flags, user_id, role, created, updated FROM ost_thread_collaborator WHERE thread_id = ?",
        [t.threadId],
      ),
    ).toEqual([
      {
        flags: 3,
        user_id: other.userId,
        role: "M",
        created: "2026-03-05 09:00:00",
        updated: "2026-03-05 09:00:00",
      },
    ]);
    const entry = (
      await h.query("SELECT flags, poster, user_id, recipients FROM ost_thread_entry WHERE id = ?", [
        m.entryId,
      ])
    )[0];
    // COLLABORATOR | REPLY_USER: the message lists the owner (everyone but the poster).
    expect(entry).toEqual({
      flags: 544,
      poster: "Helper Person",
      user_id: other.userId,
      recipients: `{"to":{"${t.userId}":"Owner Person <owner@example.com>"}}`,
    });
    const [collabRow] = await h.query("SELECT id FROM ost_thread_collaborator WHERE thread_id = ?", [
      t.threadId,
    ]);
    const reply = await h.tx((tx) =>
      postReply(
        tx,
        { ticketId: t.ticketId, body: "to all", recipients: "all" },
        ADMIN,
        ports("2026-03-05T09:10:00Z"),
      ),
    );
    expect(
      (await h.query("SELECT flags, recipients FROM ost_thread_entry WHERE id = ?", [reply.entryId]))[0],
    ).toEqual({
      flags: 256,
      recipients: `{"to":{"${t.userId}":"Owner Person <owner@example.com>"},"cc":{"${collabRow?.id}":"Helper Person <helper@example.com>"}}`,
    });
    const collab = (await events(t.threadId)).at(-1);
    expect(collab).toMatchObject({
      event: "collab",
      data: `{"add":{"${other.userId}":{"name":"Helper Person"}}}`,
      username: "SYSTEM",
    });
  });

  it("marks overdue tickets from cron, and closing clears the flag and past due dates", async () => {
    const t = await newTicket("late@example.com", "Late Person");
    await h.tx((tx) =>
      tx.run("UPDATE ost_ticket SET est_duedate = '2026-03-01 00:00:00' WHERE ticket_id = ?", [t.ticketId]),
    );
    const marked = await h.tx((tx) => checkOverdue(tx, SYSTEM_ACTOR, ports("2026-03-06T00:00:00Z")));
    expect(marked).toContain(t.ticketId);
    expect(await h.tx((tx) => checkOverdue(tx, SYSTEM_ACTOR, ports("2026-03-06T00:00:00Z")))).not.toContain(
      t.ticketId,
    );
    let row = (
      await h.query("SELECT isoverdue, updated FROM ost_ticket WHERE ticket_id = ?", [t.ticketId])
    )[0];
    expect(row).toEqual({ isoverdue: 1, updated: "2026-03-06 00:00:00" });
    expect((await events(t.threadId)).at(-1)).toMatchObject({
      event: "overdue",
      username: "SYSTEM",
      uid: null,
      uid_type: "S",
    });
    await h.tx((tx) =>
      changeStatus(tx, { ticketId: t.ticketId, statusId: 3 }, ADMIN, ports("2026-03-06T01:00:00Z")),
    );
    row = (
      await h.query("SELECT isoverdue, est_duedate FROM ost_ticket WHERE ticket_id = ?", [t.ticketId])
    )[0];
    expect(row).toEqual({ isoverdue: 0, est_duedate: null });
  });

  it("releases agent and team with a released event and a note", async () => {
    const t = await newTicket("release@example.com", "Release Me");
    await h.tx((tx) =>
      assignTicket(
        tx,
        { ticketId: t.ticketId, assignee: { teamId: 1 } },
        ADMIN,
        ports("2026-03-07T09:00:00Z"),
      ),
    );
    await h.tx((tx) =>
      assignTicket(
        tx,
        { ticketId: t.ticketId, assignee: { staffId: 1 }, comment: "mine" },
        ADMIN,
        ports("2026-03-07T09:01:00Z"),
      ),
    );
    const r = await h.tx((tx) =>
      releaseTicket(
        tx,
        { ticketId: t.ticketId, comment: "letting go" },
        ADMIN,
        ports("2026-03-07T09:02:00Z"),
      ),
    );
    expect(r).toMatchObject({ staffId: 0, teamId: 0 });
    const notes = await h.query(
      "SELECT title, body FROM ost_thread_entry WHERE thread_id = ? AND type = 'N' ORDER BY id",
      [t.threadId],
    );
    expect(notes).toEqual([
      { title: "Ticket claimed by Admin User", body: "mine" },
      { title: "Assignment Released", body: "letting go" },
    ]);
    expect((await events(t.threadId)).at(-1)).toMatchObject({
      event: "released",
      data: '{"staff":[1,"Admin User"],"team":1}',
    });
  });

  it("deletes a ticket for good on a 'deleted' status", async () => {
    const t = await newTicket("gone@example.com", "Gone Soon");
    const r = await h.tx((tx) =>
      changeStatus(tx, { ticketId: t.ticketId, statusId: 5 }, ADMIN, ports("2026-03-08T09:00:00Z")),
    );
    expect(r.deleted).toBe(true);
    for (const [sql, params] of [
      ["SELECT * FROM ost_ticket WHERE ticket_id = ?", [t.ticketId]],
      ["SELECT * FROM ost_thread WHERE id = ?", [t.threadId]],
      ["SELECT * FROM ost_thread_entry WHERE thread_id = ?", [t.threadId]],
      ["SELECT * FROM ost_form_entry WHERE object_type = 'T' AND object_id = ?", [t.ticketId]],
      ["SELECT * FROM ost_ticket__cdata WHERE ticket_id = ?", [t.ticketId]],
      ["SELECT * FROM ost__search WHERE object_type = 'T' AND object_id = ?", [t.ticketId]],
      ["SELECT * FROM ost__search WHERE object_type = 'H' AND object_id = ?", [t.messageEntryId]],
    ] as const) {
      expect(await h.query(sql, [...params])).toEqual([]);
    }
    const kept = await h.query(
      "SELECT e.name, t.thread_id FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id WHERE t.thread_id IN (0, ?) AND t.dept_id = 1 AND t.timestamp >= '2026-03-02 09:00:00' ORDER BY t.id DESC LIMIT 2",
      [t.threadId],
    );
    expect(kept).toEqual([
      { name: "deleted", thread_id: t.threadId },
      { name: "created", thread_id: 0 },
    ]);
  });
});

describe("more actions", () => {
  it("closes with a reply status and posts SYSTEM notes without indexing them", async () => {
    const t = await newTicket("status.reply@example.com", "Status Reply");
    const r = await h.tx((tx) =>
      postReply(
        tx,
        { ticketId: t.ticketId, body: "Fixed.", replyStatusId: 2 },
        ADMIN,
        ports("2026-03-09T09:00:00Z"),
      ),
    );
    expect(r).toMatchObject({ statusId: 2, staffId: 1 });
    const row = await ticketRow(t.ticketId);
    // Closed tickets are not auto-claimed; the closing agent is set by the close itself.
    expect(row).toMatchObject({ status_id: 2, closed: "2026-03-09 09:00:00", isanswered: 1, staff_id: 1 });
    const n = await h.tx((tx) =>
      postNote(
        tx,
        { ticketId: t.ticketId, title: "Cron", body: "<p>auto</p>", format: "html" },
        SYSTEM_ACTOR,
        ports("2026-03-09T09:05:00Z"),
      ),
    );
    expect(
      (await h.query("SELECT staff_id, poster, flags FROM ost_thread_entry WHERE id = ?", [n.entryId]))[0],
    ).toEqual({
      staff_id: 0,
      poster: "SYSTEM",
      flags: 192,
    });
    expect(
      await h.query("SELECT * FROM ost__search WHERE object_type = 'H' AND object_id = ?", [n.entryId]),
    ).toEqual([]);
  });

  it("logs 'edited' for an open → open status change and refuses no-op changes silently", async () => {
    const t = await newTicket("edited@example.com", "Edit Status");
    await h.tx((tx) =>
      tx.run(
        "INSERT INTO ost_ticket_status (id, name, state, mode, flags, sort, properties, created, updated) VALUES (6, 'Waiting', 'open', 1, 0, 6, '{}', NOW(), NOW())",
      ),
    );
    const same = await h.tx((tx) =>
      changeStatus(tx, { ticketId: t.ticketId, statusId: 1 }, ADMIN, ports("2026-03-10T09:00:00Z")),
    );
    expect(same.statusId).toBe(1);
    expect((await ticketRow(t.ticketId)).updated).toBe("2026-03-02 09:00:00");
    await h.tx((tx) =>
      changeStatus(tx, { ticketId: t.ticketId, statusId: 6 }, ADMIN, ports("2026-03-10T09:05:00Z")),
    );
    expect(await ticketRow(t.ticketId)).toMatchObject({
      status_id: 6,
      closed: null,
      updated: "2026-03-10 09:05:00",
    });
    expect((await events(t.threadId)).at(-1)).toMatchObject({
      event: "edited",
      data: '{"status":6}',
      username: "ostadmin",
    });
  });

  it("runs use cases through the TicketWriteCore facade, one transaction each", async () => {
    const { TicketWriteCore, writeOutboxRow } = await import("../index.ts");
    const outbox: string[] = [];
    const core = new TicketWriteCore(h.orm.em, {
      metadata: h.metadata(),
      verifyMailDomain: async () => true,
      emit: async (event, tx) => {
        outbox.push(`${event.type}:${event.ticketId}`);
        await writeOutboxRow(tx, {
          subject: `osticket.events.${event.type}`,
          eventType: event.type,
          aggregateType: "ticket",
          aggregateId: String(event.ticketId),
          payload: new Uint8Array([1, 2, 3]),
        });
      },
    });
    const t = await core.createTicket(
      {
        requester: { email: "facade@example.com", name: "Facade" },
        subject: "Via facade",
        message: "m",
        legacy: true,
      },
      SYSTEM_ACTOR,
    );
    await core.postReply({ ticketId: t.ticketId, body: "r" }, ADMIN);
    await h.tx((tx) =>
      tx.run("UPDATE ost_ticket SET est_duedate = '2000-01-01 00:00:00' WHERE ticket_id = ?", [t.ticketId]),
    );
    expect(await core.checkOverdue(SYSTEM_ACTOR)).toContain(t.ticketId);
    expect(outbox.filter((e) => e.endsWith(`:${t.ticketId}`))).toEqual([
      `ticket.created:${t.ticketId}`,
      `ticket.response.posted:${t.ticketId}`,
      `ticket.overdue:${t.ticketId}`,
    ]);
    const rows = await h.query(
      "SELECT subject, HEX(payload) AS payload FROM ostmesh_outbox WHERE aggregate_id = ? ORDER BY id",
      [String(t.ticketId)],
    );
    expect(rows).toEqual([
      { subject: "osticket.events.ticket.created", payload: "010203" },
      { subject: "osticket.events.ticket.response.posted", payload: "010203" },
      { subject: "osticket.events.ticket.overdue", payload: "010203" },
    ]);
  });
});

describe("closing over close-required fields (Ticket::getMissingRequiredFields)", () => {
  // ost_form_field.flags: 1 ENABLED, 4 CLOSE_REQUIRED.
  const addForm = (flags: readonly number[]) =>
    h.tx(async (tx) => {
      const form = await tx.run(
        "INSERT INTO ost_form (type, title, created, updated) VALUES ('G', 'Close checks', NOW(), NOW())",
      );
      const fieldIds: number[] = [];
      for (const [i, f] of flags.entries()) {
        const field = await tx.run(
          "INSERT INTO ost_form_field (form_id, flags, type, label, name, sort, created, updated)" +
            " VALUES (?, ?, 'text', ?, ?, ?, NOW(), NOW())",
          [form.insertId, f, `Check ${i}`, `check_${i}`, i + 1],
        );
        fieldIds.push(field.insertId);
      }
      return { formId: form.insertId, fieldIds };
    });
  const addEntry = (
    ticketId: number,
    formId: number,
    answers: readonly (readonly [number, string | null, number | null])[],
    extra: string | null = null,
  ) =>
    h.tx(async (tx) => {
      const entry = await tx.run(
        "INSERT INTO ost_form_entry (form_id, object_id, object_type, sort, extra, created, updated)" +
          " VALUES (?, ?, 'T', 9, ?, NOW(), NOW())",
        [formId, ticketId, extra],
      );
      for (const [fieldId, value, valueId] of answers) {
        await tx.run(
          "INSERT INTO ost_form_entry_values (entry_id, field_id, value, value_id) VALUES (?, ?, ?, ?)",
          [entry.insertId, fieldId, value, valueId],
        );
      }
    });
  const addTopic = (name: string, formId: number, extra: string | null) =>
    h.tx(async (tx) => {
      const topic = await tx.run(
        "INSERT INTO ost_help_topic (topic, flags, created, updated) VALUES (?, 2, NOW(), NOW())",
        [name],
      );
      await tx.run("INSERT INTO ost_help_topic_form (topic_id, form_id, sort, extra) VALUES (?, ?, 2, ?)", [
        topic.insertId,
        formId,
        extra,
      ]);
      return topic.insertId;
    });
  const close = (ticketId: number) =>
    h.tx((tx) => changeStatus(tx, { ticketId, statusId: 3 }, ADMIN, ports("2026-03-09T09:00:00Z")));
  const refused = (ticketId: number) =>
    expectNoWrites(
      () => close(ticketId),
      TicketActionError,
      (e) =>
        expect(e.message).toBe(
          "This ticket is missing data on  one or more required fields  and cannot be closed",
        ),
    );

  it("closes over a field with no answer row (added after the ticket), an empty answer, and a field the help topic disables", async () => {
    const { formId, fieldIds } = await addForm([5, 5, 5]);
    const [added = 0, empty = 0, disabled = 0] = fieldIds;
    // No topic: the ticket's own form entries name the disabled fields.
    const t = await newTicket("close.required@example.com", "Close Required");
    await addEntry(t.ticketId, formId, [
      [empty, "", null],
      [disabled, null, null],
    ]);
    await addEntry(t.ticketId, formId, [], JSON.stringify({ disable: [disabled] }));
    expect(added).toBeGreaterThan(0);
    await close(t.ticketId);
    expect(await ticketRow(t.ticketId)).toMatchObject({ status_id: 3, closed: "2026-03-09 09:00:00" });

    // With a topic, its form rows name them (the entry's own `extra` no longer counts).
    const topicId = await addTopic("Close checks topic", formId, JSON.stringify({ disable: [disabled] }));
    const byTopic = await newTicket("close.topic@example.com", "Close Topic");
    await h.query("UPDATE ost_ticket SET topic_id = ? WHERE ticket_id = ?", [topicId, byTopic.ticketId]);
    await addEntry(byTopic.ticketId, formId, [[disabled, null, null]]);
    await close(byTopic.ticketId);
    expect(await ticketRow(byTopic.ticketId)).toMatchObject({ status_id: 3 });
    const otherTopic = await addTopic("Close checks, nothing disabled", formId, null);
    const entryOnly = await newTicket("close.entry@example.com", "Close Entry");
    await h.query("UPDATE ost_ticket SET topic_id = ? WHERE ticket_id = ?", [otherTopic, entryOnly.ticketId]);
    await addEntry(
      entryOnly.ticketId,
      formId,
      [[disabled, null, null]],
      JSON.stringify({ disable: [disabled] }),
    );
    await refused(entryOnly.ticketId);
  });

  it("refuses while an existing answer is NULL, also for a disabled field or with a value_id (the enabled bit is never checked)", async () => {
    const { formId, fieldIds } = await addForm([4, 5]);
    const [notEnabled = 0, enabled = 0] = fieldIds;
    const off = await newTicket("close.disabled@example.com", "Close Disabled");
    await addEntry(off.ticketId, formId, [[notEnabled, null, null]]);
    await refused(off.ticketId);
    const withId = await newTicket("close.valueid@example.com", "Close Value Id");
    await addEntry(withId.ticketId, formId, [[enabled, null, 7]]);
    await refused(withId.ticketId);
  });
});

describe("department members and access (Dept::isMember, Staff::canAccessDept)", () => {
  const agent = async (deptId: number, username: string) =>
    (
      await h.tx((tx) =>
        tx.run(
          "INSERT INTO ost_staff SET dept_id = ?, role_id = 1, username = ?, firstname = 'Dee', lastname = 'Pee'," +
            " email = ?, signature = '', isactive = 1, permissions = '{}', created = NOW(), updated = NOW()",
          [deptId, username, `${username}@example.com`],
        ),
      )
    ).insertId;
  const department = async (pid: number, managerId: number, name: string, flags: number) => {
    const id = (
      await h.tx((tx) =>
        tx.run(
          "INSERT INTO ost_department SET pid = ?, manager_id = ?, name = ?, flags = ?, ispublic = 1, path = '/'," +
            " created = NOW(), updated = NOW()",
          [pid || null, managerId, name, flags],
        ),
      )
    ).insertId;
    await h.query("UPDATE ost_department SET path = ? WHERE id = ?", [
      pid ? `/${pid}/${id}/` : `/${id}/`,
      id,
    ]);
    return id;
  };
  const inDept = async (email: string, deptId: number) => {
    const t = await newTicket(email, "Dept Member");
    await h.query("UPDATE ost_ticket SET dept_id = ? WHERE ticket_id = ?", [deptId, t.ticketId]);
    return t;
  };
  const at = () => ports("2026-03-10T09:00:00Z");
  const MEMBERS_ONLY = 4 | 1;

  it("counts a department's manager as a member: assignment to a members-only department, and a transfer keeps them", async () => {
    const manager = await agent(3, "managerofdesk");
    const desk = await department(0, manager, "Managed Members Desk", MEMBERS_ONLY);
    const t = await inDept("managed.assign@example.com", desk);
    await h.tx((tx) =>
      assignTicket(tx, { ticketId: t.ticketId, assignee: { staffId: manager } }, ADMIN, at()),
    );
    expect(await ticketRow(t.ticketId)).toMatchObject({ staff_id: manager, dept_id: desk });

    const moved = await newTicket("managed.transfer@example.com", "Managed Transfer");
    await h.query("UPDATE ost_ticket SET staff_id = ? WHERE ticket_id = ?", [manager, moved.ticketId]);
    await h.tx((tx) => transferTicket(tx, { ticketId: moved.ticketId, deptId: desk }, ADMIN, at()));
    expect(await ticketRow(moved.ticketId)).toMatchObject({ staff_id: manager, dept_id: desk });
  });

  it("counts sub-departments for access (reopen auto-assignment) but not for membership (assignment)", async () => {
    const parentAgent = await agent(2, "parentofsub");
    const sub = await department(2, 0, "Sales Members Sub", MEMBERS_ONLY);
    const t = await inDept("sub.reopen@example.com", sub);
    await h.tx((tx) => changeStatus(tx, { ticketId: t.ticketId, statusId: 3 }, ADMIN, at()));
    await h.query("UPDATE ost_ticket SET staff_id = ? WHERE ticket_id = ?", [parentAgent, t.ticketId]);
    await h.tx((tx) => changeStatus(tx, { ticketId: t.ticketId, statusId: 1 }, ADMIN, at()));
    expect(await ticketRow(t.ticketId)).toMatchObject({ status_id: 1, staff_id: parentAgent });

    // A managed department is accessible too.
    const manager = await agent(3, "managerreopen");
    const managed = await department(0, manager, "Managed Reopen Desk", 4);
    const m = await inDept("managed.reopen@example.com", managed);
    await h.tx((tx) => changeStatus(tx, { ticketId: m.ticketId, statusId: 3 }, ADMIN, at()));
    await h.query("UPDATE ost_ticket SET staff_id = ? WHERE ticket_id = ?", [manager, m.ticketId]);
    await h.tx((tx) => changeStatus(tx, { ticketId: m.ticketId, statusId: 1 }, ADMIN, at()));
    expect(await ticketRow(m.ticketId)).toMatchObject({ status_id: 1, staff_id: manager });

    const other = await inDept("sub.assign@example.com", sub);
    await expectNoWrites(
      () =>
        h.tx((tx) =>
          assignTicket(tx, { ticketId: other.ticketId, assignee: { staffId: parentAgent } }, ADMIN, at()),
        ),
      TicketActionError,
      (e) => expect(e.message).toBe("Permission denied"),
    );
  });
});

describe("comment notes of a transfer and a release (Ticket::postNote with a string)", () => {
  it("are text without the BALANCED flag while rich text is off; status and assignment comments stay html (Ticket::logNote)", async () => {
    const t = await newTicket("plain.notes@example.com", "Plain Notes");
    const at = ports("2026-03-11T09:00:00Z");
    await h.setConfig("enable_richtext", "0");
    try {
      await h.tx((tx) =>
        transferTicket(tx, { ticketId: t.ticketId, deptId: 2, comment: "a < b & c" }, ADMIN, at),
      );
      await h.tx((tx) =>
        assignTicket(tx, { ticketId: t.ticketId, assignee: { teamId: 1 }, comment: "team up" }, ADMIN, at),
      );
      await h.tx((tx) => releaseTicket(tx, { ticketId: t.ticketId, comment: "let go" }, ADMIN, at));
      await h.tx((tx) =>
        changeStatus(tx, { ticketId: t.ticketId, statusId: 2, comment: "resolved it" }, ADMIN, at),
      );
    } finally {
      await h.setConfig("enable_richtext", "1");
    }
    const notes = await h.query(
      "SELECT title, body, format, flags FROM ost_thread_entry WHERE thread_id = ? AND type = 'N' ORDER BY id",
      [t.threadId],
    );
    expect(notes).toEqual([
      {
        title: "Ticket transferred from Support to Sales",
        body: "a &lt; b &amp; c",
        format: "text",
        flags: 0,
      },
      { title: "Ticket Assigned to Level I Support", body: "team up", format: "html", flags: 64 },
      { title: "Assignment Released", body: "let go", format: "text", flags: 0 },
      { title: "Status Changed", body: "resolved it", format: "html", flags: 64 },
    ]);
  });
});
