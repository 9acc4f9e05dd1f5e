import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TicketValidationError } from "../domain/errors.ts";
import type { Ports, TicketDomainEvent } from "../domain/ports.ts";
import { int, str } from "../domain/rows.ts";
import { EmailDeniedError } from "./errors.ts";
import { type IngestEmailResult, ingestEmail } from "./ingest.ts";
import { encodeMessageId, systemMessageIdCode } from "./loopback.ts";
import { countChanges, type MailHarness, openMailHarness, rawMail } from "./testing.ts";

let h: MailHarness;

beforeAll(async () => {
  h = await openMailHarness("email_edges");
  await h.setConfig("verify_email_addrs", "0");
});
afterAll(async () => {
  await h?.close();
});

const mail = (headers: string[], body = "Hello.\n") =>
  rawMail([...headers, "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"], body);
const ingest = (raw: Uint8Array, emailId?: number) =>
  ingestEmail(h.em, { raw, ip: "192.0.2.1", ...(emailId ? { emailId } : {}) });

function created(r: IngestEmailResult) {
  if (r.kind !== "created") throw new Error(`expected a new ticket, got ${r.kind}`);
  return r;
}
function threaded(r: IngestEmailResult) {
  if (r.kind !== "threaded") throw new Error(`expected a threaded reply, got ${r.kind}`);
  return r;
}

const pdfAsPng = rawMail(
  [
    "From: Paul Pdf <paul@example.com>",
    "To: support@example.com",
    "Subject: Scan",
    "Message-ID: <scan@mail.example.com>",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="B"',
  ],
  [
    "--B",
    "Content-Type: text/plain",
    "",
    "Scan attached.",
    "--B",
    'Content-Type: image/png; name="scan.png"',
    'Content-Disposition: attachment; filename="scan.png"',
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from("%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", "latin1").toString(
      "base64",
    ),
    "--B",
    'Content-Type: text/plain; name="ok.txt"',
    'Content-Disposition: attachment; filename="ok.txt"',
    "",
    "fine",
    "--B--",
    "",
  ].join("\n"),
);

describe("atomicity", () => {
  it("an error after the ticket was written (here: the outbox) leaves nothing behind, files included", async () => {
    const before = await h.counts();
    const failing = ingestEmail(
      h.em,
      { raw: pdfAsPng, ip: "192.0.2.1" },
      {
        emit: async () => {
          throw new Error("outbox down");
        },
      },
    );
    await expect(failing).rejects.toThrow("outbox down");
    expect(countChanges(before, await h.counts())).toEqual({});
  });

  it("joins the caller's transaction: the caller's rollback undoes the whole ingest", async () => {
    const before = await h.counts();
    const raw = mail([
      "From: Tx <tx@example.com>",
      "To: support@example.com",
      "Subject: in tx",
      "Message-ID: <tx@x>",
    ]);
    let seen: IngestEmailResult | undefined;
    await expect(
      h.em.fork().transactional(async (em) => {
        seen = await ingestEmail(em, { raw, ip: "192.0.2.1" });
        throw new Error("caller gives up");
      }),
    ).rejects.toThrow("caller gives up");
    expect(seen?.kind).toBe("created");
    expect(countChanges(before, await h.counts())).toEqual({});
  });

  it("inside the caller's transaction a denial records the Message-ID there and throws", async () => {
    const before = await h.counts();
    const raw = mail([
      "From: test@example.com",
      "To: support@example.com",
      "Subject: x",
      "Message-ID: <den-tx@x>",
    ]);
    await h.em.fork().transactional(async (em) => {
      await expect(ingestEmail(em, { raw, ip: "192.0.2.1" })).rejects.toBeInstanceOf(EmailDeniedError);
    });
    expect(countChanges(before, await h.counts())).toEqual({ ost_thread_entry_email: 1 });
  });

  it("concurrent deliveries of one new message give one ticket, the others are re-deliveries of it", async () => {
    for (const n of [1, 2, 3]) {
      const mid = `<twice${n}@mail.example.com>`;
      const raw = mail([
        "From: Twice <twice@example.com>",
        "To: support@example.com",
        "Subject: twice",
        `Message-ID: ${mid}`,
      ]);
      const results = await Promise.all([ingest(raw), ingest(raw), ingest(raw)]);
      expect(results.map((r) => r.kind).sort()).toEqual(["created", "redelivered", "redelivered"]);
      expect(new Set(results.map((r) => `${r.ticketId}:${r.number}`)).size).toBe(1);
      const rows = await h.query("SELECT COUNT(*) AS n FROM ost_thread_entry_email WHERE mid = ?", [mid]);
      expect(int(rows[0] ?? {}, "n")).toBe(1);
    }
  });
});

