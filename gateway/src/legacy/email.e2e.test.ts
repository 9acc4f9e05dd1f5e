/**
 * POST /api/tickets.email end to end: the gateway in front of the REAL identity, ticket (IngestEmail and its
 * e-mail channel) and attachment services on a scratch copy of the fresh osTicket install. Each case checks
 * the exact answer and the rows osTicket's tables end up with (FACTS §2.9, §4.1, §4.4, §6.16).
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY, type RealMesh, type Row, startRealMesh } from "../testing/real-mesh.ts";

const HTML = "text/html; charset=UTF-8";
const MASKED = `[${KEY.slice(0, 4)}********${KEY.slice(-4)}] `;
const run = (process.env.OSTMESH_TEST_RUN ?? "run").replace(/[^A-Za-z0-9]/g, "");
let mesh: RealMesh;

beforeAll(async () => {
  mesh = await startRealMesh({ label: "gwemail" });
}, 120_000);

afterAll(async () => {
  await mesh?.close();
});

/** A raw message from header lines and a body, CRLF line ends. */
function mail(headers: readonly string[], body: string): string {
  return `${headers.join("\r\n")}\r\n\r\n${body.replace(/\r?\n/g, "\r\n")}`;
}

/** A Message-ID unique to this run. */
const mid = (name: string) => `<${name}.${run}@mail.example.com>`;

function plain(opts: { from: string; subject: string; mid: string; extra?: string[]; body?: string }) {
  const headers = [
    `From: ${opts.from}`,
    "To: Support <support@example.com>",
    `Subject: ${opts.subject}`,
    `Message-ID: ${opts.mid}`,
    "Date: Thu, 26 Nov 2026 09:00:00 +0000",
    ...(opts.extra ?? []),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
  ];
  return { headers, raw: mail(headers, opts.body ?? "Hello, my printer is broken.\n") };
}

const email = (raw: string, key?: string | null) => mesh.post("/api/tickets.email", raw, key);

/** Row counts of every ost_ table (ost__search and the __cdata tables included). */
async function ostCounts(): Promise<Map<string, number>> {
  const tables = await mesh.rows(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'ost\\_%' ORDER BY TABLE_NAME",
  );
  const names = tables.map((t) => String(t.name));
  const counts = await mesh.rows(
    names.map((n) => `SELECT '${n}' AS name, COUNT(*) AS n FROM \`${n}\``).join(" UNION ALL "),
  );
  return new Map(counts.map((r) => [String(r.name), Number(r.n)]));
}

