import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TicketDeniedError, TicketValidationError } from "../errors.ts";
import { type Actor, SYSTEM_ACTOR } from "../ports.ts";
import { MetadataCache } from "../reference/forms.ts";
import { int } from "../rows.ts";
import { fixedClock, type Harness, openHarness } from "../testing/harness.ts";
import { recordingSql } from "../testing/round-trips.ts";
import {
  ASSIGN_DENIED,
  type CreateTicketInput,
  createTicket,
  DEPT_CREATE_DENIED,
  USER_CREATE_DENIED,
} from "./create-ticket.ts";

let h: Harness;
beforeAll(async () => {
  h = await openHarness("createedge");
  await h.setConfig("verify_email_addrs", "0");
});
afterAll(async () => {
  await h?.close();
});

const create = (input: CreateTicketInput, actor: Actor = SYSTEM_ACTOR) =>
  h.tx((tx) =>
    createTicket(tx, input, actor, { clock: fixedClock("2026-06-01T12:00:00Z"), metadata: h.metadata() }),
  );
const input = (email: string, extra: Partial<CreateTicketInput> = {}): CreateTicketInput => ({
  requester: { email, name: "Edge Case" },
  subject: "Edge",
  message: "Edge message",
  legacy: true,
  ...extra,
});

describe("createTicket edges", () => {
  it("enforces max_open_tickets for known requesters (nothing written)", async () => {
    await create(input("limit@example.com"));
    await h.setConfig("max_open_tickets", "1");
    try {
      const before = await h.counts();
      const error = await create(input("LIMIT@example.com")).catch((e: unknown) => e);
      expect(error instanceof TicketValidationError ? error.issues : error).toEqual([
        { key: "err", message: "You've reached the maximum open tickets allowed." },
      ]);
      expect(await h.counts()).toEqual(before);
      // Agents are not limited.
      const staff = await create(
        input("limit@example.com", { origin: "staff", source: "Phone", topicId: 1 }),
        {
          kind: "staff",
          staffId: 1,
        },
      );
      expect(staff.userCreated).toBe(false);
    } finally {
      await h.setConfig("max_open_tickets", "");
    }
  });

  it("joins an organization by e-mail domain and assigns its account manager", async () => {
    await h.tx((tx) =>
      tx.run(
        "INSERT INTO ost_organization (id, name, manager, status, domain, created) VALUES (7, 'Acme', 's1', 4, 'other.example, acme.example, .corp.example', NOW())",
      ),
    );
    // osTicket pre-filters with `domain LIKE %<domain>%`, so a subdomain rule (".corp.example") never matches.
    const sub = await create(input("buyer@eu.corp.example"));
    expect((await h.query("SELECT org_id FROM ost_user WHERE id = ?", [sub.userId]))[0]).toEqual({
      org_id: 0,
    });
    const r = await create(input("buyer@ACME.example"));
    const user = (await h.query("SELECT org_id FROM ost_user WHERE id = ?", [r.userId]))[0];
    expect(user).toEqual({ org_id: 7 });
    expect(r.staffId).toBe(1);
    const event = (
      await h.query(
        "SELECT data, username, uid FROM ost_thread_event WHERE thread_id = ? ORDER BY id DESC LIMIT 1",
        [r.threadId],
      )
    )[0];
    expect(event).toEqual({ data: '{"staff":1}', username: "Ticket Filter", uid: null });
  });

  it("applies the system mailbox of an e-mail ticket", async () => {
    const r = await create(input("mailer@example.com", { source: "Email", emailId: 1 }));
    const t = (
      await h.query("SELECT email_id, source, dept_id FROM ost_ticket WHERE ticket_id = ?", [r.ticketId])
    )[0];
    expect(t).toEqual({ email_id: 1, source: "Email", dept_id: 1 });
  });

  it("tolerates cdata tables that lost a column or disappeared", async () => {
    await h.tx((tx) => tx.run("ALTER TABLE ost_ticket__cdata DROP COLUMN priority"));
    const a = await create(input("cdata1@example.com"));
    expect((await h.query("SELECT * FROM ost_ticket__cdata WHERE ticket_id = ?", [a.ticketId]))[0]).toEqual({
      ticket_id: a.ticketId,
      subject: "Edge",
    });
    await h.tx((tx) => tx.run("DROP TABLE ost_ticket__cdata"));
    const b = await create(input("cdata2@example.com"));
    const values = await h.query(
      "SELECT v.field_id, v.value FROM ost_form_entry_values v JOIN ost_form_entry e ON e.id = v.entry_id WHERE e.object_type = 'T' AND e.object_id = ? ORDER BY v.field_id",
      [b.ticketId],
    );
    expect(values).toEqual([
      { field_id: 20, value: "Edge" },
      { field_id: 22, value: "Normal" },
    ]);
  });
});