describe("loop control on new tickets", () => {
  it("no auto-response to auto-replies or the help desk's own mailboxes, no alert for bounces", async () => {
    const seen: TicketDomainEvent[] = [];
    const ports: Ports = {
      emit: async (event) => {
        seen.push(event);
      },
    };
    const send = (headers: string[], mid: string) =>
      ingestEmail(
        h.em,
        { raw: mail([...headers, "To: support@example.com", `Message-ID: ${mid}`]), ip: "192.0.2.1" },
        ports,
      );
    await send(["From: Ann <ann@example.com>", "Subject: normal"], "<loop1@x>");
    await send(["From: Ann <ann@example.com>", "Subject: away", "Auto-Submitted: auto-replied"], "<loop2@x>");
    await send(["From: MAILER-DAEMON@example.org", "Subject: Undeliverable: x"], "<loop3@x>");
    await send(["From: osTicket Alerts <alerts@example.com>", "Subject: from ourselves"], "<loop4@x>");
    const flags = seen.map((e) => (e.type === "ticket.created" ? [e.alert, e.autorespond] : undefined));
    expect(flags).toEqual([
      [true, true],
      [true, false],
      [false, false],
      [true, false],
    ]);
  });
});

describe("attachments that cannot be stored", () => {
  it("become a SYSTEM 'File Import Error' note; the ticket and the other files are kept", async () => {
    const r = created(await ingest(pdfAsPng));
    expect(r.attachmentFailures).toEqual([{ name: "scan.png", message: "File type is not allowed" }]);
    const files = await h.query(
      "SELECT f.name FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.object_id = ? AND a.type = 'H'",
      [r.entryId],
    );
    expect(files).toEqual([{ name: "ok.txt" }]);
    const note = await h.one(
      "SELECT type, flags, poster, title, body, staff_id, user_id FROM ost_thread_entry WHERE thread_id = ? AND type = 'N'",
      [r.threadId],
    );
    // Logged while the message was being created: the note comes first in the thread.
    const order = await h.query("SELECT type FROM ost_thread_entry WHERE thread_id = ? ORDER BY id", [
      r.threadId,
    ]);
    expect(order).toEqual([{ type: "N" }, { type: "M" }]);
    expect(note).toEqual({
      type: "N",
      flags: 0x80,
      poster: "SYSTEM",
      title: "File Import Error",
      body: "scan.png: File type is not allowed",
      staff_id: 0,
      user_id: 0,
    });
  });
});

