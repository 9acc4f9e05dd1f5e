import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TicketDeniedError, TicketValidationError } from "../errors.ts";
import { writeOutboxRow } from "../outbox.ts";
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
      metadata: h.metadata(),
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

async function expectRejected(
  input: CreateTicketInput,
  issues: { key: string; message: string }[],
  options: { actor?: Parameters<typeof createTicket>[2]; verify?: (d: string) => Promise<boolean> } = {},
) {
  const before = await h.counts();
  const error = await h
    .tx((tx) =>
      createTicket(tx, input, options.actor ?? SYSTEM_ACTOR, {
        clock: fixedClock("2026-11-26T08:00:00Z"),
        metadata: h.metadata(),
        ...(options.verify ? { verifyMailDomain: options.verify } : {}),
      }),
    )
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(TicketValidationError);
  expect(error instanceof TicketValidationError ? error.issues : []).toEqual(issues);
  expect(await h.counts()).toEqual(before);
  return error instanceof TicketValidationError ? error : undefined;
}

const USER_ERROR = { key: "user", message: "Incomplete client information" };
const SUBJECT_REQUIRED = { key: "20", message: "Issue Summary is a required field" };
const MESSAGE_REQUIRED = { key: "21", message: "Issue Details is a required field" };
const MISSING = "Missing or invalid data — Correct any errors below and try again";
const base = (overrides: Partial<CreateTicketInput> = {}): CreateTicketInput => ({
  requester: { email: "valid.person@example.com", name: "Valid Person" },
  subject: "Valid subject",
  message: "Valid message",
  legacy: true,
  ...overrides,
});

