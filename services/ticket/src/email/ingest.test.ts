import { createHash } from "node:crypto";
import { storeFile } from "@ostmesh/attachment/storage/index.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TicketValidationError } from "../domain/errors.ts";
import { writeOutboxRow } from "../domain/outbox.ts";
import type { Ports, TicketDomainEvent } from "../domain/ports.ts";
import { int, str } from "../domain/rows.ts";
import { EmailDeniedError, EmailParseError } from "./errors.ts";
import { type IngestEmailResult, ingestEmail } from "./ingest.ts";
import { countChanges, type MailHarness, openMailHarness, rawMail } from "./testing.ts";

let h: MailHarness;
const events: TicketDomainEvent[] = [];
let seed = 1;

beforeAll(async () => {
  h = await openMailHarness("email");
  // As on the captured install (no DNS there); e-mail users are never DNS-checked anyway.
  await h.setConfig("verify_email_addrs", "0");
});
afterAll(async () => {
  await h?.close();
});

/** Ports as the RPC layer wires them: every event goes to the outbox inside the ingest transaction. */
function ports(at: string): Ports {
  const clock = new Date(at);
  let state = seed++ * 7919;
  return {
    clock: { now: () => clock },
    random: () => {
      state = (state * 16807) % 2147483647;
      return state / 2147483647;
    },
    emit: async (event, tx) => {
      events.push(event);
      await writeOutboxRow(tx, {
        subject: `osticket.events.${event.type}`,
        eventType: event.type,
        aggregateType: "ticket",
        aggregateId: String(event.ticketId),
        payload: Buffer.from(JSON.stringify({ type: event.type, ticketId: event.ticketId })),
      });
    },
  };
}

const ingest = (raw: Uint8Array, at = "2026-03-02T09:00:00Z", ip = "10.0.0.7") =>
  ingestEmail(h.em, { raw, ip }, ports(at));

function plain(opts: {
  from: string;
  subject: string;
  mid: string;
  body?: string;
  extra?: string[];
  to?: string;
}): Uint8Array {
  return rawMail(
    [
      `From: ${opts.from}`,
      `To: ${opts.to ?? "Support <support@example.com>"}`,
      `Subject: ${opts.subject}`,
      `Message-ID: ${opts.mid}`,
      "Date: Mon, 02 Mar 2026 09:00:00 +0000",
      ...(opts.extra ?? []),
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
    ],
    opts.body ?? "Hello, my printer is broken.\n",
  );
}

const ticketRow = (id: number) => h.one("SELECT * FROM ost_ticket WHERE ticket_id = ?", [id]);
const entryRow = (id: number) => h.one("SELECT * FROM ost_thread_entry WHERE id = ?", [id]);
const emailRow = (entryId: number) =>
  h.one("SELECT * FROM ost_thread_entry_email WHERE thread_entry_id = ?", [entryId]);

function created(r: IngestEmailResult) {
  if (r.kind !== "created") throw new Error(`expected a new ticket, got ${r.kind}`);
  return r;
}
function threaded(r: IngestEmailResult) {
  if (r.kind !== "threaded") throw new Error(`expected a threaded reply, got ${r.kind}`);
  return r;
}