describe("inline images", () => {
  it("those referenced only below the reply separator are dropped; data: images are stored inline", async () => {
    const gif = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
    const raw = rawMail(
      [
        "From: Ivy <ivy@example.com>",
        "To: support@example.com",
        "Subject: pictures",
        "Message-ID: <pics@x>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/related; boundary="R"',
      ],
      [
        "--R",
        "Content-Type: text/html",
        "",
        `<p>new <img src="cid:new@x"> <img src="data:image/gif;base64,${gif}"></p>`,
        `<p>-- reply above this line --</p><p>old <img src="cid:old@x"></p>`,
        "--R",
        "Content-Type: image/png",
        "Content-ID: <new@x>",
        "Content-Transfer-Encoding: base64",
        "",
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
        "--R",
        "Content-Type: image/jpeg",
        "Content-ID: <old@x>",
        "Content-Transfer-Encoding: base64",
        "",
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHR8eHR0fHh0dJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==",
        "--R--",
        "",
      ].join("\n"),
    );
    const r = created(await ingest(raw));
    const files = await h.query(
      "SELECT f.type, a.inline FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.object_id = ? AND a.type = 'H' ORDER BY f.type",
      [r.entryId],
    );
    expect(files).toEqual([
      { type: "image/gif", inline: 1 },
      { type: "image/png", inline: 1 },
    ]);
    const body = str(await h.one("SELECT body FROM ost_thread_entry WHERE id = ?", [r.entryId]), "body");
    expect(body).not.toContain("data:");
    expect(body).not.toContain("old");
    expect(body.match(/src="cid:[A-Za-z0-9_-]{32}"/g)).toHaveLength(2);
  });
});