describe("collaborators", () => {
  it("adds existing users as collaborators, logs collab events and lists them on the first message", async () => {
    const friend = await create(
      input("friend@example.com", { requester: { email: "friend@example.com", name: "Friend Person" } }),
    );
    const owner = await create(
      input("owner.cc@example.com", { requester: { email: "owner.cc@example.com", name: "Owner Cc" } }),
    );
    const r = await create(
      input("owner.cc@example.com", {
        collaboratorUserIds: [friend.userId, owner.userId, friend.userId, 999_999],
      }),
    );
    const collabs = await h.query(
      "SELECT id, user_id, flags, role FROM ost_thread_collaborator WHERE thread_id = ?",
      [r.threadId],
    );
    expect(collabs.map(({ user_id, flags, role }) => ({ user_id, flags, role }))).toEqual([
      { user_id: friend.userId, flags: 3, role: "M" },
    ]);
    const events = await h.query(
      "SELECT e.name, t.data FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id WHERE t.thread_id = ? ORDER BY t.id",
      [r.threadId],
    );
    expect(events).toEqual([
      { name: "created", data: null },
      { name: "collab", data: `{"add":{"${friend.userId}":{"name":"Friend Person"}}}` },
    ]);
    const entry = (
      await h.query("SELECT flags, recipients FROM ost_thread_entry WHERE id = ?", [r.messageEntryId])
    )[0];
    expect(entry).toEqual({
      flags: 513,
      recipients: `{"cc":{"${collabs[0]?.id}":"Friend Person <friend@example.com>"}}`,
    });
    const error = await create(
      input("owner.cc@example.com", { legacy: false, collaboratorUserIds: [999_999] }),
    ).catch((e: unknown) => e);
    expect(error instanceof TicketValidationError ? error.issues : error).toEqual([
      { key: "collaborators", message: "Unknown user 999999" },
    ]);
  });
});

describe("collaborators by address", () => {
  it("creates an agent's unknown Cc addresses after checking them like the contact form (DNS, org by domain)", async () => {
    await h.tx((tx) =>
      tx.run(
        "INSERT INTO ost_organization (id, name, manager, status, domain, created) VALUES (8, 'Cc Org', '', 0, 'ccorg.example', NOW())",
      ),
    );
    await h.setConfig("verify_email_addrs", "1");
    const agent: Actor = { kind: "staff", staffId: 1 };
    const run = (addresses: CreateTicketInput["collaboratorAddresses"], create = true) =>
      h.tx((tx) =>
        createTicket(
          tx,
          input("owner.dns@mail.example", {
            legacy: false,
            origin: "staff",
            source: "Phone",
            topicId: 1,
            collaboratorAddresses: addresses,
            createCollaborators: create,
          }),
          agent,
          {
            clock: fixedClock("2026-06-01T12:00:00Z"),
            metadata: h.metadata(),
            verifyMailDomain: async (domain) => domain !== "nomail.example",
          },
        ),
      );
    try {
      const before = await h.counts();
      const error = await run([
        { email: "someone@nomail.example", name: "No Mail" },
        { email: "x@ccorg.example", name: "Fine" },
      ]).catch((e: unknown) => e);
      expect(error instanceof TicketValidationError ? error.issues : error).toEqual([
        { key: "collaborators[0].email", message: "Enter a valid email address" },
      ]);
      expect(await h.counts()).toEqual(before);

      // Without createCollaborators (API callers) an unknown address is refused, however valid.
      const refused = await run([{ email: "x@ccorg.example", name: "Fine" }], false).catch((e: unknown) => e);
      expect(refused instanceof TicketValidationError ? refused.issues : refused).toEqual([
        { key: "collaborators[0].email", message: "no end user has the address x@ccorg.example" },
      ]);

      const r = await run([{ email: "x@ccorg.example", name: "<b>Fine</b>, Fay" }]);
      const [user] = await h.query(
        "SELECT u.name, u.org_id FROM ost_thread_collaborator c JOIN ost_user u ON u.id = c.user_id WHERE c.thread_id = ?",
        [r.threadId],
      );
      expect(user).toEqual({ name: "Fay Fine", org_id: 8 });
    } finally {
      await h.setConfig("verify_email_addrs", "0");
    }
  });
});