describe("new tickets from e-mail (FACTS §2.9)", () => {
  it("a plain-text mail opens a ticket for a new user, with its e-mail record", async () => {
    const raw = plain({
      from: '"Jane Doe" <Jane.Doe@example.com>',
      subject: "Printer broken",
      mid: "<m1@mail.example.com>",
    });
    const r = created(await ingest(raw));
    expect(r.userCreated).toBe(true);
    expect(r.number).toMatch(/^[1-9]\d{5}$/);

    const t = await ticketRow(r.ticketId);
    expect(t).toMatchObject({
      number: r.number,
      user_id: r.userId,
      status_id: 1,
      dept_id: 1,
      topic_id: 0,
      email_id: 1,
      ip_address: "10.0.0.7",
      source: "Email",
      created: "2026-03-02 09:00:00",
    });
    const user = await h.one(
      "SELECT u.name, e.address FROM ost_user u JOIN ost_user_email e ON e.id = u.default_email_id WHERE u.id = ?",
      [r.userId],
    );
    expect(user).toEqual({ name: "Jane Doe", address: "Jane.Doe@example.com" });

    const e = await entryRow(r.entryId);
    expect(e).toMatchObject({
      pid: 0,
      thread_id: r.threadId,
      staff_id: 0,
      user_id: r.userId,
      type: "M",
      flags: 513,
      poster: "Jane Doe",
      source: "Email",
      title: "Printer broken",
      body: "Hello, my printer is broken.",
      format: "text",
      ip_address: "10.0.0.7",
      recipients: '{"to":["Support <support@example.com>"]}',
      updated: "0000-00-00 00:00:00",
    });
    const m = await emailRow(r.entryId);
    expect(m.email_id).toBeNull();
    expect(m.mid).toBe("<m1@mail.example.com>");
    expect(str(m, "headers")).toBe(
      [
        'From: "Jane Doe" <Jane.Doe@example.com>',
        "To: Support <support@example.com>",
        "Subject: Printer broken",
        "Message-ID: <m1@mail.example.com>",
        "Date: Mon, 02 Mar 2026 09:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
      ].join("\r\n"),
    );
    const subject = await h.one("SELECT subject FROM ost_ticket__cdata WHERE ticket_id = ?", [r.ticketId]);
    expect(subject.subject).toBe("Printer broken");
    const ev = await h.query(
      "SELECT e.name, t.username, t.uid, t.uid_type FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id WHERE t.thread_id = ?",
      [r.threadId],
    );
    expect(ev).toEqual([{ name: "created", username: "SYSTEM", uid: r.userId, uid_type: "U" }]);
    expect(events.at(-1)).toMatchObject({ type: "ticket.created", ticketId: r.ticketId, source: "Email" });
  });

  it("multipart/alternative stores the html part (inside <body> only, trailing space), flags 577", async () => {
    const raw = rawMail(
      [
        "From: Html Sender <html.sender@example.com>",
        "To: support@example.com",
        "Subject: Html mail",
        "Message-ID: <m2@mail.example.com>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="ALT"',
      ],
      [
        "--ALT",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Html version.",
        "--ALT",
        "Content-Type: text/html; charset=utf-8",
        "",
        "<html><head><style>p{color:red}</style></head><body><p>Html <b>version</b>.</p></body></html>",
        "--ALT--",
        "",
      ].join("\n"),
    );
    const r = created(await ingest(raw));
    const e = await entryRow(r.entryId);
    expect(e).toMatchObject({
      body: "<p>Html <b>version</b>.</p> ",
      format: "html",
      flags: 577,
      poster: "Html Sender",
    });
    const search = await h.one(
      "SELECT title, content FROM ost__search WHERE object_type = 'H' AND object_id = ?",
      [r.entryId],
    );
    expect(search).toEqual({ title: "Html mail", content: "Html version ." });
  });

  it("multipart/mixed with text and html siblings stores the html part alone (rich text)", async () => {
    const raw = rawMail(
      [
        "From: Mixed Sender <mixed.sender@example.com>",
        "To: support@example.com",
        "Subject: Mixed mail",
        "Message-ID: <m2-mixed@mail.example.com>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="MIX"',
      ],
      [
        "--MIX",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "plain",
        "--MIX",
        "Content-Type: text/html; charset=utf-8",
        "",
        "<p>html</p>",
        "--MIX--",
        "",
      ].join("\n"),
    );
    const r = created(await ingest(raw));
    expect(await entryRow(r.entryId)).toMatchObject({ body: "<p>html</p> ", format: "html" });
  });

  it("a us-ascii body carrying UTF-8 bytes is read as ISO-8859-1, as osTicket's iconv transcode reads it", async () => {
    const raw = rawMail(
      [
        "From: Ascii Sender <ascii.sender@example.com>",
        "To: support@example.com",
        "Subject: Ascii mail",
        "Message-ID: <m2-ascii@mail.example.com>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "Content-Transfer-Encoding: 8bit",
      ],
      "Un café, merci.\n",
    );
    const r = created(await ingest(raw));
    // é's bytes C3 A9 read as ISO-8859-1 are "Ã©"; Format::strip_emoticons then drops U+00A9 (©) as well.
    expect(await entryRow(r.entryId)).toMatchObject({ body: "Un cafÃ, merci.", format: "text" });
  });

  it("a base64 attachment becomes an ft 'T' file linked to the first message", async () => {
    const data = Buffer.from("quarterly numbers\n1,2,3\n");
    const raw = rawMail(
      [
        "From: Files <files@example.com>",
        "To: Support <support@example.com>",
        "Subject: With a file",
        "Message-ID: <m3@mail.example.com>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="MIX"',
      ],
      [
        "--MIX",
        "Content-Type: text/plain",
        "",
        "See attached.",
        "--MIX",
        'Content-Type: text/csv; name="numbers.csv"',
        'Content-Disposition: attachment; filename="numbers.csv"',
        "Content-Transfer-Encoding: base64",
        "",
        data.toString("base64"),
        "--MIX--",
        "",
      ].join("\n"),
    );
    const r = created(await ingest(raw));
    const files = await h.query(
      "SELECT f.ft, f.bk, f.type, f.size, f.name, a.type AS link, a.inline, a.name AS alias FROM ost_attachment a" +
        " JOIN ost_file f ON f.id = a.file_id WHERE a.object_id = ? AND a.type = 'H'",
      [r.entryId],
    );
    expect(files).toEqual([
      {
        ft: "T",
        bk: "D",
        type: "text/csv",
        size: data.length,
        name: "numbers.csv",
        link: "H",
        inline: 0,
        alias: null,
      },
    ]);
    const chunk = await h.one(
      "SELECT c.filedata FROM ost_file_chunk c JOIN ost_attachment a ON a.file_id = c.file_id WHERE a.object_id = ? AND a.type = 'H'",
      [r.entryId],
    );
    expect(Buffer.isBuffer(chunk.filedata) && chunk.filedata.equals(data)).toBe(true);
    expect(r.attachmentFailures).toEqual([]);
  });

  it("a named text part marked inline is stored as a file too; a named text/calendar without disposition is not", async () => {
    const raw = rawMail(
      [
        "From: Files <files@example.com>",
        "To: Support <support@example.com>",
        "Subject: Inline note",
        "Message-ID: <m3-inline@mail.example.com>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="MIX"',
      ],
      [
        "--MIX",
        "Content-Type: text/plain",
        "",
        "See the note.",
        "--MIX",
        'Content-Type: text/plain; name="n.txt"',
        'Content-Disposition: inline; filename="n.txt"',
        "Content-Transfer-Encoding: base64",
        "",
        Buffer.from("the note").toString("base64"),
        "--MIX",
        'Content-Type: text/calendar; name="invite.ics"',
        "",
        "BEGIN:VCALENDAR",
        "--MIX--",
        "",
      ].join("\n"),
    );
    const r = created(await ingest(raw));
    const files = await h.query(
      "SELECT f.type, f.size, f.name, a.inline FROM ost_attachment a" +
        " JOIN ost_file f ON f.id = a.file_id WHERE a.object_id = ? AND a.type = 'H'",
      [r.entryId],
    );
    expect(files).toEqual([{ type: "text/plain", size: 8, name: "n.txt", inline: 0 }]);
    expect(str(await entryRow(r.entryId), "body")).toContain("the note");
  });

  it("an inline image referenced by cid: is linked inline=1 and the body points at its file key", async () => {
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
      "base64",
    );
    const raw = rawMail(
      [
        "From: Pic <pic@example.com>",
        "To: Support <support@example.com>",
        "Subject: Screenshot",
        "Message-ID: <m4@mail.example.com>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/related; boundary="REL"',
      ],
      [
        "--REL",
        "Content-Type: text/html",
        "",
        '<p>Look: <img src="cid:shot1@example.com"></p>',
        "--REL",
        "Content-Type: image/png",
        "Content-ID: <shot1@example.com>",
        "Content-Transfer-Encoding: base64",
        "",
        png.toString("base64"),
        "--REL--",
        "",
      ].join("\n"),
    );
    const r = created(await ingest(raw));
    const link = await h.one(
      "SELECT a.inline, f.key, f.name, f.type FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.object_id = ? AND a.type = 'H'",
      [r.entryId],
    );
    expect(link.inline).toBe(1);
    expect(link.type).toBe("image/png");
    expect(str(link, "name")).toMatch(/^image-[A-Za-z0-9]{4}\.png$/);
    // The Content-ID is replaced by the file's key (osTicket's htmLawed also adds alt="image"; the write
    // core's sanitiser does not yet).
    const body = str(await entryRow(r.entryId), "body");
    expect(body).toContain(`<img src="cid:${str(link, "key")}"`);
    expect(body).not.toContain("shot1@example.com");
  });

  it("other To/Cc addressees become users and CC collaborators, with one collab event", async () => {
    const raw = plain({
      from: "Owner One <owner.one@example.com>",
      subject: "Team issue",
      mid: "<m5@mail.example.com>",
      to: "Support <support@example.com>, Colleague <Colleague@Example.com>",
      extra: ["Cc: boss@example.com"],
    });
    const r = created(await ingest(raw));
    const e = await entryRow(r.entryId);
    expect(e.flags).toBe(0x100 | 0x001);
    expect(e.recipients).toBe(
      '{"to":["Support <support@example.com>","Colleague <colleague@Example.com>"],"cc":[" <boss@example.com>"]}',
    );
    const collabs = await h.query(
      "SELECT c.flags, c.role, u.name, m.address FROM ost_thread_collaborator c JOIN ost_user u ON u.id = c.user_id" +
        " JOIN ost_user_email m ON m.id = u.default_email_id WHERE c.thread_id = ? ORDER BY c.id",
      [r.threadId],
    );
    expect(collabs).toEqual([
      { flags: 3, role: "M", name: "Colleague", address: "colleague@Example.com" },
      { flags: 3, role: "M", name: "boss", address: "boss@example.com" },
    ]);
    const ev = await h.one(
      "SELECT t.data, t.username, t.uid, t.uid_type FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id" +
        " WHERE t.thread_id = ? AND e.name = 'collab'",
      [r.threadId],
    );
    expect(ev).toMatchObject({ username: "SYSTEM", uid: r.userId, uid_type: "U" });
    const data = JSON.parse(str(ev, "data"));
    expect(Object.values(data.add)).toEqual([
      { name: "Colleague", src: "Email (to)" },
      { name: "boss", src: "Email (cc)" },
    ]);
  });

  it("a sender on the ban list is denied; a mail fetcher keeps only its Message-ID on record", async () => {
    const before = await h.counts();
    const raw = plain({ from: "test@example.com", subject: "Spam", mid: "<banned@mail.example.com>" });
    await expect(ingest(raw)).rejects.toBeInstanceOf(EmailDeniedError);
    expect(countChanges(before, await h.counts())).toEqual({ ost_thread_entry_email: 1 });
    const marker = await h.one(
      "SELECT thread_entry_id, email_id, headers FROM ost_thread_entry_email WHERE mid = ?",
      ["<banned@mail.example.com>"],
    );
    expect(marker).toEqual({ thread_entry_id: 0, email_id: null, headers: null });
  });

  it("denied over the legacy HTTP route, nothing is written: osTicket's error response exits first", async () => {
    const before = await h.counts();
    const raw = plain({ from: "test@example.com", subject: "Spam", mid: "<banned-http@mail.example.com>" });
    await expect(
      ingestEmail(h.em, { raw, ip: "10.0.0.7" }, ports("2026-03-02T09:00:00Z"), {
        keepDeniedMessageId: false,
      }),
    ).rejects.toBeInstanceOf(EmailDeniedError);
    expect(countChanges(before, await h.counts())).toEqual({});
    // Not a re-delivery next time: the same mail is denied again rather than skipped.
    await expect(
      ingestEmail(h.em, { raw, ip: "10.0.0.7" }, ports("2026-03-02T09:00:00Z"), {
        keepDeniedMessageId: false,
      }),
    ).rejects.toBeInstanceOf(EmailDeniedError);
  });

  it("a mail without a usable sender is a validation error that writes nothing", async () => {
    const before = await h.counts();
    const raw = rawMail(
      ["To: support@example.com", "Subject: Nobody", "Message-ID: <nofrom@x.example>"],
      "text\n",
    );
    const error = await ingest(raw).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TicketValidationError);
    expect(error instanceof TicketValidationError && error.legacyText()).toBe(
      "user\nIncomplete client information",
    );
    expect(countChanges(before, await h.counts())).toEqual({});
  });
});