describe("replies to mails osTicket's PHP side sent (Message-IDs signed with its SECRET_SALT)", () => {
  const salt = "sAlT-Example-123";
  const withSalt = (raw: Uint8Array) => ingestEmail(h.em, { raw, ip: "192.0.2.9" }, {}, { secretSalt: salt });

  it("thread onto the entry the id names; an agent's reply becomes an internal note; loops stop", async () => {
    const first = created(
      await ingest(
        mail([
          "From: Lou <lou@example.com>",
          "To: support@example.com",
          "Subject: lb",
          "Message-ID: <lb1@x>",
        ]),
      ),
    );
    const toOwner = encodeMessageId(salt, {
      uid: first.userId,
      entryId: first.entryId,
      threadId: first.threadId,
      userClass: "U",
      random: "abcde",
      sender: "support@example.com",
    });
    const byOwner = threaded(
      await withSalt(
        mail([
          "From: Lou <lou@example.com>",
          "To: support@example.com",
          "Subject: no number",
          "Message-ID: <lb2@x>",
          `In-Reply-To: ${toOwner}`,
        ]),
      ),
    );
    expect(
      await h.one("SELECT pid, user_id, type, flags FROM ost_thread_entry WHERE id = ?", [byOwner.entryId]),
    ).toEqual({
      pid: first.entryId,
      user_id: first.userId,
      type: "M",
      flags: 512,
    });

    const toAgent = encodeMessageId(salt, {
      uid: 1,
      entryId: first.entryId,
      threadId: first.threadId,
      userClass: "S",
      random: "fghij",
      sender: "alerts@example.com",
    });
    const ticketBefore = await h.one(
      "SELECT updated, lastupdate, isanswered FROM ost_ticket WHERE ticket_id = ?",
      [first.ticketId],
    );
    const note = threaded(
      await withSalt(
        mail(
          [
            "From: Admin <admin@example.org>",
            "To: alerts@example.com",
            "Subject: Re: alert",
            "Message-ID: <lb3@x>",
            `In-Reply-To: ${toAgent}`,
          ],
          "Looking into it.",
        ),
      ),
    );
    expect(
      await h.one(
        "SELECT pid, staff_id, user_id, type, flags, poster, title, source, ip_address, body FROM ost_thread_entry WHERE id = ?",
        [note.entryId],
      ),
    ).toEqual({
      pid: first.entryId,
      staff_id: 1,
      user_id: 0,
      type: "N",
      flags: 512,
      poster: "Admin User",
      title: null,
      source: "Email",
      ip_address: "192.0.2.9",
      body: "Looking into it.",
    });
    expect(
      await h.one("SELECT updated, lastupdate, isanswered FROM ost_ticket WHERE ticket_id = ?", [
        first.ticketId,
      ]),
    ).toEqual(ticketBefore);

    // A mail carrying an id this help desk made, come back to it: nothing is written.
    const before = await h.counts();
    const loop = await withSalt(
      mail([
        "From: Support <support@example.com>",
        "To: lou@example.com",
        "Subject: Re: lb",
        `Message-ID: ${toOwner}`,
        "In-Reply-To: <lb1@x>",
      ]),
    );
    expect(loop).toMatchObject({ kind: "redelivered", ticketId: first.ticketId, loop: true });
    expect(countChanges(before, await h.counts())).toEqual({});

    // This help desk's system code with a tag that does not verify is no loop for osTicket
    // (decodeMessageId returns before comparing the code): the reply is posted.
    const forged = `<B${systemMessageIdCode(salt)}-zzzzz-${Buffer.alloc(18).toString("base64")}-support@example.com>`;
    const posted = threaded(
      await withSalt(
        mail([
          "From: Lou <lou@example.com>",
          "To: support@example.com",
          "Subject: Re: lb",
          `Message-ID: ${forged}`,
          "In-Reply-To: <lb1@x>",
        ]),
      ),
    );
    expect(posted.ticketId).toBe(first.ticketId);
    expect(await h.one("SELECT thread_entry_id FROM ost_thread_entry_email WHERE mid = ?", [forged])).toEqual(
      {
        thread_entry_id: posted.entryId,
      },
    );

    // An id naming only the thread (a mail osTicket sent without an entry): the reply has no parent.
    const threadOnly = encodeMessageId(salt, {
      uid: first.userId,
      entryId: 0,
      threadId: first.threadId,
      userClass: "U",
      random: "klmno",
      sender: "support@example.com",
    });
    const unparented = threaded(
      await withSalt(
        mail([
          "From: Lou <lou@example.com>",
          "To: support@example.com",
          "Subject: notice reply",
          "Message-ID: <lb5@x>",
          `In-Reply-To: ${threadOnly}`,
        ]),
      ),
    );
    expect(unparented.ticketId).toBe(first.ticketId);
    expect(
      await h.one("SELECT pid, user_id, type FROM ost_thread_entry WHERE id = ?", [unparented.entryId]),
    ).toEqual({
      pid: 0,
      user_id: first.userId,
      type: "M",
    });

    // An agent answering a mail about the thread only (a new-ticket alert of a ticket with no e-mailed
    // message): Thread::lookupByEmailHeaders keeps the staff id but not the class, so the agent is neither
    // the owner nor a collaborator and the mail is posted as a message from an unknown sender.
    const threadOnlyToAgent = encodeMessageId(salt, {
      uid: 1,
      entryId: 0,
      threadId: first.threadId,
      userClass: "S",
      random: "pqrst",
      sender: "support@example.com",
    });
    const fromAgent = threaded(
      await withSalt(
        mail(
          [
            "From: Admin <admin@example.org>",
            "To: support@example.com",
            "Subject: Re: New Ticket Alert",
            "Message-ID: <lb6@x>",
            `In-Reply-To: ${threadOnlyToAgent}`,
          ],
          "Taking it.",
        ),
      ),
    );
    expect(fromAgent.ticketId).toBe(first.ticketId);
    const agentEntry = await h.one(
      "SELECT pid, staff_id, user_id, type, body FROM ost_thread_entry WHERE id = ?",
      [fromAgent.entryId],
    );
    expect(agentEntry).toMatchObject({ pid: 0, staff_id: 0, user_id: 0, type: "M" });
    expect(str(agentEntry, "body")).toBe("Received From: Admin &lt;admin&gt;\n\nTaking it.&lt;/admin&gt;");

    // Without the salt the same agent mail is not recognised: it opens a ticket of its own.
    const unsalted = await ingest(
      mail([
        "From: Admin <admin@example.org>",
        "To: alerts@example.com",
        "Subject: Re: alert",
        "Message-ID: <lb4@x>",
        `In-Reply-To: ${toAgent}`,
      ]),
    );
    expect(unsalted.kind).toBe("created");
  });

  it("a reply without In-Reply-To or References threads by the marker its body quotes (html div, text Ref-Mid line)", async () => {
    const first = created(
      await ingest(
        mail([
          "From: Mia <mia@example.com>",
          "To: support@example.com",
          "Subject: marker",
          "Message-ID: <mk1@x>",
        ]),
      ),
    );
    const ids = (entryId: number, uid: number, userClass: "U" | "S", random: string) =>
      encodeMessageId(salt, {
        uid,
        entryId,
        threadId: first.threadId,
        userClass,
        random,
        sender: "support@example.com",
      })
        // Mailer::send writes the id into the body without its angle brackets.
        .slice(1, -1);
    const toOwner = ids(first.entryId, first.userId, "U", "mkaaa");

    // An html reply quoting the mail's hidden div: the quote is cut at the separator inside the div, the div's
    // opening tag (and the id) stays in the body that is searched.
    const html = threaded(
      await withSalt(
        rawMail(
          [
            "From: Mia <mia@example.com>",
            "To: support@example.com",
            "Subject: Re: your request",
            "Message-ID: <mk2@x>",
            "MIME-Version: 1.0",
            "Content-Type: text/html; charset=utf-8",
          ],
          `<p>Thanks!</p><blockquote><div style="display:none"\n                        class="mid-${toOwner}">-- reply above this line --<br/><br/></div><p>We got it.</p></blockquote>`,
        ),
      ),
    );
    expect(html.ticketId).toBe(first.ticketId);
    expect(
      await h.one("SELECT pid, user_id, type FROM ost_thread_entry WHERE id = ?", [html.entryId]),
    ).toEqual({
      pid: first.entryId,
      user_id: first.userId,
      type: "M",
    });

    // A plain-text reply whose last line is the quoted Ref-Mid line (PCRE's `$` matches before the final
    // line break): the id names the agent the alert went to, who posts an internal note.
    const toAgent = ids(first.entryId, 1, "S", "mkbbb");
    const text = threaded(
      await withSalt(
        mail(
          [
            "From: Admin <admin@example.org>",
            "To: support@example.com",
            "Subject: Re: alert",
            "Message-ID: <mk3@x>",
          ],
          `On it.\n\n> New message.\n> Ref-Mid: ${toAgent}\n`,
        ),
      ),
    );
    expect(text.ticketId).toBe(first.ticketId);
    expect(
      await h.one("SELECT pid, staff_id, user_id, type, body FROM ost_thread_entry WHERE id = ?", [
        text.entryId,
      ]),
    ).toEqual({
      pid: first.entryId,
      staff_id: 1,
      user_id: 0,
      type: "N",
      body: `On it.\n\n&gt; New message.\n&gt; Ref-Mid: ${toAgent}`,
    });

    // A Ref-Mid line with more text after it is no marker (osTicket's pattern wants the body's end or a
    // quote after the id), and neither is a marker whose signature does not verify: new tickets.
    const midway = await withSalt(
      mail(
        ["From: Mia <mia@example.com>", "To: support@example.com", "Subject: Re: x", "Message-ID: <mk4@x>"],
        `Hi.\n> Ref-Mid: ${ids(first.entryId, first.userId, "U", "mkccc")}\n> more\n`,
      ),
    );
    expect(midway.kind).toBe("created");
    const forged = toOwner.replace(
      /-([A-Za-z0-9+/]+)-support@/,
      (_, tag: string) => `-${tag.slice(0, -2)}AA-support@`,
    );
    expect(forged).not.toBe(toOwner);
    const unsigned = await withSalt(
      mail(
        ["From: Mia <mia@example.com>", "To: support@example.com", "Subject: Re: y", "Message-ID: <mk5@x>"],
        `Hi.\n> Ref-Mid: ${forged}\n`,
      ),
    );
    expect(unsigned.kind).toBe("created");
  });
});