/** The first message's recipients and flags, and the thread's collaborators and events. */
async function threadRows(r: { threadId: number; messageEntryId: number }) {
  return {
    entry: (
      await h.query("SELECT flags, recipients FROM ost_thread_entry WHERE id = ?", [r.messageEntryId])
    )[0],
    collaborators: await h.query(
      "SELECT id, user_id, flags, role FROM ost_thread_collaborator WHERE thread_id = ? ORDER BY id",
      [r.threadId],
    ),
    events: await h.query(
      "SELECT e.name, t.data, t.username, t.uid, t.uid_type FROM ost_thread_event t" +
        " JOIN ost_event e ON e.id = t.event_id WHERE t.thread_id = ? ORDER BY t.id",
      [r.threadId],
    ),
  };
}

describe("organization auto-collaboration (Ticket::create, every origin)", () => {
  it("adds all members, or only primary contacts, a collab event each and one naming the organization", async () => {
    await h.tx((tx) =>
      tx.run(
        "INSERT INTO ost_organization (id, name, manager, status, domain, created) VALUES (9, 'Collab Org', '', 0, 'collab.example', NOW())",
      ),
    );
    const member = (email: string, name: string) => create(input(email, { requester: { email, name } }));
    const ann = await member("ann@collab.example", "Ann Member");
    const bob = await member("bob@collab.example", "Bob Member");
    const cat = await member("cat@collab.example", "Cat Owner");
    await h.tx((tx) => tx.run("UPDATE ost_user SET status = 1 WHERE id = ?", [bob.userId]));
    const system = { username: "SYSTEM", uid: null, uid_type: "S" };

    // COLLAB_ALL_MEMBERS: everyone but the owner, by user id; the legacy API's first message lists them.
    await h.tx((tx) => tx.run("UPDATE ost_organization SET status = 1 WHERE id = 9"));
    const all = await threadRows(await create(input("cat@collab.example")));
    expect(all.collaborators.map(({ id, ...c }) => c)).toEqual([
      { user_id: ann.userId, flags: 3, role: "M" },
      { user_id: bob.userId, flags: 3, role: "M" },
    ]);
    expect(all.events).toEqual([
      { name: "created", data: null, username: "SYSTEM", uid: cat.userId, uid_type: "U" },
      { name: "collab", data: `{"add":{"${ann.userId}":{"name":"Ann Member"}}}`, ...system },
      { name: "collab", data: `{"add":{"${bob.userId}":{"name":"Bob Member"}}}`, ...system },
      { name: "collab", data: '{"org":9}', ...system },
    ]);
    const [annCollab, bobCollab] = all.collaborators.map((c) => c.id);
    expect(all.entry).toEqual({
      flags: 0x101,
      recipients:
        `{"cc":{"${annCollab}":"Ann Member <ann@collab.example>",` +
        `"${bobCollab}":"Bob Member <bob@collab.example>"}}`,
    });

    // COLLAB_PRIMARY_CONTACT: primary contacts only; a Cc already on the thread is not added twice.
    await h.tx((tx) => tx.run("UPDATE ost_organization SET status = 2 WHERE id = 9"));
    const primary = await threadRows(
      await create(input("cat@collab.example", { collaboratorUserIds: [bob.userId] })),
    );
    expect(primary.collaborators.map((c) => c.user_id)).toEqual([bob.userId]);
    expect(primary.events.map((e) => e.data)).toEqual([
      null,
      `{"add":{"${bob.userId}":{"name":"Bob Member"}}}`,
    ]);
    const onlyPrimary = await threadRows(await create(input("ann@collab.example")));
    expect(onlyPrimary.collaborators.map((c) => c.user_id)).toEqual([bob.userId]);
    expect(onlyPrimary.events.map((e) => e.data)).toEqual([
      null,
      `{"add":{"${bob.userId}":{"name":"Bob Member"}}}`,
      '{"org":9}',
    ]);

    // The primary contact's own ticket: nobody joins, no organization event, nothing to list.
    const own = await threadRows(await create(input("bob@collab.example")));
    expect(own.collaborators).toEqual([]);
    expect(own.events.map((e) => e.name)).toEqual(["created"]);
    expect(own.entry).toEqual({ flags: 1, recipients: null });

    // The client portal: events by the signed-in user (no account: their address).
    await h.tx((tx) => tx.run("UPDATE ost_organization SET status = 1 WHERE id = 9"));
    const portal = await threadRows(
      await create(
        input("", {
          requester: { userId: cat.userId },
          legacy: false,
          origin: "web",
          source: "Web",
          topicId: 1,
        }),
        { kind: "user", userId: cat.userId },
      ),
    );
    expect(portal.collaborators.map((c) => c.user_id)).toEqual([ann.userId, bob.userId]);
    // No user object reaches these events (Thread::logCollaboratorEvents, the org `collab` event): osTicket
    // takes `$thisclient`, a ClientSession that is neither Staff nor User, so uid stays NULL with type 'S'.
    const user = { username: "cat@collab.example", uid: null, uid_type: "S" };
    expect(portal.events.slice(1)).toEqual([
      { name: "collab", data: `{"add":{"${ann.userId}":{"name":"Ann Member"}}}`, ...user },
      { name: "collab", data: `{"add":{"${bob.userId}":{"name":"Bob Member"}}}`, ...user },
      { name: "collab", data: '{"org":9}', ...user },
    ]);

    // E-mail: the members join, the message lists the mail's own addressees (the e-mail channel's).
    const mail = await threadRows(await create(input("cat@collab.example", { source: "Email", emailId: 1 })));
    expect(mail.collaborators.map((c) => c.user_id)).toEqual([ann.userId, bob.userId]);
    expect(mail.entry).toEqual({ flags: 1, recipients: null });

    // Without an agent signed in, a member with an agent's address joins inactive (disable_agent_collabs).
    const [admin] = await h.query("SELECT email FROM ost_staff WHERE staff_id = 1");
    await h.tx((tx) => tx.run("UPDATE ost_staff SET email = 'ann@collab.example' WHERE staff_id = 1"));
    await h.setConfig("disable_agent_collabs", "1");
    try {
      const api = await threadRows(await create(input("cat@collab.example")));
      expect(api.collaborators.map((c) => [c.user_id, c.flags])).toEqual([
        [ann.userId, 2],
        [bob.userId, 3],
      ]);
      expect(api.entry?.recipients).toBe(
        `{"cc":{"${api.collaborators[1]?.id}":"Bob Member <bob@collab.example>"}}`,
      );
    } finally {
      await h.setConfig("disable_agent_collabs", "");
      await h.tx((tx) => tx.run("UPDATE ost_staff SET email = ? WHERE staff_id = 1", [String(admin?.email)]));
    }
    // Everything in the create's transaction: a refused create adds nobody.
    const before = await h.counts();
    await expect(create(input("cat@collab.example", { subject: "" }))).rejects.toBeInstanceOf(
      TicketValidationError,
    );
    expect(await h.counts()).toEqual(before);
  });
});