describe("validation failures write nothing (every ost_ table counted)", () => {
  it("refuses bad requester data with osTicket's 'user' error", async () => {
    await expectRejected(base({ requester: { name: "No Mail" } }), [USER_ERROR]);
    await expectRejected(base({ requester: { email: "not-an-email", name: "X" } }), [USER_ERROR]);
    await expectRejected(base({ requester: { email: "user@localhost", name: "X" } }), [USER_ERROR]);
    await expectRejected(base({ requester: { email: "new.one@example.com" } }), [USER_ERROR]);
    await expectRejected(base({ requester: { email: "new.one@example.com", name: "X", phone: "12" } }), [
      USER_ERROR,
    ]);
  });

  it("collects user, subject and message errors in osTicket's order with legacy keys", async () => {
    const error = await expectRejected({ requester: {}, legacy: true }, [
      USER_ERROR,
      SUBJECT_REQUIRED,
      MESSAGE_REQUIRED,
    ]);
    expect(error?.legacyText()).toBe(
      "user\nIncomplete client information\n20\nIssue Summary is a required field\n21\nIssue Details is a required field",
    );
    await expectRejected(base({ subject: "" }), [SUBJECT_REQUIRED]);
    await expectRejected(base({ message: "  " }), [MESSAGE_REQUIRED]);
    await expectRejected(base({ message: "<br/>", messageFormat: "html" }), [MESSAGE_REQUIRED]);
    await expectRejected(base({ subject: "=cmd|' /C calc'!A0" }), [
      { key: "20", message: "Content cannot start with the following characters: = - + @" },
    ]);
  });

  it("takes a legacy message sent empty (a key osTicket makes a body object of) as given, stored as '-'", async () => {
    const r = await create(base({ message: "", messageSent: true }));
    const entry = await one("SELECT body, format FROM ost_thread_entry WHERE id = ?", [r.messageEntryId]);
    expect(entry).toEqual({ body: "-", format: "text" });
    const html = await create(base({ message: "<br/>", messageFormat: "html", messageSent: true }));
    expect(await one("SELECT body FROM ost_thread_entry WHERE id = ?", [html.messageEntryId])).toEqual({
      body: "-",
    });
    // Without the key it is still missing, and only the legacy API sends the key.
    await expectRejected(base({ message: "" }), [MESSAGE_REQUIRED]);
    await expectRejected(base({ message: "", messageSent: true, legacy: false }), [MESSAGE_REQUIRED]);
  });

  it("refuses origins the API cannot use", async () => {
    for (const source of ["Phone", "phone", "Other", "Fax"]) {
      await expectRejected(base({ source }), [
        { key: "origin", message: "Invalid ticket origin given" },
        { key: "err", message: "No fields set up" },
      ]);
    }
    // The Web origin reads the ticket form as the portal posts it: the API's message is never seen, nor,
    // once a topicId is sent, the subject (osTicket's PHP refuses every such request, with these maps).
    await expectRejected(base({ source: "Web" }), [
      { key: "topicId", message: "Select a Help Topic" },
      { key: "err", message: MISSING },
      { key: "21", message: "Issue Details is a required field" },
    ]);
    await expectRejected(base({ source: "Web", topicId: 1 }), [
      { key: "20", message: "Issue Summary is a required field" },
      { key: "21", message: "Issue Details is a required field" },
    ]);
    await expectRejected(base({ source: "Email" }), [
      { key: "emailId", message: "Unknown system email" },
      { key: "err", message: MISSING },
    ]);
  });

  it("denies banned addresses (403) and unverifiable domains when verify_email_addrs is on", async () => {
    const before = await h.counts();
    const denied = await h
      .tx((tx) =>
        createTicket(tx, base({ requester: { email: "TEST@example.com", name: "Banned" } }), SYSTEM_ACTOR, {
          metadata: h.metadata(),
        }),
      )
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(TicketDeniedError);
    expect(denied instanceof TicketDeniedError ? [denied.errno, denied.legacyText()] : []).toEqual([
      403,
      "err\nThis help desk is for use by authorized users only",
    ]);
    expect(await h.counts()).toEqual(before);

    await h.setConfig("verify_email_addrs", "1");
    try {
      const checked: string[] = [];
      await expectRejected(
        base({ requester: { email: "someone@nowhere.invalid", name: "Nobody" } }),
        [USER_ERROR],
        {
          verify: async (domain) => {
            checked.push(domain);
            return false;
          },
        },
      );
      expect(checked).toEqual(["nowhere.invalid"]);
      const ok = await h.tx((tx) =>
        createTicket(
          tx,
          base({ requester: { email: "someone@mail.example", name: "Somebody" } }),
          SYSTEM_ACTOR,
          {
            metadata: h.metadata(),
            verifyMailDomain: async (domain) => domain === "mail.example",
          },
        ),
      );
      expect(ok.userCreated).toBe(true);
    } finally {
      await h.setConfig("verify_email_addrs", "0");
    }
  });

  it("reports unknown ids and priority names for typed (non-legacy) requests", async () => {
    await expectRejected(base({ legacy: false, topicId: 999 }), [
      { key: "topicId", message: "Unknown or inactive help topic" },
    ]);
    await expectRejected(base({ legacy: false, priority: "Urgentest" }), [
      { key: "priority", message: "Unknown priority" },
    ]);
    await expectRejected(base({ legacy: false, deptId: 999, teamId: 999 }), [
      { key: "deptId", message: "Unknown department" },
      { key: "teamId", message: "Unknown team" },
    ]);
  });
});