describe("bodies too long for the TEXT column", () => {
  it("are stored as an inline text/html file named after their md5, the body left empty (new tickets and replies)", async () => {
    const long = Array.from({ length: 3000 }, (_, i) => `line ${i + 1} of a long message`).join("\n");
    const first = created(
      await ingest(
        mail(
          [
            "From: Long <long@example.com>",
            "To: support@example.com",
            "Subject: long",
            "Message-ID: <long1@x>",
          ],
          long,
        ),
      ),
    );
    const reply = threaded(
      await ingest(
        mail(
          [
            "From: Long <long@example.com>",
            "To: support@example.com",
            "Subject: Re: long",
            "Message-ID: <long2@x>",
            "In-Reply-To: <long1@x>",
          ],
          long,
        ),
      ),
    );
    for (const entryId of [first.entryId, reply.entryId]) {
      // NOT NULL column left out of osTicket's INSERT: its implicit default.
      expect((await h.one("SELECT body FROM ost_thread_entry WHERE id = ?", [entryId])).body).toBe("");
      const file = await h.one(
        "SELECT f.name, f.type, f.size, a.inline, a.name AS alias, c.filedata FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id" +
          " JOIN ost_file_chunk c ON c.file_id = f.id AND c.chunk_id = 0 WHERE a.object_id = ? AND a.type = 'H'",
        [entryId],
      );
      const data = Buffer.isBuffer(file.filedata) ? file.filedata : Buffer.alloc(0);
      expect(file).toMatchObject({ type: "text/html", inline: 1, alias: null, size: data.length });
      expect(file.name).toBe(`${createHash("md5").update(data).digest("hex")}.txt`);
      const text = data.toString("utf8");
      expect(text.startsWith("line 1 of a long message\nline 2 of")).toBe(true);
      expect(text.endsWith("line 3000 of a long message")).toBe(true);
    }
    // The same body twice: AttachmentFile::create gets no size for it and never reuses a stored file.
    const rows = await h.query(
      "SELECT a.object_id, f.id, f.signature FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id" +
        " WHERE a.type = 'H' AND a.object_id IN (?, ?) ORDER BY a.object_id",
      [first.entryId, reply.entryId],
    );
    expect(rows).toHaveLength(2);
    expect(rows[0]?.id).not.toBe(rows[1]?.id);
    expect(rows[0]?.signature).toBe(rows[1]?.signature);
  });

  it("shorter bodies stay in the entry", async () => {
    const r = created(
      await ingest(
        mail(
          [
            "From: Long <long@example.com>",
            "To: support@example.com",
            "Subject: short",
            "Message-ID: <long3@x>",
          ],
          "x".repeat(64_999),
        ),
      ),
    );
    expect(
      str(await h.one("SELECT body FROM ost_thread_entry WHERE id = ?", [r.entryId]), "body"),
    ).toHaveLength(64_999);
  });
});