describe("first message of an agent's ticket (Ticket::open with the Ticket Notice choice)", () => {
  const agent: Actor = { kind: "staff", staffId: 1 };
  const staff = (email: string, extra: Partial<CreateTicketInput> = {}) =>
    input(email, {
      requester: { email, name: "Walk In" },
      legacy: false,
      origin: "staff",
      source: "Phone",
      topicId: 1,
      ...extra,
    });

  it("lists the requester under to and the Cc list under cc while ticket_notice_active is on", async () => {
    await h.setConfig("ticket_notice_active", "1");
    const alone = await create(staff("walk.in@example.com"), agent);
    expect((await threadRows(alone)).entry).toEqual({
      flags: 0x201,
      recipients: `{"to":{"${alone.userId}":"Walk In <walk.in@example.com>"}}`,
    });

    const friend = await create(
      input("friend.cc@example.com", { requester: { email: "friend.cc@example.com", name: "Fred Friend" } }),
    );
    const html = await create(
      staff("walk.in@example.com", {
        collaboratorAddresses: [{ email: "friend.cc@example.com" }],
        message: "<p>hi</p>",
        messageFormat: "html",
      }),
      agent,
    );
    const rows = await threadRows(html);
    expect(rows.entry).toEqual({
      flags: 0x141,
      recipients:
        `{"to":{"${alone.userId}":"Walk In <walk.in@example.com>"},` +
        `"cc":{"${rows.collaborators[0]?.id}":"Fred Friend <friend.cc@example.com>"}}`,
    });
    expect(rows.collaborators.map((c) => c.user_id)).toEqual([friend.userId]);

    // "Do Not Send Alert" (autorespond false): no recipients at all.
    const quiet = await create(
      staff("walk.in@example.com", {
        collaboratorAddresses: [{ email: "friend.cc@example.com" }],
        autorespond: false,
      }),
      agent,
    );
    expect((await threadRows(quiet)).entry).toEqual({ flags: 1, recipients: null });
  });

  it("lists only the Cc list's collaborators, not the organization's others (getRecipients' whitelist)", async () => {
    await h.setConfig("ticket_notice_active", "1");
    await h.tx((tx) =>
      tx.run(
        "INSERT INTO ost_organization (id, name, manager, status, domain, created) VALUES (10, 'Listed Org', '', 0, 'listed.example', NOW())",
      ),
    );
    const mate = await create(
      input("mate@listed.example", { requester: { email: "mate@listed.example", name: "Mo Mate" } }),
    );
    const boss = await create(
      input("boss@listed.example", { requester: { email: "boss@listed.example", name: "Bo Boss" } }),
    );
    await h.tx((tx) => tx.run("UPDATE ost_organization SET status = 1 WHERE id = 10"));
    const withCc = await create(
      staff("owner@listed.example", { collaboratorAddresses: [{ email: "boss@listed.example" }] }),
      agent,
    );
    const rows = await threadRows(withCc);
    expect(rows.collaborators.map((c) => c.user_id)).toEqual([boss.userId, mate.userId]);
    expect(rows.events.map((e) => [e.name, e.username, e.uid_type])).toEqual([
      ["created", "ostadmin", "S"],
      ["collab", "ostadmin", "S"],
      ["collab", "ostadmin", "S"],
      ["collab", "ostadmin", "S"],
    ]);
    expect(rows.entry).toEqual({
      flags: 0x101,
      recipients:
        `{"to":{"${withCc.userId}":"Walk In <owner@listed.example>"},` +
        `"cc":{"${rows.collaborators[0]?.id}":"Bo Boss <boss@listed.example>"}}`,
    });
    // Without a Cc list every active collaborator is listed (by name).
    const noCc = await create(staff("owner@listed.example"), agent);
    const all = await threadRows(noCc);
    const byUser = new Map(all.collaborators.map((c) => [c.user_id, c.id]));
    expect(all.entry).toEqual({
      flags: 0x101,
      recipients:
        `{"to":{"${noCc.userId}":"Walk In <owner@listed.example>"},` +
        `"cc":{"${byUser.get(boss.userId)}":"Bo Boss <boss@listed.example>",` +
        `"${byUser.get(mate.userId)}":"Mo Mate <mate@listed.example>"}}`,
    });
    await h.tx((tx) => tx.run("UPDATE ost_organization SET status = 0 WHERE id = 10"));
  });

  it("lists the Cc list without the requester while ticket_notice_active is off", async () => {
    await h.setConfig("ticket_notice_active", "0");
    try {
      const alone = await create(staff("walk.in@example.com"), agent);
      expect((await threadRows(alone)).entry).toEqual({ flags: 1, recipients: null });
      const withCc = await create(
        staff("walk.in@example.com", { collaboratorAddresses: [{ email: "friend.cc@example.com" }] }),
        agent,
      );
      const rows = await threadRows(withCc);
      expect(rows.entry).toEqual({
        flags: 0x201,
        recipients: `{"cc":{"${rows.collaborators[0]?.id}":"Fred Friend <friend.cc@example.com>"}}`,
      });
    } finally {
      await h.setConfig("ticket_notice_active", "1");
    }
  });
});

