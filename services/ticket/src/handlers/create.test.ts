import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  DenialReason,
  DeniedSchema,
  ValidationErrorsSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import {
  EventOrigin,
  MessageFormat,
  TicketSource,
  TicketState,
} from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { TicketNotice } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { CreateTicketRequestSchema } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertUser, type TicketHarness, ticketHarness } from "../testing/harness.ts";

let h: TicketHarness;

beforeAll(async () => {
  h = await ticketHarness("create");
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

function violations(error: ConnectError) {
  return error.findDetails(ValidationErrorsSchema)[0]?.violations.map((v) => ({
    field: v.field,
    legacyKey: v.legacyKey,
    description: v.description,
  }));
}

/** Runs `work` while osTicket's admin agent (staff 1) lacks user.create, restoring it afterwards. */
async function withoutUserCreate(work: () => Promise<void>): Promise<void> {
  const [staff] = await h.query("SELECT permissions FROM ost_staff WHERE staff_id = 1");
  const permissions = String(staff?.permissions ?? "");
  await h.exec("UPDATE ost_staff SET permissions = ? WHERE staff_id = 1", [
    permissions.replace('"user.create":1', '"user.create":0'),
  ]);
  try {
    await work();
  } finally {
    await h.exec("UPDATE ost_staff SET permissions = ? WHERE staff_id = 1", [permissions]);
  }
}

/** `before` with the one ost_syslog row osTicket's Ticket::create writes when it refuses a ticket. */
function withRefusalLogged(before: Map<string, number>): Map<string, number> {
  return new Map([...before, ["ost_syslog", (before.get("ost_syslog") ?? 0) + 1]]);
}

/** The newest ost_syslog row, as Ticket::create's refusal warning would be. */
async function lastLogRow(): Promise<unknown> {
  const [row] = await h.query("SELECT log_type, title, log FROM ost_syslog ORDER BY log_id DESC LIMIT 1");
  return row;
}

describe("CreateTicket", () => {
  it("creates a ticket for a new requester and returns it as GetTicket reads it", async () => {
    const headers = await h.service();
    const res = await h.client.createTicket(
      {
        requester: { email: "ada@example.com", name: "Lovelace, Ada", phone: "318-555-8634 x123" },
        subject: "Printer on fire",
        message: "<p>It <b>burns</b></p><script>x()</script>",
        messageFormat: MessageFormat.HTML,
        ipAddress: "203.0.113.9",
      },
      { headers },
    );
    const ticket = res.ticket;
    expect(ticket).toBeDefined();
    expect(ticket?.number).toMatch(/^\d{6}$/);
    expect(ticket).toMatchObject({
      subject: "Printer on fire",
      source: TicketSource.API,
      ipAddress: "203.0.113.9",
      isAnswered: false,
      isOverdue: false,
      status: { id: 1, name: "Open", state: TicketState.OPEN },
      department: { id: 1, name: "Support" },
      priority: { id: 2, name: "Normal", urgency: 3 },
      sla: { id: 1, name: "Default SLA" },
      requester: { name: "Ada Lovelace", email: "ada@example.com" },
    });
    expect(ticket?.threadId).toBeGreaterThan(0);
    expect(ticket?.estDueDate).toBeDefined();
    expect(ticket?.createdAt).toBeDefined();
    expect(res.messageEntryId).toBeGreaterThan(0);

    const got = await h.client.getTicket(
      { lookup: { case: "number", value: ticket?.number ?? "" } },
      { headers },
    );
    expect(got.ticket).toEqual(ticket);

    const [entry] = await h.query(
      "SELECT type, body, format, flags, poster, source FROM ost_thread_entry WHERE id = ?",
      [res.messageEntryId],
    );
    expect(entry).toEqual({
      type: "M",
      body: "<p>It <b>burns</b></p>",
      format: "html",
      flags: 65,
      poster: "Ada Lovelace",
      source: "API",
    });
  });

  it("writes its event in the outbox of the same transaction, with the actor and the ticket", async () => {
    const before = (await h.events()).length;
    const res = await h.client.createTicket(
      {
        requester: { email: "events@example.com", name: "Eve Events" },
        subject: "Event check",
        message: "hello",
      },
      { headers: await h.service() },
    );
    const events = (await h.events()).slice(before);
    expect(events.map((e) => e.type)).toEqual(["ticket.created"]);
    const [event] = events;
    expect(event?.id).not.toBe("");
    expect(event?.origin).toBe(EventOrigin.OSTMESH);
    // The database's clock when the change began (read with the config), with milliseconds.
    const occurred = Number(event?.occurredAt?.seconds ?? 0) * 1000 + (event?.occurredAt?.nanos ?? 0) / 1e6;
    expect(Math.abs(occurred - Date.now())).toBeLessThan(60_000);
    expect(event?.actor?.kind).toBe(PrincipalKind.SERVICE);
    expect(event?.ticket?.ticketId).toBe(res.ticket?.id);
    expect(event?.payload.case).toBe("ticketCreated");
    if (event?.payload.case !== "ticketCreated") throw new Error("unexpected payload");
    expect(event.payload.value.ticket?.number).toBe(res.ticket?.number);
    expect(event.payload.value.message?.id).toBe(res.messageEntryId);
    expect(event.payload.value.newUser).toBe(true);
    expect(event.payload.value.alert).toBe(true);
    const [row] = await h.query("SELECT subject, aggregate_id FROM ostmesh_outbox ORDER BY id DESC LIMIT 1");
    expect(row).toEqual({
      subject: `${h.stream.subjectPrefix}.ticket.created`,
      aggregate_id: String(res.ticket?.id),
    });
  });

  it("posts the canned response a request names (cannedResponseId), and refuses one that is not enabled", async () => {
    const before = (await h.events()).length;
    const res = await h.client.createTicket(
      {
        requester: { email: "canned.request@example.com", name: "Rita Request" },
        subject: "Canned by request",
        message: "hello",
        cannedResponseId: 1,
      },
      { headers: await h.service() },
    );
    const [reply] = await h.query(
      "SELECT id, pid, poster, staff_id FROM ost_thread_entry WHERE thread_id = ? AND type = 'R'",
      [res.ticket?.threadId ?? 0],
    );
    expect(reply).toMatchObject({ pid: res.messageEntryId, poster: "SYSTEM (Canned Reply)", staff_id: 0 });
    const [created] = (await h.events()).slice(before);
    if (created?.payload.case !== "ticketCreated") throw new Error("unexpected payload");
    expect(created.payload.value).toMatchObject({
      autorespond: false,
      cannedReplyEntryId: Number(reply?.id),
    });

    await h.exec("UPDATE ost_canned_response SET isenabled = 0 WHERE canned_id = 2");
    try {
      const counts = await h.counts();
      const disabled = await failure(
        h.client.createTicket(
          {
            requester: { email: "canned.request@example.com", name: "Rita Request" },
            subject: "Canned by request",
            message: "hello",
            cannedResponseId: 2,
          },
          { headers: await h.service() },
        ),
      );
      expect(disabled.code).toBe(Code.InvalidArgument);
      expect(violations(disabled)).toEqual([
        {
          field: "canned_response_id",
          legacyKey: "cannedResponseId",
          description: "No enabled canned response has id 2",
        },
      ]);
      expect(await h.counts()).toEqual(counts);
    } finally {
      await h.exec("UPDATE ost_canned_response SET isenabled = 1 WHERE canned_id = 2");
    }

    const owner = await insertUser(h, { name: "Portal Pat", email: "portal.pat@example.com" });
    const endUser = await failure(
      h.client.createTicket(
        { subject: "Canned from the portal", message: "hello", cannedResponseId: 1 },
        { headers: await h.endUser(owner) },
      ),
    );
    expect(endUser.code).toBe(Code.InvalidArgument);
    expect(violations(endUser)?.map((v) => v.field)).toEqual(["canned_response_id"]);
  });

  it("carries a filter's canned reply and Send an Email actions on its events", async () => {
    await h.exec(
      "INSERT INTO ost_filter (id, execorder, isactive, match_all_rules, stop_onmatch, target, email_id, name, notes, created, updated)" +
        " VALUES (900, 1, 1, 0, 0, 'Any', 0, 'canned events', '', NOW(), NOW())",
    );
    await h.exec(
      "INSERT INTO ost_filter_rule (filter_id, what, how, val, isactive, notes, created, updated)" +
        " VALUES (900, 'email', 'equal', 'canned.events@example.com', 1, '', NOW(), NOW())",
    );
    await h.exec(
      "INSERT INTO ost_filter_action (filter_id, sort, type, configuration, updated) VALUES" +
        ` (900, 1, 'canned', '{"canned_id":1}', NOW()),` +
        ` (900, 2, 'email', '{"recipients":"%{user}","subject":"S %{ticket.number}","message":"M","from":"1"}', NOW())`,
    );
    try {
      const before = (await h.events()).length;
      const res = await h.client.createTicket(
        {
          requester: { email: "canned.events@example.com", name: "Cora Canned" },
          subject: "Canned",
          message: "hello",
        },
        { headers: await h.service() },
      );
      const events = (await h.events()).slice(before);
      expect(events.map((e) => e.type)).toEqual(["ticket.created", "ticket.entry_added"]);
      const [created, added] = events;
      if (created?.payload.case !== "ticketCreated" || added?.payload.case !== "threadEntryAdded")
        throw new Error("unexpected payloads");
      const [reply] = await h.query("SELECT id FROM ost_thread_entry WHERE thread_id = ? AND type = 'R'", [
        res.ticket?.threadId ?? 0,
      ]);
      expect(created.payload.value).toMatchObject({
        autorespond: false,
        cannedReplyEntryId: Number(reply?.id),
        cannedReplyAutorespond: true,
        filterEmails: [
          {
            filterId: 900,
            filterName: "canned events",
            recipients: '"Cora Canned" <canned.events@example.com>',
            subject: "S %{ticket.number}",
            message: "M",
            fromEmailId: 1,
          },
        ],
      });
      expect(added.payload.value.notify).toBe(false);
      expect(added.payload.value.entry).toMatchObject({
        id: Number(reply?.id),
        pid: res.messageEntryId,
        poster: "SYSTEM (Canned Reply)",
      });
    } finally {
      await h.exec("DELETE FROM ost_filter_action WHERE filter_id = 900");
      await h.exec("DELETE FROM ost_filter_rule WHERE filter_id = 900");
      await h.exec("DELETE FROM ost_filter WHERE id = 900");
    }
  });

  it("reports osTicket's validation errors in its order and writes nothing", async () => {
    const before = await h.counts();
    const error = await failure(
      h.client.createTicket(
        { requester: { email: "not-an-email" }, legacy: { source: "API" } },
        { headers: await h.service() },
      ),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(violations(error)).toEqual([
      { field: "requester", legacyKey: "user", description: "Incomplete client information" },
      { field: "subject", legacyKey: "20", description: "Issue Summary is a required field" },
      { field: "message", legacyKey: "21", description: "Issue Details is a required field" },
    ]);
    expect(await h.counts()).toEqual(before);
  });

  it("stores a legacy emailId as MySQL makes a number of it, and refuses a non-numeric one for the Email origin", async () => {
    const headers = await h.service();
    const emailIds = async (sent: string, source = "API") => {
      const res = await h.client.createTicket(
        {
          requester: { email: `mailbox.${sent.length}.${source}@example.com`, name: "Mailbox" },
          subject: "Legacy emailId",
          message: "hello",
          legacy: { source, emailId: sent },
        },
        { headers },
      );
      const rows = await h.query("SELECT email_id, source FROM ost_ticket WHERE ticket_id = ?", [
        res.ticket?.id,
      ]);
      return rows[0];
    };
    // osTicket: `$ticket->email_id = $vars['emailId']`, "false" and "abc…" stored as 0, "99.6" as 100.
    expect(await emailIds("false")).toEqual({ email_id: 0, source: "API" });
    expect(await emailIds("abcdefgh")).toEqual({ email_id: 0, source: "API" });
    expect(await emailIds("99.6")).toEqual({ email_id: 100, source: "API" });
    // What the unsigned INT column cannot hold is clamped, as MySQL stores it for osTicket.
    expect(await emailIds("1e309")).toEqual({ email_id: 4294967295, source: "API" });
    expect(await emailIds("99999999999")).toEqual({ email_id: 4294967295, source: "API" });
    expect(await emailIds("-5")).toEqual({ email_id: 0, source: "API" });
    const before = await h.counts();
    const error = await failure(
      h.client.createTicket(
        {
          requester: { email: "mailbox.email@example.com", name: "Mailbox" },
          subject: "Legacy emailId",
          message: "hello",
          legacy: { source: "Email", emailId: "false" },
        },
        { headers },
      ),
    );
    expect(violations(error)).toContainEqual(
      expect.objectContaining({ legacyKey: "emailId", description: "Unknown system email" }),
    );
    expect(await h.counts()).toEqual(before);
  });

  it("checks a legacy duedate as Ticket::create does, and keeps none", async () => {
    const headers = await h.service();
    const create = (dueDate: string, email = `due.${dueDate.length}.${Date.now()}@example.com`) =>
      h.client.createTicket(
        {
          requester: { email, name: "Due Date" },
          subject: "Legacy duedate",
          message: "hello",
          legacy: { source: "API", dueDate },
        },
        { headers },
      );
    const before = await h.counts();
    for (const [sent, message] of [
      ["garbage", "Invalid due date"],
      ["2020-01-01", "Due date must be in the future"],
      ["yesterday", "Due date must be in the future"],
    ]) {
      const error = await failure(create(sent ?? ""));
      expect(violations(error)).toEqual([{ field: "due_date", legacyKey: "duedate", description: message }]);
    }
    expect(await h.counts()).toEqual(before);
    const ok = await create("2099-01-01");
    const [row] = await h.query("SELECT duedate FROM ost_ticket WHERE ticket_id = ?", [ok.ticket?.id]);
    expect(row).toEqual({ duedate: null });
  });

  it("creates a ticket with a negative legacy priorityId and reads it without a priority, as osTicket shows it", async () => {
    const headers = await h.service();
    const res = await h.client.createTicket(
      {
        requester: { email: "negative.priority@example.com", name: "Negative Priority" },
        subject: "Legacy priorityId",
        message: "hello",
        legacy: { source: "API", priorityId: "-556022" },
      },
      { headers },
    );
    // Ticket::create's setAnswer('priority', null, $vars['priorityId']): the id as sent, no label.
    const [answer] = await h.query(
      "SELECT v.value, v.value_id FROM ost_form_entry_values v JOIN ost_form_entry e ON e.id = v.entry_id" +
        " JOIN ost_form_field f ON f.id = v.field_id WHERE e.object_type = 'T' AND e.object_id = ? AND f.name = 'priority'",
      [res.ticket?.id],
    );
    expect(answer).toEqual({ value: null, value_id: -556022 });
    // Priority::lookup finds none: no priority (a uint32 cannot carry the id).
    expect(res.ticket?.priority).toBeUndefined();
    const got = await h.client.getTicket(
      { lookup: { case: "ticketId", value: res.ticket?.id ?? 0 } },
      { headers },
    );
    expect(got.ticket).toEqual(res.ticket);
  });

  it("refuses a banned requester with a Denied detail", async () => {
    await h.exec(
      "INSERT INTO ost_filter_rule (filter_id, what, how, val, isactive, created, updated)" +
        " SELECT id, 'email', 'equal', 'banned@example.com', 1, NOW(), NOW() FROM ost_filter WHERE name = 'SYSTEM BAN LIST'",
    );
    const before = await h.counts();
    const error = await failure(
      h.client.createTicket(
        { requester: { email: "banned@example.com", name: "Banned" }, subject: "x", message: "y" },
        { headers: await h.service() },
      ),
    );
    expect(error.code).toBe(Code.PermissionDenied);
    const denied = error.findDetails(DeniedSchema)[0];
    expect(denied).toMatchObject({ reason: DenialReason.BANNED_EMAIL, email: "banned@example.com" });
    expect(await h.counts()).toEqual(withRefusalLogged(before));
    expect(await lastLogRow()).toEqual({
      log_type: "Warning",
      title: "Ticket denied",
      log: 'Ticket rejected (banned@example.com) by filter "SYSTEM BAN LIST"',
    });
  });

  it("refuses a requester at the open-ticket limit, logging osTicket's warning", async () => {
    await h.setConfig("max_open_tickets", "1");
    try {
      const requester = { email: "loop.control@example.com", name: "Loop Control" };
      await h.client.createTicket(
        { requester, subject: "first", message: "one" },
        { headers: await h.service() },
      );
      const before = await h.counts();
      const error = await failure(
        h.client.createTicket(
          { requester, subject: "second", message: "two" },
          { headers: await h.service() },
        ),
      );
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(await h.counts()).toEqual(withRefusalLogged(before));
      expect(await lastLogRow()).toEqual({
        log_type: "Warning",
        title: "Ticket denied - loop.control@example.com",
        log: "Max open tickets (1) reached for loop.control@example.com",
      });
    } finally {
      await h.setConfig("max_open_tickets", "0");
    }
  });

  it("refuses a ticket a filter rejects with a Denied detail naming the filter", async () => {
    await h.exec(
      "INSERT INTO ost_filter SET id = 77, execorder = 1, isactive = 1, target = 'Any', name = 'Reject marker', notes = '', created = NOW(), updated = NOW()",
    );
    await h.exec(
      "INSERT INTO ost_filter_rule SET filter_id = 77, what = 'body', how = 'contains', val = 'reject-marker-77', isactive = 1, notes = '', created = NOW(), updated = NOW()",
    );
    await h.exec(
      "INSERT INTO ost_filter_action SET filter_id = 77, sort = 1, type = 'reject', configuration = '[]', updated = NOW()",
    );
    const before = await h.counts();
    const error = await failure(
      h.client.createTicket(
        {
          requester: { email: "rejected@example.com", name: "R" },
          subject: "x",
          message: "REJECT-MARKER-77",
        },
        { headers: await h.service() },
      ),
    );
    expect(error.code).toBe(Code.PermissionDenied);
    expect(error.findDetails(DeniedSchema)[0]).toMatchObject({
      reason: DenialReason.FILTER_REJECTED,
      email: "rejected@example.com",
      filterId: 77,
    });
    expect(await h.counts()).toEqual(withRefusalLogged(before));
    expect(await lastLogRow()).toEqual({
      log_type: "Warning",
      title: "Ticket denied",
      log: 'Ticket rejected (rejected@example.com) by filter "Reject marker"',
    });
  });

  it("replays the first result for a repeated idempotency key and refuses the key for another request", async () => {
    const headers = await h.service();
    const request = create(CreateTicketRequestSchema, {
      idempotencyKey: "create-once-1",
      requester: { email: "idem@example.com", name: "Idem Potent" },
      subject: "Only once",
      message: "Please create me once",
    });
    const first = await h.client.createTicket(request, { headers });
    const counts = await h.counts();
    const again = await h.client.createTicket(request, { headers });
    expect(again).toEqual(first);
    expect(await h.counts()).toEqual(counts);

    const error = await failure(
      h.client.createTicket({ ...request, subject: "Something else" }, { headers }),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(violations(error)?.[0]?.field).toBe("idempotency_key");
    expect(await h.counts()).toEqual(counts);

    // Keys belong to their caller: another caller's same key is a new request.
    const other = await h.client.createTicket({ ...request, topicId: 1 }, { headers: await h.agent() });
    expect(other.ticket?.id).not.toBe(first.ticket?.id);
  });

  it("lets an end user create a ticket for themselves only, through the portal's rules", async () => {
    const userId = await insertUser(h, { name: "Portal Pat", email: "pat@example.com" });
    const headers = await h.endUser(userId);
    const error = await failure(
      h.client.createTicket(
        { requester: { email: "someone-else@example.com", name: "X" }, subject: "Mine", message: "hi" },
        { headers },
      ),
    );
    // The client portal requires a help topic (osTicket's "web" origin).
    expect(error.code).toBe(Code.InvalidArgument);
    expect(violations(error)?.[0]).toMatchObject({ field: "topic_id", legacyKey: "topicId" });
    const res = await h.client.createTicket(
      {
        requester: { email: "someone-else@example.com", name: "X" },
        subject: "Mine",
        message: "hi",
        topicId: 1,
      },
      { headers },
    );
    expect(res.ticket?.requester?.id).toBe(userId);
    expect(res.ticket?.source).toBe(TicketSource.WEB);
    // End users see no agent-only details.
    expect(res.ticket?.sla).toBeUndefined();
    expect(res.ticket?.ipAddress).toBe("");
  });

  it("honours an agent's due date and typed ids, and names unknown ids", async () => {
    const headers = await h.agent();
    const due = new Date(Date.now() + 7 * 86_400_000);
    due.setUTCSeconds(0, 0);
    const res = await h.client.createTicket(
      {
        requester: { email: "typed@example.com", name: "Typed Ids" },
        subject: "Phone call",
        message: "Called in",
        source: TicketSource.PHONE,
        topicId: 2,
        deptId: 2,
        priorityId: 3,
        dueDate: timestampFromDate(due),
      },
      { headers },
    );
    expect(res.ticket).toMatchObject({
      source: TicketSource.PHONE,
      helpTopic: { id: 2, name: "Feedback" },
      department: { id: 2, name: "Sales" },
      priority: { id: 3, name: "High" },
    });
    expect(res.ticket?.dueDate?.seconds).toBe(BigInt(due.getTime() / 1000));

    const error = await failure(
      h.client.createTicket(
        { requester: { email: "typed@example.com" }, subject: "x", message: "y", topicId: 1, deptId: 99 },
        { headers },
      ),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(violations(error)).toContainEqual({
      field: "dept_id",
      legacyKey: "deptId",
      description: "Unknown department",
    });
  });

  it("stores inline files through the attachment service and links them to the first message", async () => {
    const res = await h.client.createTicket(
      {
        requester: { email: "files@example.com", name: "File Sender" },
        subject: "With files",
        message: "see attached",
        attachments: [
          {
            source: {
              case: "file",
              value: { name: "notes.txt", type: "text/plain", data: Buffer.from("hello files") },
            },
          },
        ],
      },
      { headers: await h.service() },
    );
    const files = await h.query(
      "SELECT f.name, f.size, a.inline FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.type = 'H' AND a.object_id = ?",
      [res.messageEntryId],
    );
    expect(files).toEqual([{ name: "notes.txt", size: 11, inline: 0 }]);
    const entries = await h.client.listThreadEntries(
      { ticketId: res.ticket?.id ?? 0 },
      { headers: await h.service() },
    );
    expect(entries.entries[0]?.attachments.map((a) => a.name)).toEqual(["notes.txt"]);
  });

  it("points the body's cid: references at the stored files' keys, as osTicket's panel resolves them", async () => {
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
      "base64",
    );
    const first = await h.client.createTicket(
      {
        requester: { email: "inline@example.com", name: "Inline Sender" },
        subject: "Inline image",
        message: '<p>See <img src="cid:shot.1@example.com" alt="shot"> and <img src=\'cid:other\'></p>',
        messageFormat: MessageFormat.HTML,
        attachments: [
          {
            source: { case: "file", value: { name: "shot.png", type: "image/png", data: png } },
            inline: true,
            contentId: "shot.1@example.com",
          },
        ],
      },
      { headers: await h.service() },
    );
    const [file] = await h.query(
      "SELECT f.id, f.`key`, a.inline FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.type = 'H' AND a.object_id = ?",
      [first.messageEntryId],
    );
    expect(file?.inline).toBe(1);
    const body = async (entryId: number) =>
      String((await h.query("SELECT body FROM ost_thread_entry WHERE id = ?", [entryId]))[0]?.body);
    expect(await body(first.messageEntryId)).toBe(
      `<p>See <img src="cid:${file?.key}" alt="shot" /> and <img src="cid:other" alt="image" /></p>`,
    );

    // A stored file named by id gets its key too.
    const second = await h.client.createTicket(
      {
        requester: { email: "inline@example.com", name: "Inline Sender" },
        subject: "Inline image again",
        message: '<p><img src="cid:again"></p>',
        messageFormat: MessageFormat.HTML,
        attachments: [
          { source: { case: "fileId", value: Number(file?.id) }, inline: true, contentId: "again" },
        ],
      },
      { headers: await h.service() },
    );
    expect(await body(second.messageEntryId)).toBe(`<p><img src="cid:${file?.key}" alt="image" /></p>`);
  });

  it("records the caller's address the gateway forwarded when the request names none, as osTicket's REMOTE_ADDR", async () => {
    const headers = await h.service();
    headers.set("x-forwarded-for", "198.51.100.23");
    const addresses = async (ticketId: number) =>
      h.query(
        "SELECT t.ip_address AS ticket, e.ip_address AS entry FROM ost_ticket t" +
          " JOIN ost_thread th ON th.object_type = 'T' AND th.object_id = t.ticket_id" +
          " JOIN ost_thread_entry e ON e.thread_id = th.id WHERE t.ticket_id = ?",
        [ticketId],
      );
    const unnamed = await h.client.createTicket(
      { requester: { email: "addr@example.com", name: "Addr Ess" }, subject: "From where", message: "hi" },
      { headers },
    );
    expect(await addresses(unnamed.ticket?.id ?? 0)).toEqual([
      { ticket: "198.51.100.23", entry: "198.51.100.23" },
    ]);
    const named = await h.client.createTicket(
      {
        requester: { email: "addr@example.com", name: "Addr Ess" },
        subject: "From there",
        message: "hi",
        ipAddress: "203.0.113.5",
      },
      { headers },
    );
    expect(await addresses(named.ticket?.id ?? 0)).toEqual([{ ticket: "203.0.113.5", entry: "203.0.113.5" }]);
  });

  it("drops oversized files of legacy requests silently and refuses them for typed requests", async () => {
    await h.setConfig("max_file_size", "16");
    const big = Buffer.alloc(64, 1);
    const legacy = await h.client.createTicket(
      {
        requester: { email: "big@example.com", name: "Big File" },
        subject: "Legacy big file",
        message: "attached",
        legacy: { source: "API" },
        attachments: [{ source: { case: "file", value: { name: "big.bin", data: big } } }],
      },
      { headers: await h.service() },
    );
    expect(legacy.attachmentErrors).toEqual([]);
    expect(
      await h.query("SELECT COUNT(*) AS n FROM ost_attachment WHERE type = 'H' AND object_id = ?", [
        legacy.messageEntryId,
      ]),
    ).toEqual([{ n: 0 }]);

    const error = await failure(
      h.client.createTicket(
        {
          requester: { email: "big@example.com" },
          subject: "Typed big file",
          message: "attached",
          attachments: [{ source: { case: "file", value: { name: "big.bin", data: big } } }],
        },
        { headers: await h.service() },
      ),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(violations(error)?.[0]?.field).toBe("attachments[0].file");
    await h.setConfig("max_file_size", "1048576");
  });

  it("posts a SYSTEM 'File Import Error' note before the first message for a legacy file it cannot store", async () => {
    const field =
      "(SELECT id FROM (SELECT ff.id FROM ost_form_field ff JOIN ost_form f ON f.id = ff.form_id" +
      " WHERE f.type = 'T' AND ff.name = 'message') x)";
    const [before] = await h.query(`SELECT configuration FROM ost_form_field WHERE id = ${field}`);
    await h.exec(`UPDATE ost_form_field SET configuration = '{"extensions": ".txt"}' WHERE id = ${field}`);
    try {
      const res = await h.client.createTicket(
        {
          requester: { email: "import.error@example.com", name: "Import Error" },
          subject: "Legacy refused file",
          message: "attached",
          legacy: { source: "API" },
          attachments: [
            { source: { case: "file", value: { name: "x.bin", data: Buffer.from("MZ") } } },
            { source: { case: "file", value: { name: "ok.txt", data: Buffer.from("fine") } } },
          ],
        },
        { headers: await h.service() },
      );
      expect(res.attachmentErrors).toEqual([
        expect.objectContaining({ name: "x.bin", description: "File type is not allowed" }),
      ]);
      const entries = await h.query(
        "SELECT id, type, flags, poster, title, body, staff_id, user_id FROM ost_thread_entry" +
          " WHERE thread_id = (SELECT id FROM ost_thread WHERE object_type = 'T' AND object_id = ?) ORDER BY id",
        [res.ticket?.id ?? 0],
      );
      expect(entries.map((e) => [e.type, e.poster, e.title, e.body, e.flags, e.staff_id, e.user_id])).toEqual(
        [
          ["N", "SYSTEM", "File Import Error", "x.bin: File type is not allowed", 0x80, 0, 0],
          ["M", "Import Error", "Legacy refused file", "attached", 0x01, 0, expect.any(Number)],
        ],
      );
      expect(entries[1]?.id).toBe(res.messageEntryId);
      const files = await h.query(
        "SELECT f.name FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.type = 'H' AND a.object_id = ?",
        [res.messageEntryId],
      );
      expect(files).toEqual([{ name: "ok.txt" }]);
      // The note reaches subscribers too, after the ticket's creation.
      const events = (await h.events()).filter((e) => e.ticket?.ticketId === res.ticket?.id);
      expect(events.map((e) => e.type)).toEqual(["ticket.created", "ticket.entry_added"]);
      const note = events[1];
      if (note?.payload.case !== "threadEntryAdded")
        throw new Error(`unexpected payload ${note?.payload.case}`);
      expect(note.payload.value.entry?.id).toBe(entries[0]?.id);
    } finally {
      await h.exec(`UPDATE ost_form_field SET configuration = ? WHERE id = ${field}`, [
        String(before?.configuration ?? ""),
      ]);
    }
  });

  it('gives a legacy file osTicket\'s storage cannot write (empty, or just "0") an import error, storing nothing', async () => {
    const files = await h.query("SELECT COUNT(*) AS n FROM ost_file");
    const res = await h.client.createTicket(
      {
        requester: { email: "empty.file@example.com", name: "Empty File" },
        subject: "Legacy empty files",
        message: "attached",
        legacy: { source: "API" },
        attachments: [
          { source: { case: "file", value: { name: "empty.txt", data: Buffer.alloc(0) } } },
          { source: { case: "file", value: { name: "zero.txt", data: Buffer.from("0") } } },
          { source: { case: "file", value: { name: "zeros.txt", data: Buffer.from("00") } } },
        ],
      },
      { headers: await h.service() },
    );
    expect(res.attachmentErrors.map((e) => [e.name, e.description])).toEqual([
      ["empty.txt", "Unable to save file"],
      ["zero.txt", "Unable to save file"],
    ]);
    const notes = await h.query(
      "SELECT body FROM ost_thread_entry WHERE type = 'N' AND title = 'File Import Error'" +
        " AND thread_id = (SELECT id FROM ost_thread WHERE object_type = 'T' AND object_id = ?) ORDER BY id",
      [res.ticket?.id ?? 0],
    );
    expect(notes.map((n) => n.body)).toEqual([
      "empty.txt: Unable to save file",
      "zero.txt: Unable to save file",
    ]);
    const attached = await h.query(
      "SELECT f.name, f.size FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.type = 'H' AND a.object_id = ?",
      [res.messageEntryId],
    );
    expect(attached).toEqual([{ name: "zeros.txt", size: 2 }]);
    expect(await h.query("SELECT COUNT(*) AS n FROM ost_file")).toEqual([{ n: Number(files[0]?.n) + 1 }]);
  });

  it("links a file whose content is already stored under the name it was sent with, as osTicket records varying names", async () => {
    const headers = await h.service();
    const data = Buffer.from(`same bytes ${Date.now()}`);
    const send = async (name: string) => {
      const res = await h.client.createTicket(
        {
          requester: { email: "same.bytes@example.com", name: "Same Bytes" },
          subject: "Same bytes",
          message: "attached",
          legacy: { source: "API" },
          attachments: [{ source: { case: "file", value: { name, type: "text/plain", data } } }],
        },
        { headers },
      );
      const rows = await h.query(
        "SELECT a.file_id, a.name FROM ost_attachment a WHERE a.type = 'H' AND a.object_id = ?",
        [res.messageEntryId],
      );
      return rows[0] as { file_id: number; name: string | null };
    };
    const first = await send("report.txt");
    expect(first.name).toBeNull();
    // GenericAttachments::upload: the same content under another name reuses the file, named on the link.
    const second = await send("copy of report.txt");
    expect(second).toEqual({ file_id: first.file_id, name: "copy of report.txt" });
    // strcasecmp: a name differing in case only is the file's own.
    expect(await send("REPORT.TXT")).toEqual({ file_id: first.file_id, name: null });
  });

  it("refuses an attachment naming a file that does not exist", async () => {
    const before = await h.counts();
    const error = await failure(
      h.client.createTicket(
        {
          requester: { email: "ghost@example.com", name: "Ghost File" },
          subject: "Ghost",
          message: "attached",
          attachments: [{ source: { case: "fileId", value: 987654 } }],
        },
        { headers: await h.service() },
      ),
    );
    // NOT_FOUND like a file the caller may not see, so ids cannot be probed for existence.
    expect(error.code).toBe(Code.NotFound);
    expect(error.rawMessage).toBe("attachments[0].file_id: file 987654 not found");
    expect(await h.counts()).toEqual(before);
  });

  it("adds existing end users of the Cc list as collaborators", async () => {
    const headers = await h.service();
    const cc = await insertUser(h, { name: "Cee Cee", email: "cc@example.com" });
    const typed = await h.client.createTicket(
      {
        requester: { email: "owner.cc@example.com", name: "Owen Cc" },
        subject: "With Cc",
        message: "hello",
        collaborators: [{ email: "cc@example.com" }],
      },
      { headers },
    );
    expect(typed.ticket?.collaborators.map((c) => c.user?.id)).toEqual([cc]);
    // The create's answer reads the collaborators it added, as GetTicket does.
    const got = await h.client.getTicket(
      { lookup: { case: "ticketId", value: typed.ticket?.id ?? 0 } },
      { headers },
    );
    expect(got.ticket).toEqual(typed.ticket);
    const unknown = await failure(
      h.client.createTicket(
        {
          requester: { email: "owner.cc@example.com" },
          subject: "With Cc",
          message: "hello",
          collaborators: [{ email: "nobody@example.com" }],
        },
        { headers },
      ),
    );
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(violations(unknown)?.[0]?.field).toBe("collaborators[0].email");
    // Legacy ccs are user ids; unknown ones are skipped.
    const legacy = await h.client.createTicket(
      {
        requester: { email: "owner.cc@example.com" },
        subject: "Legacy Cc",
        message: "hello",
        legacy: { source: "API" },
        collaborators: [{ email: String(cc) }, { email: "999999" }, { email: "nobody@example.com" }],
      },
      { headers },
    );
    expect(legacy.ticket?.collaborators.map((c) => c.user?.id)).toEqual([cc]);
    // API callers name existing users only, by any of their addresses and in any case; the requester's own
    // address and repeated entries are skipped.
    const many = await h.client.createTicket(
      {
        requester: { email: "owner.cc@example.com" },
        subject: "Cc by address",
        message: "hello",
        collaborators: [
          { email: "CC@example.com" },
          { email: "owner.cc@example.com" },
          { email: "cc@example.com" },
        ],
      },
      { headers },
    );
    expect(many.ticket?.collaborators.map((c) => c.user?.id)).toEqual([cc]);
  });

  it("adds an agent's address inactive without an agent signed in when agent collaborators are disabled", async () => {
    const agentUser = await insertUser(h, { name: "Admin As User", email: "admin@example.org" });
    await h.setConfig("disable_agent_collabs", "1");
    try {
      const request = {
        requester: { email: "owner.cc@example.com" },
        subject: "Agent as Cc",
        message: "hello",
        topicId: 1,
        collaborators: [{ email: "admin@example.org" }, { email: "cc@example.com" }],
      };
      const api = await h.client.createTicket(request, { headers: await h.service() });
      expect(api.ticket?.collaborators.map((c) => [c.user?.id, c.active, c.cc])).toEqual([
        [agentUser, false, true],
        [expect.any(Number), true, true],
      ]);
      // An agent's own ticket (osTicket's $thisstaff) keeps every collaborator active.
      const staff = await h.client.createTicket(request, { headers: await h.agent() });
      expect(staff.ticket?.collaborators.map((c) => c.active)).toEqual([true, true]);
    } finally {
      await h.setConfig("disable_agent_collabs", "0");
    }
  });

  /** A user's rows as osTicket stores a new end user, with their address and name as placeholders. */
  async function newUserRows(userId: number, email: string, name: string) {
    const swap = (v: unknown) =>
      typeof v === "string" ? v.split(email).join("<email>").split(name).join("<name>") : v;
    const scrub = (rows: Record<string, unknown>[]) =>
      rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, swap(v)])));
    return {
      user: scrub(
        await h.query(
          "SELECT u.org_id, u.status, u.name, u.created = u.updated AS stamped, e.address, e.flags," +
            " (SELECT COUNT(*) FROM ost_user_email m WHERE m.user_id = u.id) AS addresses," +
            " (SELECT COUNT(*) FROM ost_user_account a WHERE a.user_id = u.id) AS accounts" +
            " FROM ost_user u JOIN ost_user_email e ON e.id = u.default_email_id AND e.user_id = u.id WHERE u.id = ?",
          [userId],
        ),
      ),
      formEntries: await h.query(
        "SELECT form_id, sort, extra FROM ost_form_entry WHERE object_type = 'U' AND object_id = ?",
        [userId],
      ),
      values: await h.query(
        "SELECT v.field_id, v.value, v.value_id FROM ost_form_entry_values v JOIN ost_form_entry e ON e.id = v.entry_id" +
          " WHERE e.object_type = 'U' AND e.object_id = ? ORDER BY v.field_id",
        [userId],
      ),
      cdata: (await h.query("SELECT * FROM ost_user__cdata WHERE user_id = ?", [userId])).map(
        ({ user_id, ...rest }) => rest,
      ),
      search: scrub(
        await h.query("SELECT title, content FROM ost__search WHERE object_type = 'U' AND object_id = ?", [
          userId,
        ]),
      ),
    };
  }

  it("creates an agent's unknown Cc addresses as end users, with the rows a new requester gets", async () => {
    const known = await insertUser(h, { name: "Kim Known", email: "kim.known@example.com" });
    const before = (await h.events()).length;
    const res = await h.client.createTicket(
      {
        requester: { email: "rita.req@example.com", name: "Req, Rita" },
        subject: "Agent Cc",
        message: "hello",
        topicId: 1,
        collaborators: [
          { email: " Carl.Cc@Example.com ", name: "Cc, Carl" },
          { email: "kim.known@example.com", name: "Ignored Name" },
          { email: "carl.cc@example.com", name: "Carl Again" },
          { email: "RITA.REQ@example.com", name: "Rita Again" },
        ],
      },
      { headers: await h.agent() },
    );
    const requesterId = res.ticket?.requester?.id ?? 0;
    const [carl] = await h.query("SELECT user_id FROM ost_user_email WHERE address = 'carl.cc@example.com'");
    const carlId = Number(carl?.user_id);
    expect(res.ticket?.collaborators.map((c) => [c.user?.id, c.user?.name, c.active, c.cc])).toEqual([
      [carlId, "Carl Cc", true, true],
      [known, "Kim Known", true, true],
    ]);
    // One user per address, stored as given (trimmed), named as the contact form names a requester.
    expect(
      await h.query(
        "SELECT address FROM ost_user_email WHERE address IN ('carl.cc@example.com', 'rita.req@example.com') ORDER BY id",
      ),
    ).toEqual([{ address: "rita.req@example.com" }, { address: "Carl.Cc@Example.com" }]);
    const carlRows = await newUserRows(carlId, "Carl.Cc@Example.com", "Carl Cc");
    expect(carlRows.user).toEqual([
      expect.objectContaining({ name: "<name>", address: "<email>", accounts: 0 }),
    ]);
    expect(carlRows.search).toHaveLength(1);
    expect(carlRows).toEqual(await newUserRows(requesterId, "rita.req@example.com", "Rita Req"));

    const threadId = res.ticket?.threadId ?? 0;
    expect(
      await h.query(
        "SELECT user_id, flags, role FROM ost_thread_collaborator WHERE thread_id = ? ORDER BY id",
        [threadId],
      ),
    ).toEqual([
      { user_id: carlId, flags: 3, role: "M" },
      { user_id: known, flags: 3, role: "M" },
    ]);
    expect(
      await h.query(
        "SELECT e.name, t.data, t.uid_type FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id" +
          " WHERE t.thread_id = ? ORDER BY t.id",
        [threadId],
      ),
    ).toEqual([
      { name: "created", data: null, uid_type: "S" },
      { name: "collab", data: `{"add":{"${carlId}":{"name":"Carl Cc"}}}`, uid_type: "S" },
      { name: "collab", data: `{"add":{"${known}":{"name":"Kim Known"}}}`, uid_type: "S" },
    ]);
    const events = (await h.events()).slice(before);
    expect(events.map((e) => e.type)).toEqual(["ticket.created"]);
    const [event] = events;
    if (event?.payload.case !== "ticketCreated") throw new Error("unexpected payload");
    expect(event.payload.value.newUser).toBe(true);
    expect(event.payload.value.ticket?.collaborators.map((c) => c.user?.id)).toEqual([carlId, known]);
  });

  it("names an agent's invalid or incomplete Cc entries and writes nothing", async () => {
    const before = await h.counts();
    const error = await failure(
      h.client.createTicket(
        {
          requester: { email: "rita.req@example.com" },
          subject: "Bad Cc",
          message: "hello",
          topicId: 1,
          collaborators: [
            { email: "new.but.nameless@example.com" },
            { email: "ok.cc@example.com", name: "Okay Cc" },
            { email: "not-an-email", name: "Not Mail" },
            { email: "someone@localhost", name: "Local Host" },
          ],
        },
        { headers: await h.agent() },
      ),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(violations(error)).toEqual([
      {
        field: "collaborators[0].name",
        legacyKey: "collaborators[0].name",
        description: "Full Name is a required field",
      },
      {
        field: "collaborators[2].email",
        legacyKey: "collaborators[2].email",
        description: "Enter a valid email address",
      },
      {
        field: "collaborators[3].email",
        legacyKey: "collaborators[3].email",
        description: "Enter a valid email address",
      },
    ]);
    expect(await h.counts()).toEqual(before);
  });

  it("adds a banned address as an agent's Cc, as osTicket checks the ban list for requesters only", async () => {
    await h.exec(
      "INSERT INTO ost_filter_rule (filter_id, what, how, val, isactive, created, updated)" +
        " SELECT id, 'email', 'equal', 'banned.cc@example.com', 1, NOW(), NOW() FROM ost_filter WHERE name = 'SYSTEM BAN LIST'",
    );
    const res = await h.client.createTicket(
      {
        requester: { email: "rita.req@example.com" },
        subject: "Banned Cc",
        message: "hello",
        topicId: 1,
        collaborators: [{ email: "banned.cc@example.com", name: "Banned Cc" }],
      },
      { headers: await h.agent() },
    );
    expect(res.ticket?.collaborators.map((c) => c.user?.name)).toEqual(["Banned Cc"]);
  });

  it("takes user.create for an agent's new Cc users and refuses Cc lists from end users", async () => {
    await withoutUserCreate(async () => {
      const headers = await h.agent();
      const before = await h.counts();
      const error = await failure(
        h.client.createTicket(
          {
            requester: { email: "rita.req@example.com" },
            subject: "No user.create",
            message: "hello",
            topicId: 1,
            collaborators: [
              { email: "kim.known@example.com" },
              { email: "fresh.cc@example.com", name: "Fresh Cc" },
            ],
          },
          { headers },
        ),
      );
      expect(error.code).toBe(Code.PermissionDenied);
      expect(violations(error)).toEqual([
        {
          field: "collaborators[1].email",
          legacyKey: "",
          description: "You do not have permission to create users.",
        },
      ]);
      expect(await h.counts()).toEqual(before);
      // Existing users are still theirs to add.
      const res = await h.client.createTicket(
        {
          requester: { email: "rita.req@example.com" },
          subject: "Known Cc",
          message: "hello",
          topicId: 1,
          collaborators: [{ email: "kim.known@example.com" }],
        },
        { headers },
      );
      expect(res.ticket?.collaborators.map((c) => c.user?.name)).toEqual(["Kim Known"]);
    });

    const userId = await insertUser(h, { name: "Portal Cc", email: "portal.cc@example.com" });
    const before = await h.counts();
    const error = await failure(
      h.client.createTicket(
        {
          subject: "Portal Cc",
          message: "hi",
          topicId: 1,
          collaborators: [{ email: "kim.known@example.com" }],
        },
        { headers: await h.endUser(userId) },
      ),
    );
    expect(error.code).toBe(Code.PermissionDenied);
    expect(violations(error)?.[0]?.field).toBe("collaborators");
    expect(await h.counts()).toEqual(before);
  });
  it("takes user.create for an agent's new requester: PERMISSION_DENIED naming requester.email, nothing written", async () => {
    await withoutUserCreate(async () => {
      const headers = await h.agent();
      const before = await h.counts();
      const error = await failure(
        h.client.createTicket(
          {
            requester: { email: " New.Requester@example.com ", name: "New Requester" },
            subject: "No user.create",
            message: "hello",
            topicId: 1,
            collaborators: [{ email: "another.new@example.com", name: "Another New" }],
          },
          { headers },
        ),
      );
      expect(error.code).toBe(Code.PermissionDenied);
      expect(violations(error)).toEqual([
        {
          field: "requester.email",
          legacyKey: "",
          description: "You do not have permission to create users.",
        },
      ]);
      // An unknown user id is no existing requester either.
      const byId = await failure(
        h.client.createTicket(
          {
            requester: { userId: 999_999, email: "new.requester@example.com", name: "New Requester" },
            subject: "No user.create",
            message: "hello",
            topicId: 1,
          },
          { headers },
        ),
      );
      expect(violations(byId)?.[0]?.field).toBe("requester.email");
      expect(await h.counts()).toEqual(before);
      // Existing requesters, by address (any case) or by id, are still theirs to open tickets for.
      const known = await insertUser(h, { name: "Known Requester", email: "known.requester@example.com" });
      for (const requester of [{ email: "KNOWN.requester@example.com" }, { userId: known }]) {
        const res = await h.client.createTicket(
          { requester, subject: "Known requester", message: "hello", topicId: 1 },
          { headers },
        );
        expect(res.ticket?.requester?.id).toBe(known);
      }
    });
    // API callers create requesters without any agent permission.
    const api = await h.client.createTicket(
      {
        requester: { email: "new.requester@example.com", name: "New Requester" },
        subject: "x",
        message: "y",
      },
      { headers: await h.service() },
    );
    expect(api.ticket?.requester?.name).toBe("New Requester");
  });

  it("answers an agent without user.create with osTicket's first error when the request is also invalid", async () => {
    await h.exec(
      "INSERT INTO ost_filter_rule (filter_id, what, how, val, isactive, created, updated)" +
        " SELECT id, 'email', 'equal', 'banned.newcomer@example.com', 1, NOW(), NOW() FROM ost_filter WHERE name = 'SYSTEM BAN LIST'",
    );
    const owner = await insertUser(h, { name: "Olga Owner", email: "olga.owner@example.com" });
    const [subjectField] = await h.query("SELECT label FROM ost_form_field WHERE id = 20");
    const subjectRequired = `${String(subjectField?.label)} is a required field`;
    const MISSING = "Missing or invalid data — Correct any errors below and try again";
    await withoutUserCreate(async () => {
      const headers = await h.agent();
      const before = await h.counts();
      const ask = (extra: object) =>
        failure(
          h.client.createTicket(
            {
              requester: { email: "newcomer@example.com", name: "New Comer" },
              subject: "Mixed",
              message: "hello",
              topicId: 1,
              ...extra,
            },
            { headers },
          ),
        );

      // Ticket::create: Validator::process over the staff origin's fields fails before the requester is looked at.
      const noTopic = await ask({ topicId: 0 });
      expect(noTopic.code).toBe(Code.InvalidArgument);
      expect(violations(noTopic)).toEqual([
        { field: "topic_id", legacyKey: "topicId", description: "Help topic selection is required" },
        { field: "", legacyKey: "err", description: MISSING },
      ]);

      // Ticket::open: a new requester's address and name are checked before Ticket::create runs.
      const invalid = await ask({ requester: { email: "newcomer.example.com", name: "New Comer" } });
      expect(invalid.code).toBe(Code.InvalidArgument);
      expect(violations(invalid)).toEqual([
        { field: "requester.email", legacyKey: "email", description: "Valid email address is required" },
        { field: "", legacyKey: "err", description: MISSING },
      ]);
      const nameless = await ask({ requester: { email: "newcomer@example.com" } });
      expect(violations(nameless)?.[0]).toEqual({
        field: "requester.name",
        legacyKey: "name",
        description: "Name is required",
      });

      // Ticket::filterTicketData: the ban list comes before the user.create refusal.
      const banned = await ask({ requester: { email: "banned.newcomer@example.com", name: "Banned" } });
      expect(banned.code).toBe(Code.PermissionDenied);
      expect(banned.findDetails(DeniedSchema)[0]).toMatchObject({
        reason: DenialReason.BANNED_EMAIL,
        email: "banned.newcomer@example.com",
      });

      // Ticket::create: `errors['user']` precedes the ticket form's errors, so the refusal is named first.
      const denied = await ask({ subject: "" });
      expect(denied.code).toBe(Code.PermissionDenied);
      expect(violations(denied)).toEqual([
        {
          field: "requester.email",
          legacyKey: "",
          description: "You do not have permission to create users.",
        },
      ]);

      // The Add New user dialog's refusal sits where a new Cc user's checks sit: after the ticket form.
      const cc = await ask({
        requester: { userId: owner },
        subject: "",
        collaborators: [{ email: "newcomer.cc@example.com", name: "New Cc" }],
      });
      expect(cc.code).toBe(Code.InvalidArgument);
      expect(violations(cc)).toEqual([
        { field: "subject", legacyKey: "20", description: subjectRequired },
        {
          field: "collaborators[0].email",
          legacyKey: "collaborators[0].email",
          description: "You do not have permission to create users.",
        },
      ]);
      // Only the ban list's refusal is one osTicket logs.
      expect(await h.counts()).toEqual(withRefusalLogged(before));
    });
  });

  // Ticket::open (include/class.ticket.php, osTicket 1.18.1): ticket.create in the department chosen, the
  // source, the requester, then ticket.assign for an assignment, before Ticket::create runs.
  it("refuses an agent as Ticket::open does: ticket.create in the department chosen, the source, ticket.assign", async () => {
    const role = await h.exec(
      "INSERT INTO ost_role SET flags = 1, name = 'Create only', permissions = '{\"ticket.create\":1}'," +
        " notes = '', created = NOW(), updated = NOW()",
    );
    // Primary department Support with a role that creates but does not assign; Sales with View only.
    const clerk = await h.exec(
      "INSERT INTO ost_staff SET dept_id = 1, role_id = ?, username = 'deskclerk', firstname = 'Desk', lastname = 'Clerk'," +
        " email = 'desk.clerk@example.com', signature = '', isactive = 1, permissions = '{}', created = NOW(), updated = NOW()",
      [role.insertId],
    );
    await h.exec("INSERT INTO ost_staff_dept_access SET staff_id = ?, dept_id = 2, role_id = 4, flags = 1", [
      clerk.insertId,
    ]);
    const owner = await insertUser(h, { name: "Clerk Caller", email: "clerk.caller@example.com" });
    const headers = await h.agent(clerk.insertId);
    const MISSING = "Missing or invalid data — Correct any errors below and try again";
    const ASSIGN_DENIED = "Action Denied. You are not allowed to assign/reassign tickets.";
    const request = { requester: { userId: owner }, subject: "Walk-in", message: "at the desk", topicId: 1 };
    const ask = (extra: object) =>
      failure(
        h.client.createTicket(create(CreateTicketRequestSchema, { ...request, ...extra }), { headers }),
      );
    const before = await h.counts();

    // The View only role in Sales refuses before anything else is looked at (the bad address included).
    const sales = await ask({ deptId: 2, source: 99, requester: { email: "not-an-address", name: "" } });
    expect(sales.code).toBe(Code.PermissionDenied);
    expect(violations(sales)).toEqual([
      {
        field: "dept_id",
        legacyKey: "",
        description: "You do not have permission to create a ticket in this department",
      },
    ]);

    // A source that is no Ticket::$sources key comes next, then a new requester's checks, then the assignment.
    const mixed = await ask({
      deptId: 1,
      source: 99,
      requester: { email: "not-an-address", name: "X" },
      staffId: 1,
    });
    expect(mixed.code).toBe(Code.InvalidArgument);
    expect(violations(mixed)).toEqual([
      { field: "source", legacyKey: "source", description: "Invalid source given - 99" },
      { field: "requester.email", legacyKey: "email", description: "Valid email address is required" },
      { field: "staff_id", legacyKey: "assignId", description: ASSIGN_DENIED },
      { field: "", legacyKey: "err", description: MISSING },
    ]);

    // Without ticket.assign in Support the assignment is the first error: PERMISSION_DENIED naming it.
    const assign = await ask({ deptId: 1, staffId: 1 });
    expect(assign.code).toBe(Code.PermissionDenied);
    expect(violations(assign)).toEqual([{ field: "staff_id", legacyKey: "", description: ASSIGN_DENIED }]);
    // With no department chosen, any of the agent's roles must hold ticket.assign (Staff::hasPerm($perm, false)).
    const team = await ask({ teamId: 1 });
    expect(violations(team)).toEqual([{ field: "team_id", legacyKey: "", description: ASSIGN_DENIED }]);
    expect(await h.counts()).toEqual(before);

    // Maintenance, where the agent has no role: Staff::getRole makes up a new role that creates and (new,
    // `__new__`) lets the agent assign.
    const made = await h.client.createTicket(
      create(CreateTicketRequestSchema, { ...request, deptId: 3, staffId: 1, source: TicketSource.PHONE }),
      { headers },
    );
    expect(
      await h.query("SELECT dept_id, staff_id, source FROM ost_ticket WHERE ticket_id = ?", [
        made.ticket?.id,
      ]),
    ).toEqual([{ dept_id: 3, staff_id: 1, source: "Phone" }]);
    // osTicket checks the department posted, not the one a help topic or the default resolves to: Sales'
    // View only role does not refuse a ticket its topic routes there.
    await h.exec("UPDATE ost_help_topic SET dept_id = 2 WHERE topic_id = 2");
    try {
      const routed = await h.client.createTicket(
        create(CreateTicketRequestSchema, { ...request, topicId: 2 }),
        {
          headers,
        },
      );
      expect(routed.ticket?.department?.id).toBe(2);
    } finally {
      await h.exec("UPDATE ost_help_topic SET dept_id = 0 WHERE topic_id = 2");
    }
  });

  it("records the requester (and the Cc list) as the first message's recipients of an agent's ticket", async () => {
    // A fresh install has ticket_notice_active on: the staff panel offers "Ticket Notice", "Alert All" first.
    expect(await h.query("SELECT value FROM ost_config WHERE `key` = 'ticket_notice_active'")).toEqual([
      { value: "1" },
    ]);
    const headers = await h.agent();
    const ask = (extra: object = {}) =>
      h.client.createTicket(
        {
          requester: { email: "walk.in@example.com", name: "Walk In" },
          subject: "At the desk",
          message: "Came by the desk",
          source: TicketSource.PHONE,
          topicId: 1,
          ...extra,
        },
        { headers },
      );
    const entry = (id: number) =>
      h.query(
        "SELECT user_id, staff_id, flags, poster, source, recipients FROM ost_thread_entry WHERE id = ?",
        [id],
      );

    const alone = await ask();
    const owner = alone.ticket?.requester?.id;
    expect(await entry(alone.messageEntryId)).toEqual([
      {
        user_id: owner,
        staff_id: 0,
        flags: 0x201,
        poster: "Walk In",
        source: "Phone",
        recipients: `{"to":{"${owner}":"Walk In <walk.in@example.com>"}}`,
      },
    ]);

    const cc = await insertUser(h, { name: "Desk Colleague", email: "desk.colleague@example.com" });
    const withCc = await ask({ collaborators: [{ email: "desk.colleague@example.com" }] });
    const [collab] = await h.query(
      "SELECT id FROM ost_thread_collaborator WHERE thread_id = ? AND user_id = ?",
      [withCc.ticket?.threadId ?? 0, cc],
    );
    expect(await entry(withCc.messageEntryId)).toEqual([
      expect.objectContaining({
        flags: 0x101,
        recipients:
          `{"to":{"${owner}":"Walk In <walk.in@example.com>"},` +
          `"cc":{"${collab?.id}":"Desk Colleague <desk.colleague@example.com>"}}`,
      }),
    ]);
    // autorespond: false is the panel's "Do Not Send Alert": no recipients.
    const quiet = await ask({ autorespond: false });
    expect(await entry(quiet.messageEntryId)).toEqual([
      expect.objectContaining({ flags: 1, recipients: null }),
    ]);
    // Other callers keep the API's record: nobody without collaborators.
    const api = await h.client.createTicket(
      { requester: { email: "walk.in@example.com" }, subject: "By API", message: "hello" },
      { headers: await h.service() },
    );
    expect(await entry(api.messageEntryId)).toEqual([
      expect.objectContaining({ flags: 1, recipients: null }),
    ]);
  });

  it("writes the first message of an agent's ticket as each Ticket Notice choice does, and tells the notice in the event", async () => {
    const headers = await h.agent();
    const owner = await insertUser(h, { name: "Notice Owner", email: "notice.owner@example.com" });
    const cc = await insertUser(h, { name: "Notice Colleague", email: "notice.colleague@example.com" });
    const ask = (extra: object, as: Headers = headers) =>
      h.client.createTicket(
        {
          requester: { userId: owner },
          subject: "Ticket Notice",
          message: "Opened at the desk",
          source: TicketSource.PHONE,
          topicId: 1,
          collaborators: [{ email: "notice.colleague@example.com" }],
          ...extra,
        },
        { headers: as },
      );
    /** The first message's flags and recipients, the Cc list's collaborator, and the ticket.created event. */
    const written = async (res: { messageEntryId: number; ticket?: { id: number; threadId: number } }) => {
      const [entry] = await h.query("SELECT flags, recipients FROM ost_thread_entry WHERE id = ?", [
        res.messageEntryId,
      ]);
      const [collab] = await h.query(
        "SELECT id, flags FROM ost_thread_collaborator WHERE thread_id = ? AND user_id = ?",
        [res.ticket?.threadId ?? 0, cc],
      );
      const created = (await h.events()).find(
        (e) => e.payload.case === "ticketCreated" && e.payload.value.ticket?.id === res.ticket?.id,
      );
      if (created?.payload.case !== "ticketCreated") throw new Error("no ticket.created event");
      const { autorespond, ticketNotice } = created.payload.value;
      return { entry, collab, autorespond, ticketNotice };
    };
    const to = `"to":{"${owner}":"Notice Owner <notice.owner@example.com>"}`;

    // Alert All (also what an unset choice means): the requester under to, the Cc list under cc.
    for (const extra of [
      { ticketNotice: TicketNotice.ALL },
      {},
      { ticketNotice: TicketNotice.ALL, autorespond: true },
    ]) {
      const all = await written(await ask(extra));
      expect(all).toEqual({
        entry: {
          flags: 0x101,
          recipients: `{${to},"cc":{"${all.collab?.id}":"Notice Colleague <notice.colleague@example.com>"}}`,
        },
        collab: { id: all.collab?.id, flags: 3 },
        autorespond: true,
        ticketNotice: TicketNotice.ALL,
      });
    }
    // Alert to User: the requester alone (REPLY_USER), though the collaborator joins the ticket all the same.
    const user = await written(await ask({ ticketNotice: TicketNotice.USER }));
    expect(user).toEqual({
      entry: { flags: 0x201, recipients: `{${to}}` },
      collab: { id: user.collab?.id, flags: 3 },
      autorespond: true,
      ticketNotice: TicketNotice.USER,
    });
    // Do Not Send Alert (or autorespond false): nobody, no REPLY_* flag, and no notice.
    for (const extra of [{ ticketNotice: TicketNotice.NONE }, { autorespond: false }]) {
      const none = await written(await ask(extra));
      expect(none).toEqual({
        entry: { flags: 1, recipients: null },
        collab: { id: none.collab?.id, flags: 3 },
        autorespond: false,
        ticketNotice: TicketNotice.NONE,
      });
    }

    // Without ticket_notice_active the staff panel offers no choice and sends no notice: the choice is
    // ignored, the first message lists the collaborators without the requester.
    await h.setConfig("ticket_notice_active", "0");
    try {
      const off = await written(await ask({ ticketNotice: TicketNotice.USER }));
      expect(off).toEqual({
        entry: {
          flags: 0x201,
          recipients: `{"cc":{"${off.collab?.id}":"Notice Colleague <notice.colleague@example.com>"}}`,
        },
        collab: { id: off.collab?.id, flags: 3 },
        autorespond: true,
        ticketNotice: TicketNotice.UNSPECIFIED,
      });
    } finally {
      await h.setConfig("ticket_notice_active", "1");
    }

    // Only agents choose; a choice must agree with an autorespond given with it; nothing written otherwise.
    const before = await h.counts();
    const service = await h.service();
    const endUser = await h.endUser(owner);
    const refusals: [object, Headers?][] = [
      [{ ticketNotice: TicketNotice.USER, collaborators: [] }, service],
      [{ ticketNotice: TicketNotice.NONE, collaborators: [] }, endUser],
      [{ ticketNotice: TicketNotice.USER, autorespond: false }],
      [{ ticketNotice: TicketNotice.NONE, autorespond: true }],
      [{ ticketNotice: 7 as TicketNotice }],
    ];
    for (const [extra, as] of refusals) {
      const error = await failure(ask(extra, as));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(violations(error)?.map((v) => v.field)).toEqual(["ticket_notice"]);
    }
    expect(await h.counts()).toEqual(before);
  });

  it("adds an organization's members as collaborators when one of them opens a ticket (auto-collab)", async () => {
    const org = await h.exec(
      "INSERT INTO ost_organization (name, manager, status, domain, created) VALUES ('Team Org', '', 1, '', NOW())",
    );
    const orgId = org.insertId;
    const lead = await insertUser(h, { name: "Lee Lead", email: "lee@team-org.example", orgId });
    const member = await insertUser(h, { name: "Max Member", email: "max@team-org.example", orgId });
    const before = (await h.events()).length;
    const res = await h.client.createTicket(
      { requester: { email: "max@team-org.example" }, subject: "Team ticket", message: "hello" },
      { headers: await h.service() },
    );
    expect(res.ticket?.requester?.id).toBe(member);
    expect(res.ticket?.collaborators.map((c) => [c.user?.id, c.active, c.cc])).toEqual([[lead, true, true]]);
    expect(
      await h.query(
        "SELECT e.name, t.data FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id WHERE t.thread_id = ? ORDER BY t.id",
        [res.ticket?.threadId ?? 0],
      ),
    ).toEqual([
      { name: "created", data: null },
      { name: "collab", data: `{"add":{"${lead}":{"name":"Lee Lead"}}}` },
      { name: "collab", data: `{"org":${orgId}}` },
    ]);
    // One event for the whole create, carrying the collaborators.
    const events = (await h.events()).slice(before);
    expect(events.map((e) => e.type)).toEqual(["ticket.created"]);
    if (events[0]?.payload.case !== "ticketCreated") throw new Error("unexpected payload");
    expect(events[0].payload.value.ticket?.collaborators.map((c) => c.user?.id)).toEqual([lead]);
    await h.exec("UPDATE ost_organization SET status = 0 WHERE id = ?", [orgId]);
  });
});

describe("CreateTicket's canned response variables (Ticket::getVar)", () => {
  it("fills form answers by variable name, the owner's phone and the recipients; leaves an unchecked box as written", async () => {
    const form = await h.exec(
      "INSERT INTO ost_form SET type = 'G', flags = 1, title = 'Canned vars', name = '', created = NOW(), updated = NOW()",
    );
    const list = await h.exec(
      "INSERT INTO ost_list SET name = 'Colours', name_plural = 'Colours', sort_mode = 'Alpha', masks = 0," +
        " type = '', configuration = '', notes = '', created = NOW(), updated = NOW()",
    );
    await h.exec(
      "INSERT INTO ost_list_items SET list_id = ?, status = 1, value = 'Green', extra = 'GRN', sort = 1",
      [list.insertId],
    );
    const fields: Array<[string, string, string, string | null]> = [
      ["text", "Asset tag", "Asset", null],
      [`list-${list.insertId}`, "Colour", "colour", null],
      ["choices", "Tier", "tier", JSON.stringify({ choices: "a:Alpha\nb:Beta" })],
      ["bool", "Urgent", "urgent", null],
      ["bool", "Agreed", "agreed", null],
      ["phone", "Desk phone", "desk", null],
    ];
    for (const [sort, [type, label, name, configuration]] of fields.entries())
      await h.exec(
        "INSERT INTO ost_form_field SET form_id = ?, flags = 769, type = ?, label = ?, name = ?, configuration = ?, sort = ?, created = NOW(), updated = NOW()",
        [form.insertId, type, label, name, configuration, sort + 1],
      );
    await h.exec(
      "INSERT INTO ost_help_topic_form SET topic_id = 1, form_id = ?, sort = 9, extra = '{\"disable\":[]}'",
      [form.insertId],
    );
    const canned = await h.exec(
      "INSERT INTO ost_canned_response SET dept_id = 0, isenabled = 1, title = 'Vars', lang = 'en_US', notes = '', created = NOW(), updated = NOW()," +
        " response = ?",
      [
        "<p>[%{ticket.colour}] [%{ticket.asset}] [%{ticket.TIER}] [%{ticket.urgent}] [%{ticket.agreed}] [%{ticket.desk}]" +
          " [%{ticket.phone}] [%{ticket.phone_number}] [%{ticket.recipients}] [%{ticket.recipients.emails}]" +
          " [%{ticket.recipients.full}] [%{ticket.asset.value}] [%{ticket.subject}] [%{ticket.priority}]</p>",
      ],
    );
    const colleague = await insertUser(h, { name: "Carla Colleague", email: "carla.canned@example.com" });
    try {
      const res = await h.client.createTicket(
        {
          requester: { email: "vera.vars@example.com", name: "Vera Vars", phone: "318-555-8634 x123" },
          subject: "Canned variables",
          message: "hello",
          topicId: 1,
          answers: { colour: "GRN", Asset: "AT-42", tier: "b", urgent: "1", desk: "(555) 123 4567" },
          collaborators: [{ email: "carla.canned@example.com" }],
          cannedResponseId: canned.insertId,
        },
        { headers: await h.service() },
      );
      const [reply] = await h.query("SELECT body FROM ost_thread_entry WHERE thread_id = ? AND type = 'R'", [
        res.ticket?.threadId ?? 0,
      ]);
      expect(String(reply?.body)).toBe(
        "<p>[Green] [AT-42] [Beta] [1] [%{ticket.agreed}] [5551234567] [(318) 555-8634 x123] [(318) 555-8634 x123]" +
          " [Vera Vars, Carla Colleague] [vera.vars@example.com, carla.canned@example.com]" +
          // "Name <address>" goes in as it is, and the html cleaning then takes the addresses for tags.
          " [Vera Vars , Carla Colleague ] []" +
          " [Canned variables] [Normal]</p>",
      );
      expect(colleague).toBeGreaterThan(0);
    } finally {
      await h.exec("DELETE FROM ost_help_topic_form WHERE form_id = ?", [form.insertId]);
    }
  });
});
