import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TicketValidationError } from "../errors.ts";
import { type Actor, SYSTEM_ACTOR } from "../ports.ts";
import { MetadataCache } from "../reference/forms.ts";
import { int } from "../rows.ts";
import { fixedClock, type Harness, openHarness } from "../testing/harness.ts";
import { type CreateTicketInput, createTicket } from "./create-ticket.ts";

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
  it("creates a ticket in a bounded number of statements (forms and events cached)", async () => {
    const metadata = new MetadataCache({ ttlMs: 60_000 });
    const statements: string[] = [];
    const run = (email: string) =>
      h.tx((tx) =>
        createTicket(
          {
            all: (sql, params) => {
              statements.push(sql);
              return tx.all(sql, params);
            },
            first: (sql, params) => {
              statements.push(sql);
              return tx.first(sql, params);
            },
            run: (sql, params) => {
              statements.push(sql);
              return tx.run(sql, params);
            },
          },
          input(email),
          SYSTEM_ACTOR,
          { metadata },
        ),
      );
    await run("warm@example.com");
    statements.length = 0;
    await run("fresh@example.com");
    const newUser = statements.length;
    statements.length = 0;
    await run("fresh@example.com");
    const knownUser = statements.length;
    expect({ newUser, knownUser }).toEqual({ newUser: 21, knownUser: 14 });
  });
});