describe("replies threaded onto existing tickets", () => {
  let original: Awaited<ReturnType<typeof created>>;

  beforeAll(async () => {
    original = created(
      await ingest(
        plain({
          from: "Rita Reply <rita@example.com>",
          subject: "Printer broken",
          mid: "<orig@mail.example.com>",
        }),
        "2026-03-03T08:00:00Z",
      ),
    );
  });

  async function expectReplyWrites(r: ReturnType<typeof threaded>, pid: number, at: string) {
    expect(r.ticketId).toBe(original.ticketId);
    expect(r.number).toBe(original.number);
    const e = await entryRow(r.entryId);
    expect(e).toMatchObject({
      pid,
      thread_id: original.threadId,
      staff_id: 0,
      user_id: original.userId,
      type: "M",
      flags: 512,
      poster: "Rita Reply",
      source: "Email",
      title: null,
      format: "text",
      ip_address: "",
      recipients: '{"to":["Support <support@example.com>"]}',
      created: at,
    });
    const search = await h.one("SELECT title FROM ost__search WHERE object_type = 'H' AND object_id = ?", [
      r.entryId,
    ]);
    expect(search.title).toBe("");
    const thread = await h.one("SELECT lastmessage FROM ost_thread WHERE id = ?", [original.threadId]);
    expect(thread.lastmessage).toBe(at);
    const t = await ticketRow(original.ticketId);
    expect(t).toMatchObject({ lastupdate: at, updated: at, status_id: 1, isanswered: 0 });
  }

  it("In-Reply-To of a stored Message-ID: one M entry under it, no event, no status change", async () => {
    const before = await h.counts();
    const at = "2026-03-03 09:00:00";
    const r = threaded(
      await ingest(
        plain({
          from: "Rita Reply <rita@example.com>",
          subject: "Re: Printer broken",
          mid: "<reply1@mail.example.com>",
          extra: ["In-Reply-To: <orig@mail.example.com>"],
          body: "Still broken.\n\n-- reply above this line --\nquoted text\n",
        }),
        "2026-03-03T09:00:00Z",
        "10.9.9.9",
      ),
    );
    await expectReplyWrites(r, original.entryId, at);
    expect(str(await entryRow(r.entryId), "body")).toBe("Still broken.");
    expect((await emailRow(r.entryId)).mid).toBe("<reply1@mail.example.com>");
    expect(countChanges(before, await h.counts())).toEqual({
      ost_thread_entry: 1,
      ost_thread_entry_email: 1,
      ost__search: 1,
      ostmesh_outbox: 1,
    });
    expect(events.at(-1)).toMatchObject({
      type: "ticket.message.posted",
      viaEmail: true,
      entryId: r.entryId,
      userId: original.userId,
      pid: original.entryId,
      reopened: false,
    });
  });

  it("References naming a stored Message-ID thread onto that entry", async () => {
    const reply1 = await h.one(
      "SELECT thread_entry_id FROM ost_thread_entry_email WHERE mid = '<reply1@mail.example.com>'",
    );
    const r = threaded(
      await ingest(
        plain({
          from: "Rita Reply <rita@example.com>",
          subject: "Re: Printer broken",
          mid: "<reply2@mail.example.com>",
          extra: ["References: <unknown@elsewhere.example>\r\n <reply1@mail.example.com>"],
        }),
        "2026-03-03T10:00:00Z",
      ),
    );
    await expectReplyWrites(r, int(reply1, "thread_entry_id"), "2026-03-03 10:00:00");
  });

  it("with several stored ids referenced, the earliest entry wins (osTicket's entry order)", async () => {
    const r = threaded(
      await ingest(
        plain({
          from: "Rita Reply <rita@example.com>",
          subject: "Re: Printer broken",
          mid: "<reply2b@mail.example.com>",
          extra: [
            "References: <orig@mail.example.com> <reply1@mail.example.com>",
            "In-Reply-To: <reply2@mail.example.com>",
          ],
        }),
        "2026-03-03T10:30:00Z",
      ),
    );
    await expectReplyWrites(r, original.entryId, "2026-03-03 10:30:00");
  });

  it("[#number] in the subject from the owner threads onto the last message", async () => {
    const last = await h.one(
      "SELECT MAX(id) AS id FROM ost_thread_entry WHERE thread_id = ? AND type = 'M'",
      [original.threadId],
    );
    const r = threaded(
      await ingest(
        plain({
          from: "Rita Reply <RITA@example.com>",
          subject: `Re: [#${original.number}] Printer broken`,
          mid: "<reply3@mail.example.com>",
        }),
        "2026-03-03T11:00:00Z",
      ),
    );
    // The owner's address in another case is still the owner.
    await expectReplyWrites(r, int(last, "id"), "2026-03-03 11:00:00");
  });

  it("[#number] from a stranger opens a new ticket that keeps the token in its subject", async () => {
    const subject = `Re: [#${original.number}] Printer broken`;
    const r = created(
      await ingest(
        plain({ from: "Mallory <mallory@example.com>", subject, mid: "<stranger@mail.example.com>" }),
      ),
    );
    expect(r.ticketId).not.toBe(original.ticketId);
    expect((await entryRow(r.entryId)).title).toBe(subject);
    const cdata = await h.one("SELECT subject FROM ost_ticket__cdata WHERE ticket_id = ?", [r.ticketId]);
    expect(cdata.subject).toBe(subject);
    const collabs = await h.query("SELECT id FROM ost_thread_collaborator WHERE thread_id = ?", [
      original.threadId,
    ]);
    expect(collabs).toEqual([]);
  });

  it("a re-delivered Message-ID writes nothing at all and answers the existing ticket", async () => {
    const before = await h.counts();
    const r = await ingest(
      plain({
        from: "Rita Reply <rita@example.com>",
        subject: "Re: Printer broken",
        mid: "<reply1@mail.example.com>",
        extra: ["In-Reply-To: <orig@mail.example.com>"],
      }),
      "2026-03-04T09:00:00Z",
    );
    expect(r).toMatchObject({ kind: "redelivered", ticketId: original.ticketId, number: original.number });
    expect(countChanges(before, await h.counts())).toEqual({});
    const again = await ingest(
      plain({
        from: "Rita Reply <rita@example.com>",
        subject: "Printer broken",
        mid: "<orig@mail.example.com>",
      }),
    );
    expect(again).toMatchObject({ kind: "redelivered", number: original.number });
    expect(countChanges(before, await h.counts())).toEqual({});
  });

  it("an unknown sender's reply gets the Received From banner and no author", async () => {
    const r = threaded(
      await ingest(
        plain({
          from: "Nobody Known <nobody@example.net>",
          subject: "Re: Printer broken",
          mid: "<unknown-sender@mail.example.net>",
          extra: ["In-Reply-To: <orig@mail.example.com>"],
          body: "Me too.",
        }),
        "2026-03-04T10:00:00Z",
      ),
    );
    const e = await entryRow(r.entryId);
    expect(e).toMatchObject({ user_id: 0, flags: 512 | 0x80, poster: "Nobody Known" });
    // The banner's `<address>` then goes through text balancing, which closes it as if it were a tag (osTicket
    // stores `&lt;nobody&gt;\n\nMe too.&lt;/nobody&gt;`).
    expect(str(e, "body")).toMatch(/^Received From: Nobody Known &lt;nobody[^\n]*&gt;\n\nMe too\./);
    expect(
      await h.query("SELECT 1 FROM ost__search WHERE object_type = 'H' AND object_id = ?", [r.entryId]),
    ).toEqual([]);
  });

  it("an unknown sender without a display name is named by the address in the banner", async () => {
    const r = threaded(
      await ingest(
        plain({
          from: "stranger@example.net",
          subject: "Re: Printer broken",
          mid: "<nameless-sender@mail.example.net>",
          extra: ["In-Reply-To: <orig@mail.example.com>"],
          body: "Same here.",
        }),
        "2026-03-04T10:05:00Z",
      ),
    );
    const e = await entryRow(r.entryId);
    // html_balance reads `<stranger@example.net>` as an element `stranger` with a bogus attribute.
    expect(str(e, "body")).toBe(
      "Received From: stranger@example.net &lt;stranger&gt;\n\nSame here.&lt;/stranger&gt;",
    );
    expect(e).toMatchObject({ poster: "stranger@example.net" });
  });

  it("a known user who is not the owner becomes a collaborator and posts as one", async () => {
    const stranger = created(
      await ingest(
        plain({
          from: "Carl Collab <carl@example.com>",
          subject: "Own ticket",
          mid: "<carl1@mail.example.com>",
        }),
      ),
    );
    const r = threaded(
      await ingest(
        plain({
          from: "Carl Collab <carl@example.com>",
          subject: "Re: Printer broken",
          mid: "<carl2@mail.example.com>",
          extra: ["In-Reply-To: <orig@mail.example.com>"],
        }),
        "2026-03-04T11:00:00Z",
      ),
    );
    const e = await entryRow(r.entryId);
    expect(e).toMatchObject({ user_id: stranger.userId, flags: 512 | 0x20, poster: "Carl Collab" });
    const collab = await h.one(
      "SELECT flags, role FROM ost_thread_collaborator WHERE thread_id = ? AND user_id = ?",
      [original.threadId, stranger.userId],
    );
    expect(collab).toEqual({ flags: 3, role: "M" });
    const ev = await h.one(
      "SELECT t.data, t.username FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id WHERE t.thread_id = ? AND e.name = 'collab'",
      [original.threadId],
    );
    expect(ev).toEqual({ data: `{"add":{"${stranger.userId}":{"name":"Carl Collab"}}}`, username: "SYSTEM" });
  });

  it("a reply to a closed ticket reopens it; an auto-reply does not", async () => {
    await h.query("UPDATE ost_ticket SET status_id = 3, closed = NOW() WHERE ticket_id = ?", [
      original.ticketId,
    ]);
    const auto = threaded(
      await ingest(
        plain({
          from: "Rita Reply <rita@example.com>",
          subject: "Out of office",
          mid: "<ooo@mail.example.com>",
          extra: ["In-Reply-To: <orig@mail.example.com>", "Auto-Submitted: auto-replied"],
        }),
        "2026-03-05T09:00:00Z",
      ),
    );
    expect(auto.reopened).toBe(false);
    expect((await ticketRow(original.ticketId)).status_id).toBe(3);
    const r = threaded(
      await ingest(
        plain({
          from: "Rita Reply <rita@example.com>",
          subject: "Re: Printer broken",
          mid: "<reopen@mail.example.com>",
          extra: ["In-Reply-To: <orig@mail.example.com>"],
        }),
        "2026-03-05T10:00:00Z",
      ),
    );
    expect(r.reopened).toBe(true);
    expect(await ticketRow(original.ticketId)).toMatchObject({
      status_id: 1,
      closed: null,
      reopened: "2026-03-05 10:00:00",
    });
  });

  it("a closed ticket that cannot be reopened gets a new ticket instead", async () => {
    await h.query("UPDATE ost_ticket_status SET properties = '{\"allowreopen\":false}' WHERE id = 3");
    await h.query("UPDATE ost_ticket SET status_id = 3, closed = NOW() WHERE ticket_id = ?", [
      original.ticketId,
    ]);
    try {
      const r = await ingest(
        plain({
          from: "Rita Reply <rita@example.com>",
          subject: "Re: Printer broken",
          mid: "<too-late@mail.example.com>",
          extra: ["In-Reply-To: <orig@mail.example.com>"],
        }),
      );
      expect(r.kind).toBe("created");
      expect(r.ticketId).not.toBe(original.ticketId);
    } finally {
      await h.query(
        'UPDATE ost_ticket_status SET properties = \'{"allowreopen":true,"reopenstatus":0,"description":"Closed tickets. Tickets will still be accessible on client and staff panels."}\' WHERE id = 3',
      );
    }
  });
});