/** CHECKSUM TABLE of every ost_ table: catches updates as well as inserts and deletes. */
async function ostChecksums(): Promise<Record<string, unknown>> {
  const tables = await mesh.rows(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'ost\\_%' ORDER BY TABLE_NAME",
  );
  const sums = await mesh.rows(`CHECKSUM TABLE ${tables.map((t) => `\`${String(t.name)}\``).join(", ")}`);
  return Object.fromEntries(sums.map((r) => [String(r.Table), r.Checksum]));
}

function changes(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [table, n] of after) {
    const delta = n - (before.get(table) ?? 0);
    if (delta) changed[table] = delta;
  }
  return changed;
}

async function emailRow(entryId: unknown): Promise<Row> {
  const [row] = await mesh.rows("SELECT * FROM ost_thread_entry_email WHERE thread_entry_id = ?", [entryId]);
  if (!row) throw new Error(`no e-mail row for entry ${String(entryId)}`);
  return row;
}

async function entriesOf(ticketId: unknown): Promise<Row[]> {
  return mesh.rows(
    "SELECT e.* FROM ost_thread_entry e JOIN ost_thread t ON t.id = e.thread_id WHERE t.object_type = 'T' AND t.object_id = ? ORDER BY e.id",
    [ticketId],
  );
}

describe("tickets.email with the real services: new tickets", () => {
  it("a plain-text e-mail opens a ticket: 201 + the new number, source Email, flags 513, its e-mail row", async () => {
    const before = await ostCounts();
    const { headers, raw } = plain({
      from: '"Jane Doe" <Jane.Doe@example.com>',
      subject: "Printer broken",
      mid: mid("plain"),
    });
    const res = await email(raw);
    expect(res).toMatchObject({ status: 201, contentType: HTML });
    expect(res.body).toMatch(/^\d{6}$/);
    const ticket = await mesh.ticketByNumber(res.body);
    expect(ticket).toMatchObject({
      source: "Email",
      email_id: 1,
      ip_address: "127.0.0.1",
      status_id: 1,
      dept_id: 1,
      topic_id: 0,
    });
    const [user] = await mesh.rows(
      "SELECT u.name, e.address FROM ost_user u JOIN ost_user_email e ON e.id = u.default_email_id WHERE u.id = ?",
      [ticket.user_id],
    );
    expect(user).toEqual({ name: "Jane Doe", address: "Jane.Doe@example.com" });
    const entry = await mesh.firstEntry(ticket.ticket_id);
    expect(entry).toMatchObject({
      pid: 0,
      type: "M",
      flags: 513,
      user_id: ticket.user_id,
      staff_id: 0,
      poster: "Jane Doe",
      source: "Email",
      title: "Printer broken",
      body: "Hello, my printer is broken.",
      format: "text",
      ip_address: "127.0.0.1",
      recipients: '{"to":["Support <support@example.com>"]}',
    });
    const row = await emailRow(entry.id);
    expect(row).toMatchObject({ mid: mid("plain"), email_id: null, headers: headers.join("\r\n") });
    const [cdata] = await mesh.rows("SELECT subject FROM ost_ticket__cdata WHERE ticket_id = ?", [
      ticket.ticket_id,
    ]);
    expect(cdata?.subject).toBe("Printer broken");
    const events = await mesh.rows(
      "SELECT e.name, t.username, t.uid_type FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id JOIN ost_thread h ON h.id = t.thread_id WHERE h.object_type = 'T' AND h.object_id = ?",
      [ticket.ticket_id],
    );
    expect(events).toEqual([{ name: "created", username: "SYSTEM", uid_type: "U" }]);
    const delta = changes(before, await ostCounts());
    expect(delta).toMatchObject({
      ost_ticket: 1,
      ost_user: 1,
      ost_user_email: 1,
      ost_thread: 1,
      ost_thread_entry: 1,
      ost_thread_entry_email: 1,
      ost_thread_event: 1,
    });
    expect(delta.ost_syslog).toBeUndefined();
  });

  it("multipart/alternative stores the html part (inside <body> only, trailing space), flags 577", async () => {
    const res = await email(
      mail(
        [
          "From: Html Sender <html.sender@example.com>",
          "To: support@example.com",
          "Subject: Html mail",
          `Message-ID: ${mid("alt")}`,
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
      ),
    );
    expect(res).toMatchObject({ status: 201, contentType: HTML });
    const ticket = await mesh.ticketByNumber(res.body);
    const entry = await mesh.firstEntry(ticket.ticket_id);
    expect(entry).toMatchObject({
      body: "<p>Html <b>version</b>.</p> ",
      format: "html",
      flags: 577,
      poster: "Html Sender",
      title: "Html mail",
      // A nameless system mailbox is written with its ost_email name.
      recipients: '{"to":["Support <support@example.com>"]}',
    });
  });

  it("a base64 MIME attachment becomes ost_file / ost_attachment rows with the decoded bytes", async () => {
    const data = Buffer.from(`quarterly numbers ${run}\n1,2,3\n`);
    const res = await email(
      mail(
        [
          "From: Files <files@example.com>",
          "To: Support <support@example.com>",
          "Subject: With a file",
          `Message-ID: ${mid("file")}`,
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
      ),
    );
    expect(res).toMatchObject({ status: 201, contentType: HTML });
    const ticket = await mesh.ticketByNumber(res.body);
    const entry = await mesh.firstEntry(ticket.ticket_id);
    expect(entry).toMatchObject({ body: "See attached.", flags: 513 });
    const files = await mesh.rows(
      "SELECT f.ft, f.bk, f.type, f.size, f.name, a.type AS link, a.inline, HEX(c.filedata) AS bytes FROM ost_attachment a" +
        " JOIN ost_file f ON f.id = a.file_id JOIN ost_file_chunk c ON c.file_id = f.id WHERE a.object_id = ? AND a.type = 'H'",
      [entry.id],
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
        bytes: data.toString("hex").toUpperCase(),
      },
    ]);
  });
});

describe("tickets.email with the real services: replies and re-deliveries", () => {
  let number: string;
  let ticket: Row;
  let original: Row;

  beforeAll(async () => {
    const res = await email(
      plain({ from: "Rita Reply <rita@example.com>", subject: "Scanner jammed", mid: mid("orig") }).raw,
    );
    expect(res.status).toBe(201);
    number = res.body;
    ticket = await mesh.ticketByNumber(number);
    original = await mesh.firstEntry(ticket.ticket_id);
  });

  /** The rows of an appended e-mail reply (FACTS §2.9): only the entry, its e-mail row and its search row. */
  async function expectAppended(before: Map<string, number>, pid: unknown, replyMid: string, body: string) {
    expect(changes(before, await ostCounts())).toEqual({
      ost_thread_entry: 1,
      ost_thread_entry_email: 1,
      ost__search: 1,
    });
    const entries = await entriesOf(ticket.ticket_id);
    const reply = entries.at(-1);
    expect(reply).toMatchObject({
      pid,
      type: "M",
      flags: 512,
      user_id: ticket.user_id,
      staff_id: 0,
      poster: "Rita Reply",
      source: "Email",
      title: null,
      body,
      format: "text",
      ip_address: "",
      recipients: '{"to":["Support <support@example.com>"]}',
    });
    expect((await emailRow(reply?.id)).mid).toBe(replyMid);
    const [search] = await mesh.rows(
      "SELECT title FROM ost__search WHERE object_type = 'H' AND object_id = ?",
      [reply?.id],
    );
    expect(search?.title).toBe("");
    const [thread] = await mesh.rows(
      "SELECT h.lastmessage, t.lastupdate, t.updated, t.status_id, t.isanswered FROM ost_thread h JOIN ost_ticket t ON t.ticket_id = h.object_id WHERE h.object_type = 'T' AND h.object_id = ?",
      [ticket.ticket_id],
    );
    expect(thread).toMatchObject({ status_id: 1, isanswered: 0 });
    expect(thread?.lastmessage).toBe(reply?.created);
    expect(thread?.lastupdate).toBe(reply?.created);
    expect(thread?.updated).toBe(reply?.created);
    return reply;
  }

  it("In-Reply-To the stored Message-ID → 201 with the SAME number; flags 512, title NULL, ip '' and nothing else", async () => {
    const before = await ostCounts();
    const res = await email(
      plain({
        from: "Rita Reply <rita@example.com>",
        subject: "Re: Scanner jammed",
        mid: mid("reply1"),
        extra: [`In-Reply-To: ${mid("orig")}`],
        body: "Still jammed.\n",
      }).raw,
    );
    expect(res).toEqual({ status: 201, body: number, contentType: HTML });
    await expectAppended(before, original.id, mid("reply1"), "Still jammed.");
  });

  it("a [#number] subject from the owner threads onto the ticket's last message", async () => {
    const [last] = await mesh.rows(
      "SELECT MAX(id) AS id FROM ost_thread_entry WHERE thread_id = ? AND type = 'M'",
      [original.thread_id],
    );
    const before = await ostCounts();
    const res = await email(
      plain({
        from: "Rita Reply <RITA@example.com>",
        subject: `Re: [#${number}] Scanner jammed`,
        mid: mid("reply2"),
        body: "And again.\n",
      }).raw,
    );
    expect(res).toEqual({ status: 201, body: number, contentType: HTML });
    await expectAppended(before, last?.id, mid("reply2"), "And again.");
  });

  it("a stranger's [#number] opens a new ticket and user; the token stays in the subject", async () => {
    const before = await ostCounts();
    const subject = `Re: [#${number}] Scanner jammed`;
    const res = await email(
      plain({ from: "Mallory <mallory@example.com>", subject, mid: mid("stranger") }).raw,
    );
    expect(res).toMatchObject({ status: 201, contentType: HTML });
    expect(res.body).toMatch(/^\d{6}$/);
    expect(res.body).not.toBe(number);
    const other = await mesh.ticketByNumber(res.body);
    expect(other.user_id).not.toBe(ticket.user_id);
    expect(await mesh.firstEntry(other.ticket_id)).toMatchObject({ title: subject, flags: 513 });
    expect(changes(before, await ostCounts())).toMatchObject({ ost_ticket: 1, ost_user: 1 });
    const collaborators = await mesh.rows("SELECT id FROM ost_thread_collaborator WHERE thread_id = ?", [
      original.thread_id,
    ]);
    expect(collaborators).toEqual([]);
  });

  it("a re-delivery (same Message-ID) → 201 with the existing number and no ost_ table changed", async () => {
    const counts = await ostCounts();
    const sums = await ostChecksums();
    const again = await email(
      plain({
        from: "Rita Reply <rita@example.com>",
        subject: "Re: Scanner jammed",
        mid: mid("reply1"),
        extra: [`In-Reply-To: ${mid("orig")}`],
        body: "Still jammed.\n",
      }).raw,
    );
    expect(again).toEqual({ status: 201, body: number, contentType: HTML });
    const first = await email(
      plain({ from: "Rita Reply <rita@example.com>", subject: "Scanner jammed", mid: mid("orig") }).raw,
    );
    expect(first).toEqual({ status: 201, body: number, contentType: HTML });
    expect(changes(counts, await ostCounts())).toEqual({});
    expect(await ostChecksums()).toEqual(sums);
  });
});