describe("concurrency", () => {
  it("reuses the user a concurrent request created for the same new address", async () => {
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        create(input("race@example.com", { requester: { email: "race@example.com", name: `Racer ${i}` } })),
      ),
    );
    const userIds = new Set(results.map((r) => r.userId));
    expect(userIds.size).toBe(1);
    expect(results.filter((r) => r.userCreated)).toHaveLength(1);
    const [users] = await h.query(
      "SELECT COUNT(*) AS n FROM ost_user_email WHERE address = 'race@example.com'",
    );
    expect(users ? int(users, "n") : 0).toBe(1);
    expect(new Set(results.map((r) => r.number)).size).toBe(4);
  });
});

describe("MetadataCache", () => {
  it("serves forms from memory within the TTL and re-reads them after", async () => {
    let now = 1_000;
    const cache = new MetadataCache({ ttlMs: 100, now: () => now });
    const label = async () =>
      (await h.tx((tx) => cache.byType(tx, "T")))?.fields.find((f) => f.name === "subject")?.label;
    expect(await label()).toBe("Issue Summary");
    await h.tx((tx) => tx.run("UPDATE ost_form_field SET label = 'Summary' WHERE id = 20"));
    expect(await label()).toBe("Issue Summary");
    now += 101;
    expect(await label()).toBe("Summary");
    const events = await h.tx((tx) => cache.eventIds(tx));
    expect(events.get("created")).toBe(1);
    const [row] = await h.query("SELECT COUNT(*) AS n FROM ost_event");
    expect(events.size).toBe(row ? int(row, "n") : -1);
  });
});