describe("a mail forwarded as a message/rfc822 wrapper (Mail_Parse::decode)", () => {
  function forwarded(outer: readonly string[], inner: readonly string[], innerBody: string): Uint8Array {
    return rawMail([...outer, "Content-Type: message/rfc822"], `${inner.join("\r\n")}\r\n\r\n${innerBody}`);
  }

  it("opens a ticket for the outer sender with the inner body and files, and threads by the outer headers only", async () => {
    const raw = forwarded(
      [
        "Delivered-To: support@example.com",
        "From: Fiona Forward <fiona.forward@example.com>",
        "To: Support <support@example.com>",
        "Subject: Fwd: Toner empty",
        "Message-ID: <fwd-outer-1@example.com>",
      ],
      [
        "From: Otto Original <otto.original@example.org>",
        "To: fiona.forward@example.com",
        "Subject: Toner empty",
        "Message-ID: <fwd-inner-1@example.org>",
        'Content-Type: multipart/mixed; boundary="b1"',
      ],
      [
        "--b1",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "The toner is empty.",
        "--b1",
        'Content-Type: application/pdf; name="order.pdf"',
        "Content-Transfer-Encoding: base64",
        "",
        Buffer.from("%PDF-1.4 order").toString("base64"),
        "--b1--",
        "",
      ].join("\n"),
    );
    const r = created(await ingest(raw));
    const user = await h.one(
      "SELECT u.name, e.address FROM ost_user u JOIN ost_user_email e ON e.id = u.default_email_id WHERE u.id = ?",
      [r.userId],
    );
    expect(user).toEqual({ name: "Fiona Forward", address: "fiona.forward@example.com" });
    expect(await entryRow(r.entryId)).toMatchObject({
      title: "Fwd: Toner empty",
      poster: "Fiona Forward",
      body: "The toner is empty.",
      format: "text",
    });
    const m = await emailRow(r.entryId);
    expect(m.mid).toBe("<fwd-outer-1@example.com>");
    expect(str(m, "headers")).toBe(
      [
        "From: Otto Original <otto.original@example.org>",
        "To: fiona.forward@example.com",
        "Subject: Toner empty",
        "Message-Id: <fwd-inner-1@example.org>",
        'Content-Type: multipart/mixed; boundary="b1"',
        "Delivered-To: support@example.com",
      ].join("\n"),
    );
    const files = await h.query(
      "SELECT f.name, f.type, c.filedata FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id" +
        " JOIN ost_file_chunk c ON c.file_id = f.id WHERE a.type = 'H' AND a.object_id = ?",
      [r.entryId],
    );
    expect(files).toEqual([
      { name: "order.pdf", type: "application/pdf", filedata: Buffer.from("%PDF-1.4 order") },
    ]);

    // The inner message's In-Reply-To is never read: this is a new ticket.
    const innerOnly = forwarded(
      [
        "From: Fiona Forward <fiona.forward@example.com>",
        "Subject: Fwd: again",
        "Message-ID: <fwd-outer-2@example.com>",
      ],
      ["From: otto.original@example.org", "Subject: again", "In-Reply-To: <fwd-outer-1@example.com>"],
      "Inner reply.\n",
    );
    expect(created(await ingest(innerOnly)).ticketId).not.toBe(r.ticketId);

    // The outer In-Reply-To threads it onto the ticket.
    const reply = forwarded(
      [
        "From: Fiona Forward <fiona.forward@example.com>",
        "Subject: Fwd: Re: Toner empty",
        "Message-ID: <fwd-outer-3@example.com>",
        "In-Reply-To: <fwd-outer-1@example.com>",
      ],
      [
        "From: otto.original@example.org",
        "Subject: Re: Toner empty",
        "Message-ID: <fwd-inner-3@example.org>",
      ],
      "Still empty.\n",
    );
    const answer = threaded(await ingest(reply));
    expect(answer.ticketId).toBe(r.ticketId);
    expect(await entryRow(answer.entryId)).toMatchObject({ pid: r.entryId, body: "Still empty.", type: "M" });
    expect((await emailRow(answer.entryId)).mid).toBe("<fwd-outer-3@example.com>");
    // Delivered again: the outer Message-ID is on record, nothing is written.
    const before = await h.counts();
    expect(await ingest(reply)).toMatchObject({ kind: "redelivered", ticketId: r.ticketId });
    expect(countChanges(before, await h.counts())).toEqual({});
  });
});

