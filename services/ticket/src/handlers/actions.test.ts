import { Code, type ConnectError } from "@connectrpc/connect";
import { rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { MessageFormat, TicketSource, TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertUser, type TicketHarness, ticketHarness } from "../testing/harness.ts";

let h: TicketHarness;
let ownerId: number;

beforeAll(async () => {
  h = await ticketHarness("actions");
  ownerId = await insertUser(h, { name: "Olive Owner", email: "olive@example.com" });
});
afterAll(async () => {
  await h?.close();
});

function violation(error: ConnectError) {
  const v = error.findDetails(ValidationErrorsSchema)[0]?.violations[0];
  return v ? { field: v.field, legacyKey: v.legacyKey, description: v.description } : undefined;
}

async function newTicket(subject = "Action ticket"): Promise<{ id: number; number: string }> {
  const res = await h.client.createTicket(
    { requester: { userId: ownerId }, subject, message: "Something is wrong" },
    { headers: await h.service() },
  );
  return { id: res.ticket?.id ?? 0, number: res.ticket?.number ?? "" };
}

async function eventTypesSince(count: number): Promise<string[]> {
  return (await h.events()).slice(count).map((e) => e.type);
}

describe("PostReply", () => {
  it("posts an agent response, claims the ticket and writes ticket.entry_added", async () => {
    const t = await newTicket();
    const events = (await h.events()).length;
    const res = await h.client.postReply(
      { ticketId: t.id, body: "<p>On it</p>", format: MessageFormat.HTML },
      { headers: await h.agent() },
    );
    expect(res.entry).toMatchObject({
      type: ThreadEntryType.RESPONSE,
      staffId: 1,
      poster: "Admin User",
      body: "<p>On it</p>",
      format: MessageFormat.HTML,
    });
    expect(res.ticket).toMatchObject({ isAnswered: true, assigneeStaff: { id: 1, username: "ostadmin" } });
    expect(await eventTypesSince(events)).toEqual(["ticket.entry_added"]);
    const [event] = (await h.events()).slice(events);
    if (event?.payload.case !== "threadEntryAdded") throw new Error("unexpected payload");
    expect(event.payload.value.entry?.id).toBe(res.entry?.id);
    expect(event.payload.value.notify).toBe(true);
  });

  it("needs the author agent from API keys and services", async () => {
    const t = await newTicket();
    const error = await rejectionOf(
      h.client.postReply({ ticketId: t.id, body: "Hi" }, { headers: await h.service() }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(violation(error)?.field).toBe("staff_id");
    const res = await h.client.postReply(
      { ticketId: t.id, body: "Hi", staffId: 1, notify: false },
      { headers: await h.service() },
    );
    expect(res.entry?.staffId).toBe(1);
  });

  it("refuses an empty body with osTicket's key, and an unknown ticket with NOT_FOUND", async () => {
    const t = await newTicket();
    const empty = await rejectionOf(
      h.client.postReply({ ticketId: t.id, body: "   " }, { headers: await h.agent() }),
    );
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(violation(empty)).toEqual({
      field: "body",
      legacyKey: "response",
      description: "Response content is required",
    });
    const unknown = await rejectionOf(
      h.client.postReply({ ticketId: 999_999, body: "x" }, { headers: await h.agent() }),
    );
    expect(unknown.code).toBe(Code.NotFound);
    const missing = await rejectionOf(
      h.client.postReply({ ticketId: 0, body: "x" }, { headers: await h.agent() }),
    );
    expect(missing.code).toBe(Code.InvalidArgument);
  });

  it("rolls everything back, events included, when the use case fails half-way", async () => {
    const t = await newTicket();
    const before = await h.counts();
    // The response entry is written before the unknown status is found: the whole transaction goes.
    const error = await rejectionOf(
      h.client.postReply(
        { ticketId: t.id, body: "With a bad status", replyStatusId: 4242 },
        { headers: await h.agent() },
      ),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(violation(error)?.field).toBe("reply_status_id");
    expect(await h.counts()).toEqual(before);
  });

  it("closes the ticket with a reply status and reports the status change", async () => {
    const t = await newTicket();
    const events = (await h.events()).length;
    const res = await h.client.postReply(
      { ticketId: t.id, body: "Done", replyStatusId: 3 },
      { headers: await h.agent() },
    );
    expect(res.ticket?.status).toMatchObject({ id: 3, state: TicketState.CLOSED });
    expect(res.ticket?.closedAt).toBeDefined();
    expect(await eventTypesSince(events)).toEqual(["ticket.entry_added", "ticket.status_changed"]);
    const changed = (await h.events()).at(-1);
    if (changed?.payload.case !== "ticketStatusChanged") throw new Error("unexpected payload");
    expect(changed.payload.value).toMatchObject({
      closed: true,
      reopened: false,
      previous: { id: 1 },
      current: { id: 3 },
    });
  });
});

describe("PostMessage", () => {
  it("lets the owner post a message that reopens a closed ticket", async () => {
    const t = await newTicket();
    await h.client.changeStatus({ ticketId: t.id, statusId: 3 }, { headers: await h.agent() });
    const events = (await h.events()).length;
    const res = await h.client.postMessage(
      { ticketId: t.id, body: "Still broken", source: TicketSource.WEB, ipAddress: "198.51.100.7" },
      { headers: await h.endUser(ownerId) },
    );
    expect(res.reopened).toBe(true);
    expect(res.entry).toMatchObject({
      type: ThreadEntryType.MESSAGE,
      userId: ownerId,
      poster: "Olive Owner",
    });
    // Portal callers never see agent-only details.
    expect(res.entry?.ipAddress).toBe("");
    expect(res.ticket?.status?.state).toBe(TicketState.OPEN);
    expect(await eventTypesSince(events)).toEqual(["ticket.entry_added", "ticket.status_changed"]);
    const changed = (await h.events()).at(-1);
    if (changed?.payload.case !== "ticketStatusChanged") throw new Error("unexpected payload");
    expect(changed.payload.value.reopened).toBe(true);
  });

  it("hides other people's tickets from end users", async () => {
    const t = await newTicket();
    const stranger = await insertUser(h, { name: "Stan Stranger", email: "stan@example.com" });
    const error = await rejectionOf(
      h.client.postMessage({ ticketId: t.id, body: "me too" }, { headers: await h.endUser(stranger) }),
    );
    expect(error.code).toBe(Code.NotFound);
  });

  it("posts for another user on behalf of a service, adding them as collaborator", async () => {
    const t = await newTicket();
    const helper = await insertUser(h, { name: "Helga Helper", email: "helga@example.com" });
    const res = await h.client.postMessage(
      { ticketId: t.id, body: "I see it too", userId: helper },
      { headers: await h.service() },
    );
    expect(res.entry?.userId).toBe(helper);
    expect(res.ticket?.collaborators.map((c) => c.user?.id)).toEqual([helper]);
    const unknown = await rejectionOf(
      h.client.postMessage({ ticketId: t.id, body: "x", userId: 777_777 }, { headers: await h.service() }),
    );
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(violation(unknown)?.field).toBe("user_id");
  });
});

describe("PostNote", () => {
  it("posts internal notes by the agent or as SYSTEM", async () => {
    const t = await newTicket();
    const byAgent = await h.client.postNote(
      { ticketId: t.id, title: "Internal", body: "secret" },
      { headers: await h.agent() },
    );
    expect(byAgent.entry).toMatchObject({ type: ThreadEntryType.NOTE, staffId: 1, title: "Internal" });
    const bySystem = await h.client.postNote(
      { ticketId: t.id, title: "Bot", body: "automated" },
      { headers: await h.service() },
    );
    expect(bySystem.entry).toMatchObject({ type: ThreadEntryType.NOTE, staffId: 0, poster: "SYSTEM" });
    const empty = await rejectionOf(
      h.client.postNote({ ticketId: t.id, title: "x", body: "" }, { headers: await h.agent() }),
    );
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(violation(empty)).toMatchObject({ field: "body", legacyKey: "note" });
  });
});

describe("ChangeStatus", () => {
  it("closes, reopens and deletes, with osTicket's side effects and events", async () => {
    const t = await newTicket("Lifecycle");
    const events = (await h.events()).length;
    const closed = await h.client.changeStatus(
      { ticketId: t.id, statusId: 2, comment: "resolved by phone" },
      { headers: await h.agent() },
    );
    expect(closed.ticket?.status).toMatchObject({ id: 2, name: "Resolved", state: TicketState.CLOSED });
    expect(closed.noteEntryId).toBeGreaterThan(0);
    const reopened = await h.client.changeStatus(
      { ticketId: t.id, statusId: 1 },
      { headers: await h.agent() },
    );
    expect(reopened.ticket?.reopenedAt).toBeDefined();
    expect(reopened.ticket?.closedAt).toBeUndefined();
    const deleted = await h.client.changeStatus(
      { ticketId: t.id, statusId: 5 },
      { headers: await h.agent() },
    );
    expect(deleted.deleted).toBe(true);
    expect(deleted.ticket).toBeUndefined();
    expect(await h.query("SELECT ticket_id FROM ost_ticket WHERE ticket_id = ?", [t.id])).toEqual([]);
    expect(await eventTypesSince(events)).toEqual([
      "ticket.status_changed",
      "ticket.status_changed",
      "ticket.deleted",
    ]);
    const all = (await h.events()).slice(events);
    if (all[0]?.payload.case !== "ticketStatusChanged") throw new Error("unexpected payload");
    expect(all[0].payload.value).toMatchObject({ closed: true, noteEntryId: closed.noteEntryId });
    if (all[2]?.payload.case !== "ticketDeleted") throw new Error("unexpected payload");
    expect(all[2].payload.value.subject).toBe("Lifecycle");
    const gone = await rejectionOf(
      h.client.getTicket({ lookup: { case: "ticketId", value: t.id } }, { headers: await h.agent() }),
    );
    expect(gone.code).toBe(Code.NotFound);
  });

  it("refuses transitions osTicket forbids and unknown statuses", async () => {
    const t = await newTicket();
    const before = await h.counts();
    const archived = await rejectionOf(
      h.client.changeStatus({ ticketId: t.id, statusId: 4 }, { headers: await h.agent() }),
    );
    expect(archived.code).toBe(Code.FailedPrecondition);
    expect(violation(archived)?.legacyKey).toBe("err");
    const unknown = await rejectionOf(
      h.client.changeStatus({ ticketId: t.id, statusId: 99 }, { headers: await h.agent() }),
    );
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(violation(unknown)?.field).toBe("status_id");
    const none = await rejectionOf(
      h.client.changeStatus({ ticketId: t.id, statusId: 0 }, { headers: await h.agent() }),
    );
    expect(none.code).toBe(Code.InvalidArgument);
    expect(await h.counts()).toEqual(before);
  });
});

describe("a status change carried by a reply or a note", () => {
  it("takes the permission a status change takes: no ticket.close, no closing through a reply or note", async () => {
    const role = await h.exec(
      "INSERT INTO ost_role SET flags = 1, name = 'Reply only', permissions = '{\"ticket.reply\":1}'," +
        " notes = '', created = NOW(), updated = NOW()",
    );
    const clerk = await h.exec(
      "INSERT INTO ost_staff SET dept_id = 1, role_id = ?, username = 'replyclerk', firstname = 'Reply', lastname = 'Clerk'," +
        " email = 'reply.clerk@example.com', signature = '', isactive = 1, permissions = '{}', created = NOW(), updated = NOW()",
      [role.insertId],
    );
    const headers = await h.agent(clerk.insertId);
    const t = await newTicket("Reply without closing");
    const before = await h.counts();
    const reply = await rejectionOf(
      h.client.postReply({ ticketId: t.id, body: "Done here", replyStatusId: 3 }, { headers }),
    );
    expect(reply.code).toBe(Code.PermissionDenied);
    const note = await rejectionOf(
      h.client.postNote({ ticketId: t.id, title: "Closing", body: "Done", statusId: 3 }, { headers }),
    );
    expect(note.code).toBe(Code.PermissionDenied);
    expect(await h.counts()).toEqual(before);
    // The same agent replies and notes without a status change, and with one to an open status.
    await h.client.postReply({ ticketId: t.id, body: "Looking", replyStatusId: 1 }, { headers });
    await h.client.postNote({ ticketId: t.id, title: "n", body: "note" }, { headers });
    const [row] = await h.query("SELECT status_id FROM ost_ticket WHERE ticket_id = ?", [t.id]);
    expect(row?.status_id).toBe(1);
    // An agent with ticket.close closes through a reply.
    await h.client.postReply(
      { ticketId: t.id, body: "Closing", replyStatusId: 3 },
      { headers: await h.agent() },
    );
    const [closed] = await h.query("SELECT status_id FROM ost_ticket WHERE ticket_id = ?", [t.id]);
    expect(closed?.status_id).toBe(3);
  });

  it("reopening through ChangeStatus takes ticket.close or ticket.create, as the staff panel's status menu does", async () => {
    const agentWith = async (username: string, permissions: string) => {
      const role = await h.exec(
        "INSERT INTO ost_role SET flags = 1, name = ?, permissions = ?, notes = '', created = NOW(), updated = NOW()",
        [`Role ${username}`, permissions],
      );
      const staff = await h.exec(
        "INSERT INTO ost_staff SET dept_id = 1, role_id = ?, username = ?, firstname = 'Status', lastname = 'Agent'," +
          " email = ?, signature = '', isactive = 1, permissions = '{}', created = NOW(), updated = NOW()",
        [role.insertId, username, `${username}@example.com`],
      );
      return h.agent(staff.insertId);
    };
    const replier = await agentWith("statusreplier", '{"ticket.reply":1}');
    const creator = await agentWith("statuscreator", '{"ticket.create":1}');
    const t = await newTicket("Reopen rights");
    await h.client.changeStatus({ ticketId: t.id, statusId: 3 }, { headers: await h.agent() });
    const refused = await rejectionOf(
      h.client.changeStatus({ ticketId: t.id, statusId: 1 }, { headers: replier }),
    );
    expect(refused.code).toBe(Code.PermissionDenied);
    const [still] = await h.query("SELECT status_id FROM ost_ticket WHERE ticket_id = ?", [t.id]);
    expect(still?.status_id).toBe(3);
    await h.client.changeStatus({ ticketId: t.id, statusId: 1 }, { headers: creator });
    const [reopened] = await h.query("SELECT status_id FROM ost_ticket WHERE ticket_id = ?", [t.id]);
    expect(reopened?.status_id).toBe(1);
  });
});

describe("AssignTicket", () => {
  it("assigns to an agent, to a team, and releases", async () => {
    const t = await newTicket();
    const team = await h.exec(
      "INSERT INTO ost_team SET lead_id = 0, flags = 1, name = 'Level 2', created = NOW(), updated = NOW()",
    );
    const events = (await h.events()).length;
    const claimed = await h.client.assignTicket(
      { ticketId: t.id, assignee: { case: "staffId", value: 1 }, comment: "mine" },
      { headers: await h.agent() },
    );
    expect(claimed.ticket?.assigneeStaff?.id).toBe(1);
    expect(claimed.noteEntryId).toBeGreaterThan(0);
    const teamed = await h.client.assignTicket(
      { ticketId: t.id, assignee: { case: "teamId", value: team.insertId } },
      { headers: await h.agent() },
    );
    expect(teamed.ticket?.assigneeTeam).toMatchObject({ id: team.insertId, name: "Level 2" });
    const released = await h.client.assignTicket(
      { ticketId: t.id, assignee: { case: "release", value: true } },
      { headers: await h.agent() },
    );
    expect(released.ticket?.assigneeStaff).toBeUndefined();
    expect(released.ticket?.assigneeTeam).toBeUndefined();
    const all = (await h.events()).slice(events);
    expect(all.map((e) => e.type)).toEqual(["ticket.assigned", "ticket.assigned", "ticket.assigned"]);
    if (all[0]?.payload.case !== "ticketAssigned" || all[2]?.payload.case !== "ticketAssigned")
      throw new Error("unexpected payload");
    expect(all[0].payload.value).toMatchObject({
      claim: true,
      staff: { id: 1 },
      noteEntryId: claimed.noteEntryId,
    });
    expect(all[2].payload.value).toMatchObject({
      released: true,
      previousStaff: { id: 1 },
      previousTeam: { id: team.insertId },
    });
  });

  it("refuses missing or impossible assignments", async () => {
    const t = await newTicket();
    const none = await rejectionOf(h.client.assignTicket({ ticketId: t.id }, { headers: await h.agent() }));
    expect(none.code).toBe(Code.InvalidArgument);
    expect(violation(none)?.field).toBe("assignee");
    const noRelease = await rejectionOf(
      h.client.assignTicket(
        { ticketId: t.id, assignee: { case: "release", value: false } },
        { headers: await h.agent() },
      ),
    );
    expect(noRelease.code).toBe(Code.InvalidArgument);
    const notAssigned = await rejectionOf(
      h.client.assignTicket(
        { ticketId: t.id, assignee: { case: "release", value: true } },
        { headers: await h.agent() },
      ),
    );
    expect(notAssigned.code).toBe(Code.FailedPrecondition);
    const unknownAgent = await rejectionOf(
      h.client.assignTicket(
        { ticketId: t.id, assignee: { case: "staffId", value: 4040 } },
        { headers: await h.agent() },
      ),
    );
    expect(unknownAgent.code).toBe(Code.InvalidArgument);
    expect(violation(unknownAgent)?.field).toBe("staff_id");
    const unknownTeam = await rejectionOf(
      h.client.assignTicket(
        { ticketId: t.id, assignee: { case: "teamId", value: 4040 } },
        { headers: await h.agent() },
      ),
    );
    expect(violation(unknownTeam)?.field).toBe("team_id");
  });
});

describe("TransferTicket", () => {
  it("moves a ticket to another department with a note and an event", async () => {
    const t = await newTicket();
    const events = (await h.events()).length;
    const res = await h.client.transferTicket(
      { ticketId: t.id, deptId: 2, comment: "sales question" },
      { headers: await h.agent() },
    );
    expect(res.ticket?.department).toMatchObject({ id: 2, name: "Sales" });
    expect(res.noteEntryId).toBeGreaterThan(0);
    const [event] = (await h.events()).slice(events);
    if (event?.payload.case !== "ticketTransferred") throw new Error("unexpected payload");
    expect(event.payload.value).toMatchObject({
      previous: { id: 1, name: "Support" },
      current: { id: 2, name: "Sales" },
      noteEntryId: res.noteEntryId,
    });
    const same = await rejectionOf(
      h.client.transferTicket({ ticketId: t.id, deptId: 2 }, { headers: await h.agent() }),
    );
    expect(same.code).toBe(Code.FailedPrecondition);
    expect(violation(same)).toMatchObject({ field: "dept_id", legacyKey: "dept" });
    const unknown = await rejectionOf(
      h.client.transferTicket({ ticketId: t.id, deptId: 99 }, { headers: await h.agent() }),
    );
    expect(unknown.code).toBe(Code.FailedPrecondition);
    const none = await rejectionOf(
      h.client.transferTicket({ ticketId: t.id, deptId: 0 }, { headers: await h.agent() }),
    );
    expect(none.code).toBe(Code.InvalidArgument);
  });
});

describe("idempotency of actions", () => {
  it("does a retried reply once", async () => {
    const t = await newTicket();
    const headers = await h.agent();
    const first = await h.client.postReply(
      { idempotencyKey: "reply-1", ticketId: t.id, body: "once" },
      { headers },
    );
    const counts = await h.counts();
    const again = await h.client.postReply(
      { idempotencyKey: "reply-1", ticketId: t.id, body: "once" },
      { headers },
    );
    expect(again).toEqual(first);
    expect(await h.counts()).toEqual(counts);
    const tooLong = await rejectionOf(
      h.client.postReply({ idempotencyKey: "k".repeat(129), ticketId: t.id, body: "x" }, { headers }),
    );
    expect(tooLong.code).toBe(Code.InvalidArgument);
    expect(violation(tooLong)?.field).toBe("idempotency_key");
  });
});

describe("the client's address on the entries actions write", () => {
  const ipOf = async (entryId: number | undefined) =>
    (await h.query("SELECT ip_address FROM ost_thread_entry WHERE id = ?", [entryId ?? 0]))[0]?.ip_address;
  const forwarded = (headers: Headers, address: string) => {
    headers.set("x-forwarded-for", address);
    return headers;
  };

  it("records the address the gateway forwarded on replies, notes, messages and comments, as osTicket's REMOTE_ADDR", async () => {
    const t = await newTicket();
    const agent = forwarded(await h.agent(), "198.51.100.7");
    const reply = await h.client.postReply(
      { ticketId: t.id, body: "On it", notify: false },
      { headers: agent },
    );
    const note = await h.client.postNote({ ticketId: t.id, title: "N", body: "Noted" }, { headers: agent });
    const owner = forwarded(await h.endUser(ownerId), "203.0.113.9");
    const message = await h.client.postMessage({ ticketId: t.id, body: "Thanks" }, { headers: owner });
    const named = await h.client.postMessage(
      { ticketId: t.id, body: "From here", ipAddress: "192.0.2.44" },
      { headers: owner },
    );
    const status = await h.client.changeStatus(
      { ticketId: t.id, statusId: 2, comment: "resolved" },
      { headers: agent },
    );
    const assigned = await h.client.assignTicket(
      { ticketId: t.id, assignee: { case: "staffId", value: 1 }, comment: "mine" },
      { headers: agent },
    );
    const released = await h.client.assignTicket(
      { ticketId: t.id, assignee: { case: "release", value: true }, comment: "not mine" },
      { headers: agent },
    );
    const transferred = await h.client.transferTicket(
      { ticketId: t.id, deptId: 2, comment: "sales" },
      { headers: agent },
    );
    expect({
      reply: await ipOf(reply.entry?.id),
      note: await ipOf(note.entry?.id),
      message: await ipOf(message.entry?.id),
      named: await ipOf(named.entry?.id),
      status: await ipOf(status.noteEntryId),
      assigned: await ipOf(assigned.noteEntryId),
      released: await ipOf(released.noteEntryId),
      transferred: await ipOf(transferred.noteEntryId),
    }).toEqual({
      reply: "198.51.100.7",
      note: "198.51.100.7",
      message: "203.0.113.9",
      named: "192.0.2.44",
      status: "198.51.100.7",
      assigned: "198.51.100.7",
      released: "198.51.100.7",
      transferred: "198.51.100.7",
    });
  });

  it("records none without a forwarded address (a caller inside the mesh)", async () => {
    const t = await newTicket();
    const agent = await h.agent();
    const reply = await h.client.postReply(
      { ticketId: t.id, body: "On it", notify: false },
      { headers: agent },
    );
    const note = await h.client.postNote({ ticketId: t.id, title: "N", body: "Noted" }, { headers: agent });
    const message = await h.client.postMessage(
      { ticketId: t.id, body: "Thanks" },
      { headers: await h.endUser(ownerId) },
    );
    const status = await h.client.changeStatus(
      { ticketId: t.id, statusId: 2, comment: "resolved" },
      { headers: agent },
    );
    const transferred = await h.client.transferTicket(
      { ticketId: t.id, deptId: 2, comment: "sales" },
      { headers: forwarded(await h.agent(), "not an address") },
    );
    expect(
      await Promise.all(
        [reply.entry?.id, note.entry?.id, message.entry?.id, status.noteEntryId, transferred.noteEntryId].map(
          ipOf,
        ),
      ),
    ).toEqual(["", "", "", "", ""]);
  });
});

describe("inline images of replies, notes and messages", () => {
  it("points the body's cid: references at the stored files' keys, as osTicket's panel and portal resolve them", async () => {
    const t = await newTicket();
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
      "base64",
    );
    const inline = (name: string, contentId: string) => ({
      source: { case: "file" as const, value: { name, type: "image/png", data: png } },
      inline: true,
      contentId,
    });
    const stored = async (entryId: number | undefined) => {
      const [row] = await h.query(
        "SELECT e.body, f.id, f.`key`, a.inline FROM ost_thread_entry e" +
          " JOIN ost_attachment a ON a.type = 'H' AND a.object_id = e.id JOIN ost_file f ON f.id = a.file_id" +
          " WHERE e.id = ?",
        [entryId ?? 0],
      );
      return { body: String(row?.body), id: Number(row?.id), key: String(row?.key), inline: row?.inline };
    };
    const reply = await h.client.postReply(
      {
        ticketId: t.id,
        body: '<p>Look <img src="cid:reply.1@example.com" alt="r"> and <img src=\'cid:other\' alt="o"></p>',
        format: MessageFormat.HTML,
        notify: false,
        attachments: [inline("reply.png", "reply.1@example.com")],
      },
      { headers: await h.agent() },
    );
    const replied = await stored(reply.entry?.id);
    expect(replied.inline).toBe(1);
    expect(replied.body).toBe(
      `<p>Look <img src="cid:${replied.key}" alt="r" /> and <img src="cid:other" alt="o" /></p>`,
    );

    const note = await h.client.postNote(
      {
        ticketId: t.id,
        title: "Screenshot",
        body: '<p><img src="cid:note-shot" alt="n"></p>',
        format: MessageFormat.HTML,
        attachments: [inline("note.png", "note-shot")],
      },
      { headers: await h.agent() },
    );
    const noted = await stored(note.entry?.id);
    expect(noted.body).toBe(`<p><img src="cid:${noted.key}" alt="n" /></p>`);

    const message = await h.client.postMessage(
      {
        ticketId: t.id,
        body: '<p>Mine: <img src="cid:msg@portal" alt="m"></p>',
        format: MessageFormat.HTML,
        attachments: [inline("message.png", "msg@portal")],
      },
      { headers: await h.endUser(ownerId) },
    );
    const messaged = await stored(message.entry?.id);
    expect(messaged.body).toBe(`<p>Mine: <img src="cid:${messaged.key}" alt="m" /></p>`);

    // A stored file named by id gets its key too.
    const again = await h.client.postNote(
      {
        ticketId: t.id,
        title: "Again",
        body: '<p><img src="cid:again" alt="a"></p>',
        format: MessageFormat.HTML,
        attachments: [{ source: { case: "fileId", value: replied.id }, inline: true, contentId: "again" }],
      },
      { headers: await h.service() },
    );
    expect((await stored(again.entry?.id)).body).toBe(`<p><img src="cid:${replied.key}" alt="a" /></p>`);
  });
});

describe("the staff panel's ticket locks", () => {
  const LOCKED = "Action Denied. Ticket is locked by someone else!";
  /** A lock as the panel's acquireLock writes it: a row of ost_lock, named by the ticket's lock_id. */
  async function lock(ticketId: number, staffId: number, minutes: number): Promise<void> {
    const row = await h.exec(
      "INSERT INTO ost_lock SET staff_id = ?, expire = NOW() + INTERVAL ? MINUTE, code = 'abcdefghij', created = NOW()",
      [staffId, minutes],
    );
    await h.exec("UPDATE ost_ticket SET lock_id = ? WHERE ticket_id = ?", [row.insertId, ticketId]);
  }

  it("refuses an agent's reply and note while another agent holds a live lock, writing nothing", async () => {
    const t = await newTicket();
    await lock(t.id, 2, 3);
    const headers = await h.agent();
    const counts = await h.counts();
    const events = (await h.events()).length;
    const reply = await rejectionOf(h.client.postReply({ ticketId: t.id, body: "Mine now" }, { headers }));
    const note = await rejectionOf(
      h.client.postNote({ ticketId: t.id, title: "N", body: "Also mine", statusId: 3 }, { headers }),
    );
    for (const error of [reply, note]) {
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(violation(error)).toMatchObject({ legacyKey: "err", description: LOCKED });
    }
    expect(await h.counts()).toEqual(counts);
    expect((await h.events()).length).toBe(events);
  });

  it("lets the lock's own agent through, and anyone once it expired", async () => {
    const own = await newTicket();
    await lock(own.id, 1, 3);
    const headers = await h.agent();
    expect((await h.client.postReply({ ticketId: own.id, body: "Mine" }, { headers })).entry?.staffId).toBe(
      1,
    );
    expect(
      (await h.client.postNote({ ticketId: own.id, title: "N", body: "Mine" }, { headers })).entry?.staffId,
    ).toBe(1);
    const expired = await newTicket();
    await lock(expired.id, 2, -1);
    expect(
      (await h.client.postReply({ ticketId: expired.id, body: "Free" }, { headers })).entry?.staffId,
    ).toBe(1);
    expect(
      (await h.client.postNote({ ticketId: expired.id, title: "N", body: "Free" }, { headers })).entry,
    ).toBeTruthy();
  });

  it("ignores locks when the helpdesk disables them (lock mode 0 or no lock time)", async () => {
    const t = await newTicket();
    await lock(t.id, 2, 3);
    const headers = await h.agent();
    try {
      await h.setConfig("ticket_lock", "0");
      expect((await h.client.postReply({ ticketId: t.id, body: "Off" }, { headers })).entry).toBeTruthy();
      await h.setConfig("ticket_lock", "2");
      await h.setConfig("autolock_minutes", "0");
      expect(
        (await h.client.postNote({ ticketId: t.id, title: "N", body: "Off" }, { headers })).entry,
      ).toBeTruthy();
      await h.setConfig("autolock_minutes", "3");
      const error = await rejectionOf(
        h.client.postNote({ ticketId: t.id, title: "N", body: "On" }, { headers }),
      );
      expect(violation(error)?.description).toBe(LOCKED);
    } finally {
      await h.setConfig("ticket_lock", "2");
      await h.setConfig("autolock_minutes", "3");
    }
  });

  it("does not hold API keys, services or the actions the panel does not lock for", async () => {
    const t = await newTicket();
    await lock(t.id, 2, 3);
    const service = await h.service();
    expect(
      (await h.client.postReply({ ticketId: t.id, body: "Via API", staffId: 1 }, { headers: service })).entry,
    ).toBeTruthy();
    expect(
      (
        await h.client.postNote(
          { ticketId: t.id, title: "N", body: "Via API", staffId: 1 },
          { headers: service },
        )
      ).entry,
    ).toBeTruthy();
    const agent = await h.agent();
    const status = await h.client.changeStatus(
      { ticketId: t.id, statusId: 2, comment: "done" },
      { headers: agent },
    );
    expect(status.noteEntryId).toBeGreaterThan(0);
    const transferred = await h.client.transferTicket({ ticketId: t.id, deptId: 2 }, { headers: agent });
    expect(transferred.ticket?.department?.id).toBe(2);
  });
});