describe("round trips", () => {
  it("creates a ticket in a bounded number of round trips (forms, events and schedules cached, result-less writes deferred)", async () => {
    const metadata = new MetadataCache({ ttlMs: 60_000 });
    // Round trips: statements the use case waits for; deferred writes travel with the next one.
    let recorded: ReturnType<typeof recordingSql> | undefined;
    const run = (email: string) =>
      h.tx((tx) => {
        recorded = recordingSql(tx);
        return createTicket(recorded.sql, input(email), SYSTEM_ACTOR, { metadata });
      });
    const count = async (email: string) => {
      await run(email);
      return { roundTrips: recorded?.roundTrips.length, deferred: recorded?.deferred.length };
    };
    await run("warm@example.com");
    const newUser = await count("fresh@example.com");
    const knownUser = await count("fresh@example.com");
    expect({ newUser, knownUser }).toEqual({
      newUser: { roundTrips: 5, deferred: 9 },
      knownUser: { roundTrips: 4, deferred: 5 },
    });
  });

  it("reads the contact form's list items in the same read-ahead round trip", async () => {
    const { listId, fieldId } = await h.tx(async (tx) => {
      const [list] = await tx.runAll([
        {
          sql:
            "INSERT INTO ost_list SET name = 'Tiers', name_plural = 'Tiers', sort_mode = 'SortCol', masks = 0," +
            " configuration = '', created = NOW(), updated = NOW()",
          params: [],
        },
      ]);
      const id = list?.insertId ?? 0;
      await tx.run(
        "INSERT INTO ost_list_items SET list_id = ?, status = 1, value = 'Gold', extra = 'GLD', sort = 1",
        [id],
      );
      const [field] = await tx.runAll([
        {
          sql:
            "INSERT INTO ost_form_field (form_id, flags, type, label, name, sort, created, updated)" +
            " SELECT id, 0x3301, ?, 'Tier', 'tier', 90, NOW(), NOW() FROM ost_form WHERE type = 'U' ORDER BY id LIMIT 1",
          params: [`list-${id}`],
        },
      ]);
      // osTicket adds the field's column to the cdata mirror when the field is added.
      await tx.run("ALTER TABLE ost_user__cdata ADD COLUMN tier mediumtext");
      return { listId: id, fieldId: field?.insertId ?? 0 };
    });
    try {
      const metadata = new MetadataCache({ ttlMs: 60_000 });
      let recorded: ReturnType<typeof recordingSql> | undefined;
      const run = (email: string) =>
        h.tx((tx) => {
          recorded = recordingSql(tx);
          return createTicket(recorded.sql, input(email, { answers: { tier: "gld" } }), SYSTEM_ACTOR, {
            metadata,
          });
        });
      await run("warm.tier@example.com");
      const created = await run("fresh.tier@example.com");
      expect(recorded?.roundTrips.length).toBe(5);
      const [row] = await h.query(
        "SELECT v.value FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
          " WHERE e.object_type = 'U' AND e.object_id = ? AND v.field_id = ?",
        [created.userId, fieldId],
      );
      const [gold] = await h.query("SELECT id FROM ost_list_items WHERE list_id = ?", [listId]);
      expect(row?.value).toBe(`{"${gold?.id}":"Gold"}`);
    } finally {
      await h.tx(async (tx) => {
        await tx.run("DELETE FROM ost_form_field WHERE id = ?", [fieldId]);
        await tx.run("ALTER TABLE ost_user__cdata DROP COLUMN tier");
      });
    }
  });
});