describe("where a mail lands", () => {
  it("a mailbox outside the system falls back to the fetching mailbox, else the default one", async () => {
    const a = created(
      await ingest(
        mail([
          "From: Far <far@example.com>",
          "To: help@elsewhere.example",
          "Subject: a",
          "Message-ID: <fb1@x>",
        ]),
        3,
      ),
    );
    expect(
      int(await h.one("SELECT email_id FROM ost_ticket WHERE ticket_id = ?", [a.ticketId]), "email_id"),
    ).toBe(3);
    const b = created(
      await ingest(
        mail([
          "From: Far <far@example.com>",
          "To: help@elsewhere.example",
          "Subject: b",
          "Message-ID: <fb2@x>",
        ]),
      ),
    );
    expect(
      int(await h.one("SELECT email_id FROM ost_ticket WHERE ticket_id = ?", [b.ticketId]), "email_id"),
    ).toBe(1);
    // No system mailbox among the addressees: nobody becomes a collaborator.
    expect(await h.query("SELECT id FROM ost_thread_collaborator WHERE thread_id = ?", [b.threadId])).toEqual(
      [],
    );
  });

  it("without any mailbox (none addressed, none fetching, no default) the mail is refused, nothing written", async () => {
    await h.setConfig("default_email_id", "");
    try {
      const before = await h.counts();
      const error = await ingest(
        mail([
          "From: Far <far@example.com>",
          "To: help@elsewhere.example",
          "Subject: c",
          "Message-ID: <fb3@x>",
        ]),
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TicketValidationError);
      expect(error instanceof TicketValidationError && error.legacyText()).toBe(
        "emailId\nUnknown system email\nerr\nMissing or invalid data — Correct any errors below and try again",
      );
      expect(countChanges(before, await h.counts())).toEqual({});
    } finally {
      await h.setConfig("default_email_id", "1");
    }
  });

  it("an empty subject is stored as [No Subject]; X-Priority counts only with use_email_priority", async () => {
    const plain = created(
      await ingest(
        mail([
          "From: Pri <pri@example.com>",
          "To: support@example.com",
          "Subject: ",
          "X-Priority: 1",
          "Message-ID: <pr1@x>",
        ]),
      ),
    );
    expect(
      str(await h.one("SELECT title FROM ost_thread_entry WHERE id = ?", [plain.entryId]), "title"),
    ).toBe("[No Subject]");
    expect(
      await h.one("SELECT priority FROM ost_ticket__cdata WHERE ticket_id = ?", [plain.ticketId]),
    ).toEqual({
      priority: "2",
    });
    await h.setConfig("use_email_priority", "1");
    try {
      const urgent = created(
        await ingest(
          mail([
            "From: Pri <pri@example.com>",
            "To: support@example.com",
            "Subject: hot",
            "X-Priority: 1",
            "Message-ID: <pr2@x>",
          ]),
        ),
      );
      expect(
        await h.one("SELECT priority FROM ost_ticket__cdata WHERE ticket_id = ?", [urgent.ticketId]),
      ).toEqual({
        priority: "3",
      });
    } finally {
      await h.setConfig("use_email_priority", "");
    }
  });

  it("a Message-ID stored in another letter case is not a re-delivery: osTicket posts it as a reply", async () => {
    const first = created(
      await ingest(
        mail([
          "From: Case <case@example.com>",
          "To: support@example.com",
          "Subject: c",
          "Message-ID: <Case@X.example>",
        ]),
      ),
    );
    const again = threaded(
      await ingest(
        mail([
          "From: Case <case@example.com>",
          "To: support@example.com",
          "Subject: c",
          "Message-ID: <case@x.example>",
        ]),
      ),
    );
    expect(again.ticketId).toBe(first.ticketId);
    expect(int(await h.one("SELECT pid FROM ost_thread_entry WHERE id = ?", [again.entryId]), "pid")).toBe(
      first.entryId,
    );
  });

  it("a reply sent from one of the help desk's own mailboxes is not threaded", async () => {
    const first = created(
      await ingest(
        mail([
          "From: Own <own@example.com>",
          "To: support@example.com",
          "Subject: o",
          "Message-ID: <own1@x>",
        ]),
      ),
    );
    const loop = created(
      await ingest(
        mail([
          "From: Support <support@example.com>",
          "To: own@example.com",
          "Subject: Re: o",
          "Message-ID: <own2@x>",
          "In-Reply-To: <own1@x>",
        ]),
      ),
    );
    expect(loop.ticketId).not.toBe(first.ticketId);
  });

  it("[#number] from a collaborator threads onto the last message as the collaborator", async () => {
    const owner = created(
      await ingest(
        mail([
          "From: Olga Owner <olga@example.com>",
          "To: support@example.com",
          "Cc: Cora <cora@example.com>",
          "Subject: shared",
          "Message-ID: <shared1@x>",
        ]),
      ),
    );
    const number = owner.number;
    const cora = await h.one("SELECT user_id FROM ost_user_email WHERE address = 'cora@example.com'");
    const r = threaded(
      await ingest(
        mail([
          "From: Cora <cora@example.com>",
          "To: support@example.com",
          `Subject: Re: [#${number}] shared`,
          "Message-ID: <shared2@x>",
        ]),
      ),
    );
    expect(r.ticketId).toBe(owner.ticketId);
    const e = await h.one("SELECT pid, user_id, flags FROM ost_thread_entry WHERE id = ?", [r.entryId]);
    expect(e).toEqual({ pid: owner.entryId, user_id: int(cora, "user_id"), flags: 512 | 0x20 });
  });

  it("a mail that also reached another department's mailbox refers the ticket there, once", async () => {
    await h.query("UPDATE ost_email SET dept_id = 2 WHERE email_id = 2");
    try {
      const first = created(
        await ingest(
          mail([
            "From: Ref <ref@example.com>",
            "To: support@example.com",
            "Subject: r",
            "Message-ID: <ref1@x>",
          ]),
        ),
      );
      const reply = mail([
        "From: Ref <ref@example.com>",
        "To: support@example.com, alerts@example.com",
        "Subject: Re: r",
        "Message-ID: <ref2@x>",
        "In-Reply-To: <ref1@x>",
      ]);
      threaded(await ingest(reply));
      const referrals = () =>
        h.query("SELECT object_id, object_type FROM ost_thread_referral WHERE thread_id = ?", [
          first.threadId,
        ]);
      expect(await referrals()).toEqual([{ object_id: 2, object_type: "D" }]);
      const events = await h.query(
        "SELECT t.data, t.username FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id WHERE t.thread_id = ? AND e.name = 'referred'",
        [first.threadId],
      );
      expect(events).toEqual([{ data: '{"dept":2}', username: "SYSTEM" }]);
      // Re-delivered: the referral exists already, so nothing at all is written.
      const before = await h.counts();
      expect((await ingest(reply)).kind).toBe("redelivered");
      expect(countChanges(before, await h.counts())).toEqual({});
      // A new ticket addressed to both mailboxes is referred at once (Ticket::create → systemReferral).
      const both = created(
        await ingest(
          mail([
            "From: Ref <ref@example.com>",
            "To: support@example.com, alerts@example.com",
            "Subject: both",
            "Message-ID: <ref3@x>",
          ]),
        ),
      );
      expect(
        await h.query("SELECT object_id, object_type FROM ost_thread_referral WHERE thread_id = ?", [
          both.threadId,
        ]),
      ).toEqual([{ object_id: 2, object_type: "D" }]);
    } finally {
      await h.query("UPDATE ost_email SET dept_id = 1 WHERE email_id = 2");
    }
  });
});

describe("an html-only mail with rich text off", () => {
  it("is stored as osTicket's Format::html2text makes it: line breaks from <br>, </div>, </p>, tags stripped", async () => {
    await h.setConfig("enable_richtext", "0");
    try {
      const raw = rawMail(
        [
          "From: Hanna Html <hanna@example.com>",
          "To: Support <support@example.com>",
          "Subject: Html only",
          "Message-ID: <html-only@mail.example.com>",
          "MIME-Version: 1.0",
          "Content-Type: text/html; charset=utf-8",
        ],
        '<html><body><div>Hello <b>team</b>,<br>the <a href="https://status.example.com/">status page</a> is down.</div><p>Items:</p><ul><li>one</li><li>two</li></ul><p>Thanks &amp; regards</p></body></html>',
      );
      const r = created(await ingest(raw));
      expect(await h.one("SELECT body, format FROM ost_thread_entry WHERE id = ?", [r.entryId])).toEqual({
        body: "Hello team,\nthe status page is down.\nItems:\n\nonetwoThanks &amp; regards",
        format: "text",
      });
    } finally {
      await h.setConfig("enable_richtext", "1");
    }
  });
});