describe("malformed input", () => {
  // EmailDataParser::onParseError (include/class.mailparse.php): when Mail_Parse::decode fails but
  // getHeaderInfo reads a header, the mail goes on with `Email parse failed: [...]` as its message; without a
  // From header, TicketApiController::createTicket then fails on the missing requester (Ticket::create).
  it.each([
    ["empty input", ""],
    ["no header section", "just some text without any header"],
    ["a single header", "Subject: only one\r\n\r\nbody"],
    ["garbage headers", "garbage\r\n\r\nbody"],
    ["headers but no body", "From: a@example.com\r\nSubject: x\r\n"],
  ])("%s: the parse-error mail has no sender, a validation error that writes nothing", async (_, text) => {
    const before = await h.counts();
    const error = await ingest(Buffer.from(text)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TicketValidationError);
    expect(error instanceof TicketValidationError && error.legacyText()).toBe(
      "user\nIncomplete client information",
    );
    expect(countChanges(before, await h.counts())).toEqual({});
  });

  // Mail_Parse::getHeaderInfo returns null only for an empty header section: the parser's error is the answer.
  it("a message starting with an empty line is an EmailParseError and writes nothing", async () => {
    const before = await h.counts();
    const error = await ingest(Buffer.from("\r\n\r\nbody")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmailParseError);
    expect(error instanceof EmailParseError && error.legacyText()).toBe("Email parse failed: []");
    expect(countChanges(before, await h.counts())).toEqual({});
  });

  /** The first message's body and its files (name, type, bytes) of a ticket. */
  async function firstMessage(ticketId: number) {
    const entry = await h.one(
      "SELECT e.id, e.body, e.format, e.title, e.poster FROM ost_thread_entry e JOIN ost_thread t ON t.id = e.thread_id" +
        " WHERE t.object_type = 'T' AND t.object_id = ? AND e.type = 'M' ORDER BY e.id LIMIT 1",
      [ticketId],
    );
    const files = await h.query(
      "SELECT f.name, f.type, f.size, a.inline, c.filedata FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id" +
        " JOIN ost_file_chunk c ON c.file_id = f.id WHERE a.type = 'H' AND a.object_id = ?",
      [int(entry, "id")],
    );
    return { entry, files };
  }

  // EmailDataParser::onParseError with attachOnParseError (on by default): the message is the error text and
  // Mail_Parse::getMimeFile attaches the raw mail (`<subject or Message-ID>.eml`, message/rfc822).
  it("a mail with only a From header opens a ticket whose message is `Email parse failed: []`", async () => {
    const raw = Buffer.from("From: Una Header <una@example.com>\r\n\r\nMy printer is broken.\r\n");
    const r = created(await ingest(raw));
    const md5 = createHash("md5").update("From: Una Header <una@example.com>").digest("hex");
    const { entry, files } = await firstMessage(r.ticketId);
    expect(entry).toMatchObject({
      body: "Email parse failed: []",
      format: "text",
      title: "[No Subject]",
      poster: "Una Header",
    });
    expect(files).toEqual([
      { name: `<${md5}@local>.eml`, type: "message/rfc822", size: raw.length, inline: 0, filedata: raw },
    ]);
    expect((await emailRow(int(entry, "id"))).mid).toBe(`<${md5}@local>`);
  });

  // AttachmentFile::create looks for identical stored bytes only when given a size; getMimeFile gives none.
  it("the raw mail of an undecodable message gets an ost_file row of its own even when its bytes are stored", async () => {
    // One header name only: osTicket's decoder gives up on it.
    const raw = Buffer.from("From: Dee Dupe <dee.dupe@example.com>\r\n\r\nSee the file.\r\n");
    const md5 = createHash("md5").update("From: Dee Dupe <dee.dupe@example.com>").digest("hex");
    const earlier = await h.em.fork().transactional((em) =>
      storeFile(em, {
        name: "earlier.eml",
        declaredType: "message/rfc822",
        source: raw,
        maxBytes: 1_000_000,
      }),
    );
    const r = created(await ingest(raw));
    const { entry } = await firstMessage(r.ticketId);
    const rows = await h.query(
      "SELECT f.id, f.ft, f.bk, f.type, f.size, f.`key`, f.signature, f.name, f.attrs, a.name AS attachment_name" +
        " FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.type = 'H' AND a.object_id = ?",
      [int(entry, "id")],
    );
    expect(rows).toHaveLength(1);
    const row = rows[0] ?? {};
    expect(int(row, "id")).not.toBe(earlier.id);
    expect(row).toMatchObject({
      ft: "T",
      bk: "D",
      type: "message/rfc822",
      size: raw.length,
      signature: earlier.signature,
      name: `<${md5}@local>.eml`,
      attrs: null,
      attachment_name: null,
    });
    expect(str(row, "key").slice(5)).toBe(earlier.key.slice(5));
    expect(
      await h.query("SELECT id FROM ost_file WHERE signature = ? ORDER BY id", [earlier.signature]),
    ).toEqual([{ id: earlier.id }, { id: int(row, "id") }]);
  });

  it("a multipart mail without a boundary opens a ticket quoting the decoder's PEAR error", async () => {
    const raw = rawMail(
      [
        "From: Pat Mime <pat.mime@example.com>",
        "To: Support <support@example.com>",
        "Subject: Broken MIME",
        "Message-ID: <broken-mime@x.example>",
        "Content-Type: multipart/mixed",
      ],
      "--b\nhello\n",
    );
    const r = created(await ingest(raw));
    const { entry, files } = await firstMessage(r.ticketId);
    expect(entry).toMatchObject({
      body: "Email parse failed: [No boundary found for multipart/mixed part]",
      format: "text",
      title: "Broken MIME",
      poster: "Pat Mime",
    });
    expect(files).toEqual([
      {
        name: "Broken MIME.eml",
        type: "message/rfc822",
        size: raw.length,
        inline: 0,
        filedata: Buffer.from(raw),
      },
    ]);
    expect((await emailRow(int(entry, "id"))).mid).toBe("<broken-mime@x.example>");
    // A reply that osTicket cannot decode still threads by its In-Reply-To (processEmail routes the header info
    // onParseError returned like any mail): the entry's message is the error text, the raw reply attached.
    const reply = rawMail(
      [
        "From: Pat Mime <pat.mime@example.com>",
        "Subject: Re: Broken MIME",
        "Message-ID: <broken-mime-reply@x.example>",
        "In-Reply-To: <broken-mime@x.example>",
        "Content-Type: multipart/alternative",
      ],
      "still broken\n",
    );
    const answer = threaded(await ingest(reply));
    expect(answer.ticketId).toBe(r.ticketId);
    expect(await entryRow(answer.entryId)).toMatchObject({
      pid: int(entry, "id"),
      body: "Email parse failed: [No boundary found for multipart/alternative part]",
      format: "text",
    });
    const replyFiles = await h.query(
      "SELECT f.name, f.type FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.type = 'H' AND a.object_id = ?",
      [answer.entryId],
    );
    expect(replyFiles).toEqual([{ name: "Re: Broken MIME.eml", type: "message/rfc822" }]);
    // Delivered again: the same Message-ID, nothing written (TicketApiController::processEmail).
    const before = await h.counts();
    const again = await ingest(raw);
    expect(again).toMatchObject({ kind: "redelivered", ticketId: r.ticketId });
    expect(countChanges(before, await h.counts())).toEqual({});
  });
});