describe("an agent without user.create: osTicket's first error (Ticket::open, then Ticket::create)", () => {
  const agent: Actor = { kind: "staff", staffId: 1 };
  const MISSING = "Missing or invalid data — Correct any errors below and try again";
  const DENIED = { key: "user", message: USER_CREATE_DENIED };
  const staff = (extra: Partial<CreateTicketInput> = {}): CreateTicketInput => ({
    requester: { email: "brand.new@example.com", name: "Brand New" },
    subject: "At the desk",
    message: "Came by",
    legacy: false,
    origin: "staff",
    source: "Phone",
    topicId: 1,
    createCollaborators: true,
    mayCreateUsers: false,
    ...extra,
  });
  // An earlier test relabels the subject field (osTicket's error names the label).
  const subjectRequired = async () => {
    const [field] = await h.query("SELECT label FROM ost_form_field WHERE id = 20");
    return { key: "20", message: `${String(field?.label)} is a required field` };
  };
  /** The refusal's issues (or the error itself), after checking that nothing was written. */
  const refused = async (request: CreateTicketInput) => {
    const before = await h.counts();
    const error = await create(request, agent).catch((e: unknown) => e);
    expect(await h.counts()).toEqual(before);
    return error instanceof TicketDeniedError
      ? { denied: error.email }
      : error instanceof TicketValidationError
        ? error.issues
        : error;
  };

  it("reports Ticket::create's origin checks (Validator::process) and the due date, never reaching the requester", async () => {
    expect(await refused(staff({ topicId: undefined }))).toEqual([
      { key: "topicId", message: "Help topic selection is required" },
      { key: "err", message: MISSING },
    ]);
    expect(await refused(staff({ dueDate: new Date("2026-05-31T12:00:00Z") }))).toEqual([
      { key: "duedate", message: "Due date must be in the future" },
    ]);
    // ostmesh's own check of a typed topic id sits with them, before the requester too.
    expect(await refused(staff({ topicId: 999 }))).toEqual([
      { key: "topicId", message: "Unknown or inactive help topic" },
    ]);
  });

  it("reports Ticket::open's requester checks first: an invalid address or no name is bad input, not a refusal", async () => {
    expect(await refused(staff({ requester: { email: "not-an-email", name: "X" }, subject: "" }))).toEqual([
      { key: "email", message: "Valid email address is required" },
      { key: "err", message: MISSING },
      await subjectRequired(),
    ]);
    expect(
      await refused(staff({ requester: { email: "nameless@example.com" }, topicId: undefined })),
    ).toEqual([
      { key: "name", message: "Name is required" },
      { key: "topicId", message: "Help topic selection is required" },
      { key: "err", message: MISSING },
    ]);
    // Agents with user.create get the same (Ticket::open checks before any permission).
    expect(
      await refused(staff({ requester: { email: "user@localhost", name: "X" }, mayCreateUsers: true })),
    ).toEqual([
      { key: "email", message: "Valid email address is required" },
      { key: "err", message: MISSING },
    ]);
  });

  it("denies a banned new address before refusing to create it (Ticket::filterTicketData runs first)", async () => {
    expect(await refused(staff({ requester: { email: "test@example.com", name: "Banned" } }))).toEqual({
      denied: "test@example.com",
    });
  });

  it("puts Ticket::create's `user` refusal before the ticket form's errors, whatever the contact form says", async () => {
    expect(await refused(staff({ subject: "", message: "" }))).toEqual([
      DENIED,
      await subjectRequired(),
      { key: "21", message: "Issue Details is a required field" },
    ]);
    // An invalid phone number would be "Incomplete client information" with the permission.
    expect(
      await refused(staff({ requester: { email: "brand.new@example.com", name: "Brand New", phone: "12" } })),
    ).toEqual([DENIED]);
    expect(
      await refused(
        staff({
          requester: { email: "brand.new@example.com", name: "Brand New", phone: "12" },
          mayCreateUsers: true,
        }),
      ),
    ).toEqual([{ key: "user", message: "Incomplete client information" }]);
  });

  it("refuses an unknown Cc address as the Add New user dialog does (ajax.users.php addUser), in the Cc list's place", async () => {
    const known = await create(
      input("known.owner@example.com", {
        requester: { email: "known.owner@example.com", name: "Known Owner" },
      }),
    );
    // A requester found by address needs no name (the staff panel posts the selected user's id).
    const owner = { email: "KNOWN.owner@example.com" };
    expect(
      await refused(
        staff({
          requester: owner,
          subject: "",
          collaboratorAddresses: [{ email: "known.owner@example.com" }, { email: "not-an-address" }],
        }),
      ),
    ).toEqual([await subjectRequired(), { key: "collaborators[1].email", message: USER_CREATE_DENIED }]);
    const r = await create(staff({ requester: owner }), agent);
    expect(r.userId).toBe(known.userId);
    expect(r.userCreated).toBe(false);
  });
});