describe("createTicket rules", () => {
  it("reuses an existing user found case-insensitively and ignores the request's name and phone", async () => {
    const first = await create(base({ requester: { email: "u-x@example.com", name: "Original Name" } }));
    const usersBefore = await h.counts();
    const second = await create(
      base({ requester: { email: "U-X@EXAMPLE.COM", name: "Other Name", phone: "555-000-1111" } }),
    );
    expect(second.userId).toBe(first.userId);
    expect(second.userCreated).toBe(false);
    const after = await h.counts();
    for (const table of ["ost_user", "ost_user_email", "ost_user__cdata"])
      expect(after.get(table)).toBe(usersBefore.get(table));
    expect(after.get("ost_form_entry")).toBe((usersBefore.get("ost_form_entry") ?? 0) + 1);
    const entry = await one("SELECT poster FROM ost_thread_entry WHERE id = ?", [second.messageEntryId]);
    expect(entry.poster).toBe("Original Name");
    const u = await one("SELECT title FROM ost__search WHERE object_type = 'U' AND object_id = ?", [
      first.userId,
    ]);
    expect(u.title).toBe("Original Name");
  });

  it("cleans names, subjects and text bodies the way osTicket stores them", async () => {
    const cases: [string, string][] = [
      ["Doe, John", "John Doe"],
      ["Last, First, Jr.", "First Last Jr."],
      ["<b>Bold</b> Name", "Bold Name"],
      ["Emoji 😀 Name", "Emoji Name"],
      ["john.smith@example.org", "John Smith"],
    ];
    for (const [i, [raw, stored]] of cases.entries()) {
      const r = await create(base({ requester: { email: `name${i}@example.com`, name: raw } }));
      expect((await one("SELECT name FROM ost_user WHERE id = ?", [r.userId])).name).toBe(stored);
    }
    const r = await create(
      base({ subject: "Emoji 🚀 subject", message: "Hi 😀 there ☃ 💩 end\n\n\n\n<b>x</b> & y" }),
    );
    const entry = await one("SELECT title, body, format, flags FROM ost_thread_entry WHERE id = ?", [
      r.messageEntryId,
    ]);
    expect(entry).toEqual({
      title: "Emoji  subject",
      body: "Hi  there ☃  end\n\n&lt;b&gt;x&lt;/b&gt; &amp; y",
      format: "text",
      flags: 1,
    });
    expect(
      (await one("SELECT subject FROM ost_ticket__cdata WHERE ticket_id = ?", [r.ticketId])).subject,
    ).toBe("Emoji  subject");
    expect(
      await one("SELECT title, content FROM ost__search WHERE object_type = 'T' AND object_id = ?", [
        r.ticketId,
      ]),
    ).toEqual({
      title: `${r.number} Emoji subject`,
      content: "Emoji subject",
    });

    const tags = await create(base({ subject: "Hello <b>World</b> &amp; co" }));
    expect((await one("SELECT title FROM ost_thread_entry WHERE id = ?", [tags.messageEntryId])).title).toBe(
      "Hello World &amp; co",
    );
    expect(
      (await one("SELECT subject FROM ost_ticket__cdata WHERE ticket_id = ?", [tags.ticketId])).subject,
    ).toBe("Hello World & co");

    const long = await create(base({ subject: "S".repeat(300) }));
    expect(
      str(await one("SELECT title FROM ost_thread_entry WHERE id = ?", [long.messageEntryId]), "title"),
    ).toHaveLength(255);
    expect(
      str(await one("SELECT subject FROM ost_ticket__cdata WHERE ticket_id = ?", [long.ticketId]), "subject"),
    ).toHaveLength(300);
  });

  it("honours a closed status at creation: closed set, created + closed events", async () => {
    const r = await create(base({ statusId: 3 }), "2026-11-26T09:30:00Z");
    const t = await one(
      "SELECT status_id, closed, lastupdate, est_duedate, staff_id FROM ost_ticket WHERE ticket_id = ?",
      [r.ticketId],
    );
    expect(t).toEqual({
      status_id: 3,
      closed: "2026-11-26 09:30:00",
      lastupdate: "2026-11-26 09:30:00",
      est_duedate: "2026-12-01 13:00:00",
      staff_id: 0,
    });
    const events = await h.query(
      "SELECT event_id, data, username, uid, uid_type FROM ost_thread_event WHERE thread_id = ? ORDER BY id",
      [r.threadId],
    );
    expect(events).toEqual([
      { event_id: 1, data: null, username: "SYSTEM", uid: r.userId, uid_type: "U" },
      { event_id: 2, data: '{"status":[3,"Closed"]}', username: "SYSTEM", uid: null, uid_type: "S" },
    ]);
  });

  it("reproduces the legacy priority quirks", async () => {
    const priorityOf = async (input: Partial<CreateTicketInput>) => {
      const r = await create(base(input));
      const value = await one(
        "SELECT v.value, v.value_id FROM ost_form_entry_values v JOIN ost_form_entry e ON e.id = v.entry_id WHERE e.object_type = 'T' AND e.object_id = ? AND v.field_id = 22",
        [r.ticketId],
      );
      const cdata = await one("SELECT priority FROM ost_ticket__cdata WHERE ticket_id = ?", [r.ticketId]);
      return [value.value, value.value_id, cdata.priority];
    };
    expect(await priorityOf({ priority: 3, topicId: 2 })).toEqual(["High", 3, "3"]);
    expect(await priorityOf({ topicId: 2 })).toEqual(["Low", 1, "1"]);
    expect(await priorityOf({ priorityId: 4 })).toEqual(["Emergency", 4, "4"]);
    expect(await priorityOf({ priority: "High" })).toEqual([null, 2, "2"]);
    expect(await priorityOf({ priorityId: "Emergency" })).toEqual([null, 0, ""]);
    // Typed requests resolve names.
    expect(await priorityOf({ legacy: false, priority: "high" })).toEqual(["High", 3, "3"]);
  });

  it("emits the created event inside the transaction; a failing emit rolls everything back", async () => {
    const seen: string[] = [];
    const r = await h.tx((tx) =>
      createTicket(tx, base(), SYSTEM_ACTOR, {
        metadata: h.metadata(),
        emit: async (event, etx) => {
          seen.push(event.type);
          const [row] = await etx.all("SELECT COUNT(*) AS n FROM ost_ticket WHERE ticket_id = ?", [
            event.ticketId,
          ]);
          expect(row ? int(row, "n") : 0).toBe(1);
          await writeOutboxRow(etx, {
            subject: "osticket.events.ticket.created",
            eventType: event.type,
            aggregateType: "ticket",
            aggregateId: String(event.ticketId),
            payload: new TextEncoder().encode(JSON.stringify(event)),
            headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
          });
        },
      }),
    );
    expect(seen).toEqual(["ticket.created"]);
    const outbox = await one(
      "SELECT subject, event_type, aggregate_id, headers FROM ostmesh_outbox WHERE aggregate_id = ?",
      [String(r.ticketId)],
    );
    expect(outbox).toMatchObject({ subject: "osticket.events.ticket.created", event_type: "ticket.created" });

    const before = await h.counts();
    const failed = await h
      .tx((tx) =>
        createTicket(
          tx,
          base({ requester: { email: "rollback@example.com", name: "Roll Back" } }),
          SYSTEM_ACTOR,
          {
            metadata: h.metadata(),
            emit: async () => {
              throw new Error("bus serialisation failed");
            },
          },
        ),
      )
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    expect(await h.counts()).toEqual(before);
  });

  it("creates staff tickets with topic defaults, assignment events and a due date", async () => {
    const r = await h.tx((tx) =>
      createTicket(
        tx,
        {
          requester: { email: "phone.caller@example.com", name: "Phone Caller" },
          subject: "Called in",
          message: "<p>Notes from the call</p>",
          messageFormat: "html",
          source: "Phone",
          origin: "staff",
          topicId: 10,
          staffId: 1,
          teamId: 1,
          dueDate: new Date("2026-12-24T17:00:00Z"),
        },
        { kind: "staff", staffId: 1 },
        { clock: fixedClock("2026-11-26T10:00:00Z"), metadata: h.metadata() },
      ),
    );
    const t = await one(
      "SELECT source, dept_id, topic_id, staff_id, team_id, duedate FROM ost_ticket WHERE ticket_id = ?",
      [r.ticketId],
    );
    expect(t).toEqual({
      source: "Phone",
      dept_id: 3,
      topic_id: 10,
      staff_id: 1,
      team_id: 1,
      duedate: "2026-12-24 17:00:00",
    });
    const events = await h.query(
      "SELECT e.name, t.staff_id, t.team_id, t.data, t.username, t.uid, t.uid_type FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id WHERE t.thread_id = ? ORDER BY t.id",
      [r.threadId],
    );
    expect(events).toEqual([
      { name: "created", staff_id: 1, team_id: 0, data: null, username: "ostadmin", uid: 1, uid_type: "S" },
      {
        name: "assigned",
        staff_id: 1,
        team_id: 0,
        data: '{"claim":true}',
        username: "Ticket Filter",
        uid: 1,
        uid_type: "S",
      },
      {
        name: "assigned",
        staff_id: 1,
        team_id: 1,
        data: '{"team":1}',
        username: "Ticket Filter",
        uid: 1,
        uid_type: "S",
      },
    ]);
    const form = await one(
      "SELECT sort, extra FROM ost_form_entry WHERE object_type = 'T' AND object_id = ?",
      [r.ticketId],
    );
    expect(form).toEqual({ sort: 0, extra: '{"disable":[]}' });
  });
});