describe("tickets.email with the real services: refusals", () => {
  /** ost_syslog rows written since `logId`. */
  const logRows = (logId: unknown) =>
    mesh.rows(
      "SELECT log_type, title, log, logger, ip_address FROM ost_syslog WHERE log_id > ? ORDER BY log_id",
      [logId],
    );

  // osTicket 1.18.1 reads these as far as it can: Mail_mimeDecode (include/pear/Mail/mimeDecode.php) cannot
  // split a header section (list() of false: a null header, which _parseHeaders reads as one nameless header)
  // or finds a single header name, so Mail_Parse::decode fails without a PEAR error; EmailDataParser::
  // onParseError (include/class.mailparse.php) still gets header info from that one header and, with
  // attachOnParseError, goes on with `Email parse failed: []` as the message and the raw mail attached. No From
  // header means no requester: TicketApiController::createTicket answers Ticket::create's validation error.
  it.each([
    ["no empty line at all", "not an e-mail either"],
    ["an empty body", ""],
    ["an empty line after garbage headers", "garbage\r\nmore garbage\r\n\r\nbody\r\n"],
    ["one header, no From", `Subject: lonely\r\n\r\nbody\r\n`],
  ])(
    "%s → 500 `Unable to create new ticket :user Incomplete client information`, only its ost_syslog row",
    async (_, raw) => {
      const before = await ostCounts();
      const logId = await mesh.lastLogId();
      const res = await email(raw);
      const body = "Unable to create new ticket :user\nIncomplete client information";
      expect(res).toEqual({ status: 500, body, contentType: HTML });
      expect(await logRows(logId)).toEqual([
        {
          log_type: "Warning",
          title: "API Error (500)",
          log: `Unable to create new ticket :user Incomplete client information ${MASKED}`,
          logger: "",
          ip_address: "127.0.0.1",
        },
      ]);
      expect(changes(before, await ostCounts())).toEqual({ ost_syslog: 1 });
    },
  );

  // Only an empty header section leaves Mail_Parse::getHeaderInfo nothing to read: onParseError returns false
  // with its error, and ApiController::parseRequest answers exerr(400, $parser->lastError()) — the 1.18 text
  // has a colon (`Email parse failed: [%s]`), the bracket holds the PEAR error, here none.
  it("a message that starts with an empty line → 400 `Email parse failed: []`, its ost_syslog row", async () => {
    const before = await ostCounts();
    const logId = await mesh.lastLogId();
    const res = await email("\r\n\r\nJust a body, no headers.\r\n");
    expect(res).toEqual({ status: 400, body: "Email parse failed: []", contentType: HTML });
    expect(await logRows(logId)).toEqual([
      {
        log_type: "Warning",
        title: "API Error (400)",
        log: `Email parse failed: [] ${MASKED}`,
        logger: "",
        ip_address: "127.0.0.1",
      },
    ]);
    expect(changes(before, await ostCounts())).toEqual({ ost_syslog: 1 });
  });

  /** The first message of a ticket and the files linked to it. */
  async function firstMessageFiles(number: string) {
    const ticket = await mesh.ticketByNumber(number);
    const entry = await mesh.firstEntry(ticket.ticket_id);
    const files = await mesh.rows(
      "SELECT f.name, f.type, f.size, a.inline, HEX(c.filedata) AS bytes FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id" +
        " JOIN ost_file_chunk c ON c.file_id = f.id WHERE a.type = 'H' AND a.object_id = ?",
      [entry.id],
    );
    return { entry, files };
  }

  // EmailDataParser::onParseError with attachOnParseError: a From header is enough for header info, so a
  // ticket is opened whose message is the error text, with Mail_Parse::getMimeFile's attachment (the raw
  // mail, message/rfc822, named `<subject or Message-ID>.eml`) — 201 and its number, nothing logged.
  it("a mail with only a From header → 201, a ticket whose message is `Email parse failed: []`", async () => {
    const header = `From: Solo Header <solo.${run}@example.com>`;
    const raw = `${header}\r\n\r\nMy printer is broken.\r\n`;
    const logId = await mesh.lastLogId();
    const res = await email(raw);
    expect(res).toMatchObject({ status: 201, contentType: HTML });
    expect(res.body).toMatch(/^\d{6}$/);
    const md5 = createHash("md5").update(header).digest("hex");
    const { entry, files } = await firstMessageFiles(res.body);
    expect(entry).toMatchObject({
      body: "Email parse failed: []",
      format: "text",
      title: "[No Subject]",
      poster: "Solo Header",
      source: "Email",
    });
    expect(files).toEqual([
      {
        name: `<${md5}@local>.eml`,
        type: "message/rfc822",
        size: Buffer.byteLength(raw),
        inline: 0,
        bytes: Buffer.from(raw).toString("hex").toUpperCase(),
      },
    ]);
    expect(await logRows(logId)).toEqual([]);
  });

  // Mail_mimeDecode::_decode: a top-level multipart type without a boundary is a PEAR error (`No boundary found
  // for <type> part`); Mail_Parse::getHeaders then splits the raw header section, and onParseError opens the
  // ticket with the PEAR error quoted in its message and the raw mail attached.
  it("a multipart mail without a boundary → 201, the PEAR error as its message, the raw mail attached", async () => {
    const raw = mail(
      [
        "From: Mime Breaker <mime.breaker@example.com>",
        "To: Support <support@example.com>",
        "Subject: Broken MIME",
        `Message-ID: ${mid("nobound")}`,
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed",
      ],
      "--b\nContent-Type: text/plain\n\nhello\n--b--\n",
    );
    const res = await email(raw);
    expect(res).toMatchObject({ status: 201, contentType: HTML });
    const { entry, files } = await firstMessageFiles(res.body);
    expect(entry).toMatchObject({
      body: "Email parse failed: [No boundary found for multipart/mixed part]",
      format: "text",
      title: "Broken MIME",
      poster: "Mime Breaker",
      recipients: '{"to":["Support <support@example.com>"]}',
    });
    expect(files).toEqual([
      {
        name: "Broken MIME.eml",
        type: "message/rfc822",
        size: Buffer.byteLength(raw),
        inline: 0,
        bytes: Buffer.from(raw).toString("hex").toUpperCase(),
      },
    ]);
    expect((await emailRow(entry.id)).mid).toBe(mid("nobound"));
  });

  // Mail_Parse::decode unwraps a top-level message/rfc822: the header info (sender, subject, Message-ID) stays
  // the outer mail's, the body, the files and the stored header text are the inner message's.
  it("a mail forwarded as a message/rfc822 wrapper → 201, the outer sender and subject, the inner body", async () => {
    const raw = mail(
      [
        "Delivered-To: support@example.com",
        `From: Wrap Forwarder <wrap.${run}@example.com>`,
        "To: Support <support@example.com>",
        "Subject: Fwd: Scanner jammed",
        `Message-ID: ${mid("wrapper")}`,
        "Content-Type: message/rfc822",
      ],
      [
        "From: Inner Sender <inner.sender@example.org>",
        "Subject: Scanner jammed",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "The scanner is jammed.",
        "",
      ].join("\n"),
    );
    const res = await email(raw);
    expect(res).toMatchObject({ status: 201, contentType: HTML });
    const { entry, files } = await firstMessageFiles(res.body);
    expect(entry).toMatchObject({
      body: "The scanner is jammed.",
      format: "text",
      title: "Fwd: Scanner jammed",
      poster: "Wrap Forwarder",
      source: "Email",
    });
    expect(files).toEqual([]);
    const row = await emailRow(entry.id);
    expect(row.mid).toBe(mid("wrapper"));
    expect(row.headers).toBe(
      [
        "From: Inner Sender <inner.sender@example.org>",
        "Subject: Scanner jammed",
        "Content-Type: text/plain; charset=utf-8",
        "Delivered-To: support@example.com",
        `Message-Id: ${mid("wrapper")}`,
      ].join("\n"),
    );
  });

  it("a banned sender → 403 Ticket denied and its ost_syslog rows; the Message-ID is not recorded over HTTP", async () => {
    const before = await ostCounts();
    const logId = await mesh.lastLogId();
    const res = await email(
      plain({ from: "Tester <test@example.com>", subject: "Spam", mid: mid("banned") }).raw,
    );
    const body =
      "Unable to create new ticket :Ticket denied: test@example.com\n\nThis help desk is for use by authorized users only";
    expect(res).toEqual({ status: 403, body, contentType: HTML });
    const logged = await mesh.rows(
      "SELECT log_type, title, log FROM ost_syslog WHERE log_id > ? ORDER BY log_id",
      [logId],
    );
    expect(logged).toEqual([
      {
        log_type: "Warning",
        title: "Ticket denied",
        log: 'Ticket rejected (test@example.com) by filter "SYSTEM BAN LIST"',
      },
      {
        log_type: "Warning",
        title: "API Error (403)",
        log: `${body.replace(/\n/g, " ")} ${MASKED}`,
      },
    ]);
    // osTicket answers over HTTP and exits before processEmail records the refused Message-ID.
    expect(
      await mesh.rows("SELECT thread_entry_id FROM ost_thread_entry_email WHERE mid = ?", [mid("banned")]),
    ).toEqual([]);
    expect(changes(before, await ostCounts())).toEqual({ ost_syslog: 2 });
  });

  it("an e-mail without a sender → 500 with osTicket's validation body and its ost_syslog row", async () => {
    const before = await ostCounts();
    const logId = await mesh.lastLogId();
    const res = await email(
      mail(["To: support@example.com", "Subject: Nobody", `Message-ID: ${mid("nofrom")}`], "text\n"),
    );
    expect(res).toEqual({
      status: 500,
      body: "Unable to create new ticket :user\nIncomplete client information",
      contentType: HTML,
    });
    const logged = await mesh.rows(
      "SELECT log_type, title, log FROM ost_syslog WHERE log_id > ? ORDER BY log_id",
      [logId],
    );
    expect(logged).toEqual([
      {
        log_type: "Warning",
        title: "API Error (500)",
        log: `Unable to create new ticket :user Incomplete client information ${MASKED}`,
      },
    ]);
    expect(changes(before, await ostCounts())).toEqual({ ost_syslog: 1 });
  });

  it("missing, unknown, inactive and unauthorized API keys → osTicket's 401 texts, logged, no ticket", async () => {
    const raw = plain({ from: "Key <key@example.com>", subject: "Keys", mid: mid("keys") }).raw;
    const before = await ostCounts();
    const logId = await mesh.lastLogId();
    const wrong = "ABCDEF0123456789ABCDEF0123456789";
    expect(await email(raw, null)).toEqual({
      status: 401,
      body: "Valid API key required",
      contentType: HTML,
    });
    expect(await email(raw, wrong)).toEqual({
      status: 401,
      body: "Valid API key required",
      contentType: HTML,
    });
    await mesh.conn.query("UPDATE ost_api_key SET isactive = 0 WHERE apikey = ?", [KEY]);
    try {
      expect(await email(raw)).toEqual({
        status: 401,
        body: "API key not found/active or source IP not authorized",
        contentType: HTML,
      });
    } finally {
      await mesh.conn.query("UPDATE ost_api_key SET isactive = 1 WHERE apikey = ?", [KEY]);
    }
    await mesh.conn.query("UPDATE ost_api_key SET can_create_tickets = 0 WHERE apikey = ?", [KEY]);
    try {
      expect(await email(raw)).toEqual({ status: 401, body: "API key not authorized", contentType: HTML });
    } finally {
      await mesh.conn.query("UPDATE ost_api_key SET can_create_tickets = 1 WHERE apikey = ?", [KEY]);
    }
    const logged = await mesh.rows(
      "SELECT log_type, title, log FROM ost_syslog WHERE log_id > ? ORDER BY log_id",
      [logId],
    );
    expect(logged.map((r) => [r.log_type, r.title, r.log])).toEqual([
      ["Warning", "API Error (401)", "Valid API key required"],
      ["Warning", "API Error (401)", `Valid API key required [ABCD********6789] `],
      ["Warning", "API Error (401)", `API key not found/active or source IP not authorized ${MASKED}`],
      ["Warning", "API Error (401)", `API key not authorized ${MASKED}`],
    ]);
    expect(changes(before, await ostCounts())).toEqual({ ost_syslog: 4 });
  });

  it("a key moved to another address is refused on the very next request, after a success from this one", async () => {
    const first = plain({ from: "Moved <moved@example.com>", subject: "Before", mid: mid("moved1") }).raw;
    expect((await email(first)).status).toBe(201);
    const raw = plain({ from: "Moved <moved@example.com>", subject: "After", mid: mid("moved2") }).raw;
    const before = await ostCounts();
    const logId = await mesh.lastLogId();
    await mesh.conn.query("UPDATE ost_api_key SET ipaddr = '10.0.0.1' WHERE apikey = ?", [KEY]);
    try {
      expect(await email(raw)).toEqual({ status: 401, body: "Valid API key required", contentType: HTML });
    } finally {
      await mesh.conn.query("UPDATE ost_api_key SET ipaddr = '127.0.0.1' WHERE apikey = ?", [KEY]);
    }
    const logged = await mesh.rows("SELECT title, log FROM ost_syslog WHERE log_id > ? ORDER BY log_id", [
      logId,
    ]);
    expect(logged.map((r) => [r.title, r.log])).toEqual([
      ["API Error (401)", `Valid API key required ${MASKED}`],
    ]);
    expect(changes(before, await ostCounts())).toEqual({ ost_syslog: 1 });
    expect((await email(raw)).status).toBe(201);
  });
});