// Ticket::open (include/class.ticket.php, osTicket 1.18.1) with Staff::getRole (include/class.staff.php).
describe("an agent's department and assignment permissions (Ticket::open)", () => {
  const agent: Actor = { kind: "staff", staffId: 1 };
  const MISSING = "Missing or invalid data — Correct any errors below and try again";
  // Support (1): creates, does not assign; Sales (2): View only; Maintenance (3): no role.
  const agentRoles = new Map<number, readonly string[]>([
    [1, ["ticket.create"]],
    [2, []],
  ]);
  const staff = (extra: Partial<CreateTicketInput> = {}): CreateTicketInput => ({
    requester: { email: "desk.walkin@example.com", name: "Desk Walkin" },
    subject: "At the desk",
    message: "Came by",
    legacy: false,
    origin: "staff",
    source: "Phone",
    topicId: 1,
    agentRoles,
    ...extra,
  });
  const refused = async (request: CreateTicketInput) => {
    const before = await h.counts();
    const error = await create(request, agent).catch((e: unknown) => e);
    expect(await h.counts()).toEqual(before);
    return error instanceof TicketValidationError ? error.issues : error;
  };

  it("refuses a department whose role lacks ticket.create before anything else, writing nothing", async () => {
    expect(
      await refused(staff({ deptId: 2, source: "Fax", requester: { email: "nope", name: "" }, staffId: 1 })),
    ).toEqual([{ key: "err", message: DEPT_CREATE_DENIED }]);
  });

  it("names a source Ticket::$sources lacks (case-sensitive, escaped) before the requester and the assignment", async () => {
    expect(
      await refused(
        staff({ deptId: 1, source: "<b>phone</b>", requester: { email: "nope", name: "" }, teamId: 1 }),
      ),
    ).toEqual([
      { key: "source", message: "Invalid source given - &lt;b&gt;phone&lt;/b&gt;" },
      { key: "email", message: "Valid email address is required" },
      { key: "name", message: "Name is required" },
      { key: "assignId", message: ASSIGN_DENIED },
      { key: "err", message: MISSING },
    ]);
    // Every Ticket::$sources key is accepted, Web and API included (the panel's list only hides them).
    for (const source of ["Web", "API", "Other", "Email"]) {
      const r = await create(
        staff({ source, requester: { email: `src.${source}@example.com`, name: "S" } }),
        agent,
      );
      expect(r.ticketId).toBeGreaterThan(0);
    }
  });

  it("takes ticket.assign from the department chosen, or from any role without one", async () => {
    expect(await refused(staff({ deptId: 1, staffId: 1 }))).toEqual([
      { key: "assignId", message: ASSIGN_DENIED },
      { key: "err", message: MISSING },
    ]);
    expect(await refused(staff({ teamId: 1 }))).toEqual([
      { key: "assignId", message: ASSIGN_DENIED },
      { key: "err", message: MISSING },
    ]);
    const anywhere = new Map<number, readonly string[]>([...agentRoles, [2, ["ticket.assign"]]]);
    const assigned = await create(staff({ agentRoles: anywhere, teamId: 1 }), agent);
    expect(assigned.teamId).toBe(1);
    // A department with no role of the agent's: the made-up role creates and assigns.
    const elsewhere = await create(staff({ deptId: 3, staffId: 1 }), agent);
    expect({ dept: elsewhere.deptId, staff: elsewhere.staffId }).toEqual({ dept: 3, staff: 1 });
  });

  it("checks the department posted, not the one the default resolves to", async () => {
    // No department chosen: the ticket lands in the default department, where the role lacks ticket.create.
    const [dept] = await h.query("SELECT value FROM ost_config WHERE `key` = 'default_dept_id'");
    const r = await create(staff({ agentRoles: new Map([[Number(dept?.value), []]]) }), agent);
    expect(r.deptId).toBe(Number(dept?.value));
  });
});