describe("help-topic forms and custom numbering", () => {
  it("writes the topic's extra form by variable name, honours disabled fields and required fields", async () => {
    await h.tx(async (tx) => {
      await tx.run(
        "INSERT INTO ost_form (id, type, flags, title, name, created, updated) VALUES (50, 'G', 1, 'Device', '', NOW(), NOW())",
      );
      const field =
        "INSERT INTO ost_form_field (id, form_id, flags, type, label, name, configuration, sort, created, updated) VALUES ";
      await tx.run(
        `${field}(501, 50, 13057, 'text', 'Serial', 'serial', NULL, 1, NOW(), NOW()),` +
          ` (502, 50, 13057, 'choices', 'Color', 'color', '{"choices":"r:Red\\\\ng:Green"}', 2, NOW(), NOW()),` +
          ` (503, 50, 13057, 'bool', 'Urgent', 'urgent', NULL, 3, NOW(), NOW()),` +
          ` (504, 50, 13057, 'memo', 'Details', 'details', NULL, 4, NOW(), NOW()),` +
          ` (505, 50, 13057, 'text', 'Hidden', 'hidden', NULL, 5, NOW(), NOW()),` +
          ` (506, 50, 14081, 'text', 'Asset tag', 'asset', NULL, 6, NOW(), NOW())`,
      );
      await tx.run(
        "INSERT INTO ost_help_topic_form (topic_id, form_id, sort, extra) VALUES (2, 50, 2, '{\"disable\":[505]}')",
      );
    });
    // Ticket::create array_merges a topic form's errors, renumbering every field id key so far from 0.
    await expectRejected(base({ topicId: 2, answers: { serial: "SN-1" } }), [
      { key: "0", message: "Asset tag is a required field" },
    ]);
    await expectRejected(
      base({ requester: { email: "bad", name: "X" }, topicId: 2, subject: "", answers: { serial: "SN-1" } }),
      [
        USER_ERROR,
        { key: "0", message: "Issue Summary is a required field" },
        { key: "1", message: "Asset tag is a required field" },
      ],
    );
    // Only the legacy API shows the keys: other callers keep the field ids, which name the fields.
    await expectRejected(base({ topicId: 2, answers: { serial: "SN-1" }, legacy: false }), [
      { key: "506", message: "Asset tag is a required field" },
    ]);
    const r = await create(
      base({
        topicId: 2,
        answers: {
          serial: "SN-1",
          color: "g",
          urgent: "1",
          details: "<b>big</b> screen",
          hidden: "x",
          asset: "A-7",
        },
      }),
    );
    const entries = await h.query(
      "SELECT id, form_id, sort, extra FROM ost_form_entry WHERE object_type = 'T' AND object_id = ? ORDER BY sort",
      [r.ticketId],
    );
    expect(entries.map(({ form_id, sort, extra }) => ({ form_id, sort, extra }))).toEqual([
      { form_id: 2, sort: 0, extra: '{"disable":[]}' },
      { form_id: 50, sort: 1, extra: '{"disable":[505]}' },
    ]);
    const values = await h.query(
      "SELECT field_id, value, value_id FROM ost_form_entry_values WHERE entry_id = ? ORDER BY field_id",
      [entries[1] ? int(entries[1], "id") : 0],
    );
    expect(values).toEqual([
      { field_id: 501, value: "SN-1", value_id: null },
      { field_id: 502, value: '{"g":"Green"}', value_id: null },
      { field_id: 503, value: "1", value_id: null },
      { field_id: 504, value: "<b>big</b> screen", value_id: null },
      { field_id: 506, value: "A-7", value_id: null },
    ]);
    const search = await one("SELECT content FROM ost__search WHERE object_type = 'T' AND object_id = ?", [
      r.ticketId,
    ]);
    expect(search.content).toBe("Valid subject\nSN-1\nGreen\nYes\nbig screen\nA-7");
  });

  it("numbers tickets of a custom-numbering topic from its own sequence and format", async () => {
    await h.tx(async (tx) => {
      await tx.run("UPDATE ost_sequence SET `next` = 5, `increment` = 1, padding = '0' WHERE id = 1");
      await tx.run(
        "UPDATE ost_help_topic SET flags = flags | 1, sequence_id = 1, number_format = 'PR-####' WHERE topic_id = 1",
      );
    });
    const a = await create(base({ topicId: 1 }));
    const b = await create(base({ topicId: 1 }));
    expect([a.number, b.number]).toEqual(["PR-0005", "PR-0006"]);
  });
});
