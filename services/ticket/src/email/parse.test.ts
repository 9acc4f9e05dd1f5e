import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { extractEmbeddedImages, mailBody, withReceivedFromBanner } from "./body.ts";
import { normalizeCharset } from "./charset.ts";
import { EmailParseError } from "./errors.ts";
import {
  headerBlock,
  headerFields,
  headerPriorityUrgency,
  isAutoReply,
  isBounce,
  listedMessageIds,
  messageId,
  splitHeaders,
} from "./headers.ts";
import { addressing, SystemMailboxes } from "./mailboxes.ts";
import { type ParsedEmail, parseEmail } from "./parse.ts";
import { rawMail } from "./testing.ts";
import { subjectTicketNumber } from "./threading.ts";
import { phpBase64Decode } from "./undecodable.ts";

const mailboxes = new SystemMailboxes([
  { id: 1, email: "support@example.com", name: "Support", deptId: 1 },
  { id: 2, email: "alerts@example.com", name: "osTicket Alerts", deptId: 1 },
  { id: 3, email: "noreply@example.com", name: "", deptId: 1 },
]);

describe("header section", () => {
  it("is everything before the first empty line that is followed by more", () => {
    expect(headerBlock("A: 1\r\nB: 2\r\n\r\nbody")).toBe("A: 1\r\nB: 2");
    expect(headerBlock("A: 1\nB: 2\n\nbody")).toBe("A: 1\nB: 2");
    expect(headerBlock("A: 1\r\nB: 2\r\n\r\n")).toBeUndefined();
    expect(headerBlock("no headers at all")).toBeUndefined();
  });

  it("unfolds continuation lines and keeps repeated names", () => {
    expect(headerFields("References: <a@x>\r\n <b@x>\r\nReceived: one\r\nreceived:  two")).toEqual([
      { name: "references", value: "<a@x> <b@x>" },
      { name: "received", value: "one" },
      { name: "received", value: " two" },
    ]);
    expect(splitHeaders("X-A: 1\r\nx-a: 2\r\nSubject: hi")).toEqual(
      new Map([
        ["x-a", "2"],
        ["subject", "hi"],
      ]),
    );
  });

  it("takes the Message-ID verbatim, or osTicket's <md5@local> stand-in", () => {
    const block = "From: a@example.com\r\nSubject: x";
    expect(messageId(block, headerFields(`${block}\r\nMessage-ID: <id@x>`))).toBe("<id@x>");
    expect(messageId(block, headerFields(block))).toBe(
      `<${createHash("md5").update(block).digest("hex")}@local>`,
    );
  });

  it("lists referenced message ids without brackets", () => {
    expect(listedMessageIds("<a@x> junk <b@y.example>\t<no-at> <c@z>")).toEqual([
      "a@x",
      "b@y.example",
      "c@z",
    ]);
  });

  it("recognises auto-replies and bounces as osTicket's filters do", () => {
    expect(isAutoReply(new Map([["auto-submitted", "auto-replied"]]))).toBe(true);
    expect(isAutoReply(new Map([["auto-submitted", "no"]]))).toBe(false);
    expect(isAutoReply(new Map([["precedence", "bulk"]]))).toBe(true);
    expect(isAutoReply(new Map([["x-autorespond", ""]]))).toBe(true);
    // osTicket compares this header's upper-cased value with a mixed-case marker: never a match.
    expect(isAutoReply(new Map([["x-auto-response-suppress", "AutoReply"]]))).toBe(false);
    expect(isBounce(new Map([["from", "Mail Delivery System <MAILER-DAEMON@x>"]]))).toBe(true);
    expect(isBounce(new Map([["subject", "Undeliverable: hello"]]))).toBe(true);
    expect(isBounce(new Map([["subject", "Re: Undeliverable: hello"]]))).toBe(false);
    expect(isBounce(new Map([["return-path", "<>"]]))).toBe(true);
    expect(isBounce(new Map([["content-type", "multipart/report; report-type=delivery-status"]]))).toBe(true);
    expect(isBounce(new Map([["from", "someone@example.com"]]))).toBe(false);
  });

  it("maps X-Priority / Importance to an urgency", () => {
    expect(headerPriorityUrgency("X-Priority: 1 (Highest)")).toBe(1);
    expect(headerPriorityUrgency("Importance: Normal")).toBe(2);
    expect(headerPriorityUrgency("X-Priority: 5")).toBe(3);
    expect(headerPriorityUrgency("Subject: x")).toBe(0);
  });
});

describe("the ticket number in a subject", () => {
  // Results checked against PHP's preg_match with osTicket's pattern.
  it.each([
    ["Re: [#123456] Printer", "123456"],
    ["Re: [#AB-12] x", "AB-12"],
    ["Fwd: #12.34, ok", "12.34"],
    ["Ticket #-5x", "-5x"],
    ["#", undefined],
    ["nothing", undefined],
  ])("%s → %s", (subject, number) => {
    expect(subjectTicketNumber(subject)).toBe(number);
  });
});

async function parse(headers: string[], body: string): Promise<ParsedEmail> {
  return parseEmail(rawMail(headers, body));
}

describe("addressing against the system mailboxes", () => {
  it("puts system mailboxes under `to`, other addressees under their header, lower-cases mailbox parts", async () => {
    const mail = await parse(
      [
        "From: a@example.com",
        "To: Someone <Some.One@Example.org>, support@EXAMPLE.com",
        "Cc: alerts@example.com, Other <other@example.org>",
        "Subject: x",
      ],
      "b",
    );
    const a = addressing(mail, mailboxes);
    expect(a.emailId).toBe(1);
    expect(a.systemEmailIds).toEqual([1, 2]);
    expect(a.recipientsJson).toBe(
      '{"to":["Someone <some.one@Example.org>","Support <support@example.com>","osTicket Alerts <alerts@example.com>"],"cc":["Other <other@example.org>"]}',
    );
    expect(a.recipientCount).toBe(4);
    expect(a.recipients).toEqual([
      { source: "Email (to)", name: "Someone", email: "some.one@Example.org" },
      { source: "Email (cc)", name: "Other", email: "other@example.org" },
    ]);
  });

  it("keeps PHP's array_unique keys (a JSON object once a duplicate sits in the middle)", async () => {
    const mail = await parse(
      [
        "From: a@example.com",
        "To: support@example.com",
        "Delivered-To: support@example.com, noreply@example.com",
        "Subject: x",
      ],
      "b",
    );
    const a = addressing(mail, mailboxes);
    expect(a.recipientsJson).toBe('{"to":{"0":"Support <support@example.com>","2":"noreply@example.com"}}');
  });

  it("always has a `to` list; Bcc counts for nothing; Delivered-To addressees are never collaborators", async () => {
    const mail = await parse(
      [
        "From: a@example.com",
        "Cc: list@example.org",
        "Delivered-To: list@example.org",
        "Bcc: alerts@example.com",
        "Subject: x",
      ],
      "b",
    );
    const a = addressing(mail, mailboxes);
    // osTicket's Bcc check reads a list that never holds Bcc addresses (compared with its parser's output).
    expect(a.emailId).toBe(0);
    expect(a.systemEmailIds).toEqual([]);
    expect(a.recipientsJson).toBe('{"cc":[" <list@example.org>"],"to":[]}');
    expect(a.recipients).toEqual([{ source: "delivered-to", name: "", email: "list@example.org" }]);
  });
});

describe("parsing", () => {
  // EmailDataParser::onParseError (include/class.mailparse.php): Mail_Parse::getHeaderInfo finds no header at
  // all only when the header section is empty, and ApiController::parseRequest answers the text with 400.
  it("refuses a message that starts with an empty line: osTicket's `Email parse failed: []`", async () => {
    const error = await parseEmail(Buffer.from("\r\n\r\nJust a body")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmailParseError);
    expect(error instanceof EmailParseError && [error.legacyText(), error.reason]).toEqual([
      "Email parse failed: []",
      "the message starts with an empty line (no header section)",
    ]);
  });

  // Mail_mimeDecode::_splitBodyHeader fails, list() of false leaves the header null, _parseHeaders(null) reads
  // one nameless header: Mail_Parse::decode fails (one header name, no PEAR error) but getHeaderInfo reads
  // that header, so onParseError goes on with its text as the message and the raw mail attached.
  it.each([
    ["no empty line at all", "not an e-mail either", ""],
    ["an empty body", "", ""],
    ["headers but no body", "From: a@example.com\r\nSubject: x\r\n", ""],
  ])(
    "%s: osTicket's parse-error mail without a sender (Mail_Parse::decode, getHeaderInfo)",
    async (_, raw) => {
      const mail = await parseEmail(Buffer.from(raw));
      const md5 = createHash("md5").update("").digest("hex");
      expect(mail).toMatchObject({
        header: "",
        mid: `<${md5}@local>`,
        subject: "",
        from: undefined,
        text: "Email parse failed: []",
        html: undefined,
        parseFailure: {
          reason: "no header section followed by a body",
          legacyText: "Email parse failed: []",
        },
      });
      expect(mail.attachments).toEqual([
        {
          name: `<${md5}@local>.eml`,
          type: "message/rfc822",
          data: Buffer.from(raw),
          cid: undefined,
          deduplicate: false,
        },
      ]);
    },
  );

  // Mail_mimeDecode::_parseHeaders: a line without a colon is a header named ''; Mail_Parse::decode wants more
  // than one distinct name (count() of the decoded header array), so one header, or one name given twice,
  // is a parse error without a PEAR error.
  it("garbage or a single header name: `Email parse failed: []` as the message (Mail_Parse::decode)", async () => {
    const garbage = await parseEmail(Buffer.from("garbage\nmore garbage\n\nbody"));
    expect(garbage).toMatchObject({
      header: "garbage\nmore garbage",
      from: undefined,
      text: "Email parse failed: []",
      parseFailure: { reason: "fewer than two distinct header names" },
    });
    const twice = await parseEmail(
      Buffer.from("From: Ann <ann@example.com>\r\nfrom: Bob <bob@example.com>\r\n\r\nHi"),
    );
    expect(twice.from).toEqual({ name: "Ann", address: "ann@example.com" });
    expect(twice.text).toBe("Email parse failed: []");
    const single = await parseEmail(Buffer.from("Subject: =?UTF-8?B?SMOpbGxv?=\r\n\r\nbody"));
    expect(single).toMatchObject({ subject: "Héllo", from: undefined, text: "Email parse failed: []" });
    // Mail_Parse::getMimeFile: named after the subject, else the Message-ID.
    expect(single.attachments.map((a) => a.name)).toEqual(["Héllo.eml"]);
    // Two distinct names, even without colons, decode: a plain mail without a sender.
    const decoded = await parseEmail(Buffer.from("foo bar\r\nbaz: qux\r\n\r\nbody"));
    expect(decoded).toMatchObject({ text: "body", from: undefined, attachments: [] });
    expect(decoded.parseFailure).toBeUndefined();
  });

  // A header value osTicket reads with string functions is an array when repeated; PHP 8 throws a TypeError
  // there (Format::mimedecode from Mail_Parse::getSubject). ostmesh refuses it clearly instead.
  it("refuses an undecodable mail whose Subject is given twice (osTicket's PHP crashes on it)", async () => {
    const error = await parseEmail(Buffer.from("Subject: a\r\nSubject: b\r\n\r\nx")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmailParseError);
    expect(error instanceof EmailParseError && error.legacyText()).toBe(
      "Invalid request: the e-mail cannot be decoded and its subject header is given more than once",
    );
  });

  // Mail_mimeDecode::_decode: a multipart type it splits without a boundary parameter is a PEAR error; the
  // headers then come from Mail_Parse::splitHeaders of the raw section (getHeaders), so the mail keeps its
  // sender, subject and threading headers, and the error is quoted in the message.
  it("a multipart type without a boundary: the PEAR error in the message, the mail attached", async () => {
    const raw = rawMail(
      [
        "From: Pat <pat@example.com>",
        "To: support@example.com",
        "Subject: Broken MIME",
        "Message-ID: <broken@x>",
        "In-Reply-To: <orig@x>",
        "Content-Type: Multipart/Mixed",
        "Content-Transfer-Encoding: 7bit",
      ],
      "--b\nhello\n",
    );
    const mail = await parseEmail(raw);
    expect(mail).toMatchObject({
      mid: "<broken@x>",
      inReplyTo: "<orig@x>",
      subject: "Broken MIME",
      from: { name: "Pat", address: "pat@example.com" },
      to: [{ name: "", address: "support@example.com" }],
      text: "Email parse failed: [No boundary found for Multipart/Mixed part]",
      html: undefined,
      parseFailure: { reason: "the top-level Content-Type Multipart/Mixed has no boundary parameter" },
    });
    expect(mail.attachments).toEqual([
      {
        name: "Broken MIME.eml",
        type: "message/rfc822",
        data: Buffer.from(raw),
        cid: undefined,
        deduplicate: false,
      },
    ]);
    // With a boundary (any case of the parameter name) it decodes.
    const fine = await parseEmail(
      rawMail(
        ["From: a@example.com", "Subject: ok", 'Content-Type: multipart/mixed; BOUNDARY="b"'],
        "--b\n\nhi\n--b--\n",
      ),
    );
    expect(fine.parseFailure).toBeUndefined();
    // AttachmentFile::create base64-decodes a file whose encoding is exactly `base64`: the raw mail too.
    const b64 = await parseEmail(
      rawMail(
        ["From: a@example.com", "Content-Type: multipart/related", "Content-Transfer-Encoding: base64"],
        "aGk=",
      ),
    );
    expect(b64.text).toBe("Email parse failed: [No boundary found for multipart/related part]");
    // PHP's lenient decoder keeps only the alphabet's characters of the whole message.
    const alphabet = "FromaexamplecomContentTypemultipart/relatedContentTransferEncodingbase64aGk";
    expect(b64.attachments[0]?.data).toEqual(phpBase64Decode(alphabet));
    expect(phpBase64Decode("aGk=")).toEqual(Buffer.from("hi"));
    expect(phpBase64Decode("a G\r\nk!")).toEqual(Buffer.from("hi"));
    expect(phpBase64Decode("aGkxM")).toEqual(Buffer.from("hi1"));
  });

  it("takes the first valid From address, decodes the subject, keeps threading headers verbatim", async () => {
    const mail = await parse(
      [
        "From: broken, Jose <jose@example.com>",
        "To: support@example.com",
        "Subject: =?UTF-8?B?SMOpbGxv?= world",
        "Message-ID: <abc@x>",
        "In-Reply-To: <p@x>",
        "References: <r1@x>\r\n <r2@x>",
      ],
      "b",
    );
    expect(mail.from?.address).toBe("jose@example.com");
    expect(mail.subject).toBe("Héllo world");
    expect(mail.mid).toBe("<abc@x>");
    expect(mail.inReplyTo).toBe("<p@x>");
    expect(mail.references).toBe("<r1@x> <r2@x>");
  });

  it("names a sender written as `address (Comment)` as osTicket does", async () => {
    const mail = await parse(
      ["From: john@example.com (John Smith)", "To: support@example.com", "Subject: x"],
      "b",
    );
    expect(mail.from).toEqual({ name: " (John Smith)", address: "john@example.com" });
  });

  it("names attachments as osTicket does and transcodes text files to UTF-8", async () => {
    const mail = await parse(
      [
        "From: a@example.com",
        "To: support@example.com",
        "Subject: x",
        'Content-Type: multipart/mixed; boundary="B"',
      ],
      [
        "--B",
        "Content-Type: text/plain",
        "",
        "body",
        "--B",
        "Content-Type: image/gif",
        "Content-ID: <img1@x>",
        "Content-Transfer-Encoding: base64",
        "",
        "R0lGODlhAQABAAAAACw=",
        "--B",
        "Content-Type: application/octet-stream",
        "Content-Transfer-Encoding: base64",
        "",
        "AAEC",
        "--B",
        'Content-Type: text/plain; charset=iso-8859-1; name="latin.txt"',
        "Content-Disposition: attachment",
        "Content-Transfer-Encoding: base64",
        "",
        Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString("base64"),
        "--B--",
        "",
      ].join("\n"),
    );
    // A part keeps the line break before the next boundary (Mail_mimeDecode::_boundarySplit).
    expect(mail.text).toBe("body\n");
    const names = mail.attachments.map((a) => a.name);
    expect(names).toHaveLength(2);
    expect(names[0]).toMatch(/^image-[A-Za-z0-9]{4}\.gif$/);
    expect(mail.attachments[0]?.cid).toBe("img1@x");
    expect(names[1]).toBe("latin.txt");
    expect(mail.attachments[1]?.data.toString("utf8")).toBe("café");
    expect(mail.attachments[1]?.type).toBe("text/plain");
  });
});

// Expected values below were read from osTicket 1.18.1's own parser (EmailDataParser) on the same bytes.
describe("MIME structure as osTicket's parser walks it", () => {
  const head = [
    "From: Fwd <fwd@example.com>",
    "To: support@example.com",
    "Subject: fwd",
    "Content-Type: multipart/mixed; boundary=Z",
  ];

  it("a forwarded message without a disposition joins the body and gives up its own files", async () => {
    const mail = await parse(
      head,
      [
        "--Z",
        "Content-Type: text/plain",
        "",
        "see below",
        "--Z",
        "Content-Type: message/rfc822",
        "",
        "From: x@example.com",
        "Subject: Inner one",
        'Content-Type: multipart/mixed; boundary="I"',
        "",
        "--I",
        "Content-Type: text/plain",
        "",
        "inner body",
        "--I",
        'Content-Type: application/pdf; name="r.pdf"',
        "Content-Transfer-Encoding: base64",
        "",
        "JVBERi0xLjQK",
        "--I--",
        "--Z--",
        "",
      ].join("\n"),
    );
    expect(mail.text).toBe("see below\ninner body\n");
    expect(mail.attachments.map((a) => [a.name, a.type, a.data.length])).toEqual([
      ["r.pdf", "application/pdf", 9],
    ]);
  });

  it("an attached message with a disposition is one .eml file, and its html still becomes the body", async () => {
    const mail = await parse(
      head,
      [
        "--Z",
        "Content-Type: text/plain",
        "",
        "see below",
        "--Z",
        'Content-Type: message/rfc822; name="orig.eml"',
        'Content-Disposition: attachment; filename="orig.eml"',
        "",
        "From: x@example.com",
        "Subject: Inner one",
        "Content-Type: text/html",
        "",
        "<p>inner body</p>",
        "--Z--",
        "",
      ].join("\n"),
    );
    expect(mailBody(mail, { richText: true, replySeparator: null })).toMatchObject({
      text: "<p>inner body</p>\n",
      format: "html",
    });
    expect(mail.attachments.map((a) => [a.name, a.type, a.data.length])).toEqual([
      ["orig.eml", "message/rfc822", 87],
    ]);
  });

  it("parts not base64-encoded keep the line break before the next boundary", async () => {
    const mail = await parse(
      head,
      [
        "--Z",
        "Content-Type: text/plain",
        "",
        "body",
        "--Z",
        'Content-Type: text/plain; name="ok.txt"',
        'Content-Disposition: attachment; filename="ok.txt"',
        "",
        "fine",
        "--Z",
        'Content-Type: text/plain; name="qp.txt"',
        'Content-Disposition: attachment; filename="qp.txt"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "x=3Dy",
        "--Z",
        'Content-Type: application/octet-stream; name="b.bin"',
        "Content-Transfer-Encoding: base64",
        "",
        "AAEC",
        "--Z--",
        "",
      ].join("\n"),
    );
    expect(mail.attachments.map((a) => [a.name, a.data.toString("latin1")])).toEqual([
      ["ok.txt", "fine\r\n"],
      ["qp.txt", "x=y\r\n"],
      ["b.bin", "\x00\x01\x02"],
    ]);
  });
});

describe("which parts become files (Mail_Parse::getAttachments)", () => {
  const head = [
    "From: a@example.com",
    "To: support@example.com",
    "Subject: parts",
    'Content-Type: multipart/mixed; boundary="P"',
  ];

  it("a named text part marked inline joins the body and is also kept as a file", async () => {
    const mail = await parse(
      head,
      [
        "--P",
        "Content-Type: text/plain",
        "",
        "first",
        "--P",
        'Content-Type: text/plain; charset=iso-8859-1; name="n.txt"',
        'Content-Disposition: inline; filename="n.txt"',
        "Content-Transfer-Encoding: base64",
        "",
        Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString("base64"),
        "--P",
        'Content-Type: application/pdf; name="r.pdf"',
        "Content-Transfer-Encoding: base64",
        "",
        "JVBERi0xLjQK",
        "--P",
        'Content-Type: text/html; name="h.html"',
        'Content-Disposition: inline; filename="h.html"',
        "",
        "<p>hi</p>",
        "--P--",
        "",
      ].join("\n"),
    );
    expect(mail.text).toMatch(/^first\ncafé/);
    expect(mail.attachments.map((a) => [a.name, a.type, a.data.toString("utf8")])).toEqual([
      ["n.txt", "text/plain", "café"],
      ["r.pdf", "application/pdf", "%PDF-1.4\n"],
      ["h.html", "text/html", "<p>hi</p>\r\n"],
    ]);
  });

  it("a named part without a disposition is a file only when it is image/* or application/*", async () => {
    const mail = await parse(
      head,
      [
        "--P",
        "Content-Type: text/plain",
        "",
        "body",
        "--P",
        'Content-Type: text/calendar; name="invite.ics"',
        "",
        "BEGIN:VCALENDAR",
        "--P",
        'Content-Type: audio/mpeg; name="vm.mp3"',
        "Content-Transfer-Encoding: base64",
        "",
        "AAEC",
        "--P",
        'Content-Type: application/octet-stream; name="a.pdf"',
        "Content-Transfer-Encoding: base64",
        "",
        "AAEC",
        "--P",
        'Content-Type: image/png; name="i.png"',
        "Content-Transfer-Encoding: base64",
        "",
        "AAEC",
        "--P",
        'Content-Type: audio/mpeg; name="kept.mp3"',
        "Content-Disposition: attachment",
        "Content-Transfer-Encoding: base64",
        "",
        "AAEC",
        "--P--",
        "",
      ].join("\n"),
    );
    // The type is stored as the mail declares it, not guessed from the file name.
    expect(mail.attachments.map((a) => [a.name, a.type])).toEqual([
      ["a.pdf", "application/octet-stream"],
      ["i.png", "image/png"],
      ["kept.mp3", "audio/mpeg"],
    ]);
  });
});

describe("html body of a multipart/mixed mail (Mail_Parse::getPart)", () => {
  const head = [
    "From: a@example.com",
    "To: support@example.com",
    "Subject: mixed",
    'Content-Type: multipart/mixed; boundary="M"',
  ];

  it("is its html parts only, joined as they are: no <br/> for text siblings or between parts", async () => {
    const mail = await parse(
      head,
      [
        "--M",
        "Content-Type: text/plain",
        "",
        "plain",
        "--M",
        "Content-Type: text/html",
        "",
        "<p>html</p>",
        "--M",
        "Content-Type: text/html",
        "Content-Transfer-Encoding: base64",
        "",
        Buffer.from("<p>two</p>").toString("base64"),
        "--M",
        'Content-Type: text/html; name="att.html"',
        "Content-Disposition: attachment",
        "",
        "<p>not body</p>",
        "--M--",
        "",
      ].join("\n"),
    );
    expect(mail.html).toBe("<p>html</p>\n<p>two</p>");
    expect(mailBody(mail, { richText: true, replySeparator: null })).toMatchObject({
      text: "<p>html</p>\n<p>two</p>",
      format: "html",
    });
  });
});

describe("charsets, transcoded as osTicket's Charset::transcode does (iconv)", () => {
  const b64 = (bytes: number[] | string) =>
    (typeof bytes === "string" ? Buffer.from(bytes, "utf8") : Buffer.from(bytes)).toString("base64");

  it("normalizes names as Charset::normalize: us-ascii and bogus names are ISO-8859-1", () => {
    expect(normalizeCharset("us-ascii")).toBe("ISO-8859-1");
    expect(normalizeCharset("")).toBe("ISO-8859-1");
    expect(normalizeCharset("x-user-defined")).toBe("ISO-8859-1");
    expect(normalizeCharset("iso8859-1")).toBe("ISO-8859-1");
    expect(normalizeCharset("iso-8859-8-i")).toBe("ISO-8859-8");
    expect(normalizeCharset("windows1252")).toBe("Windows-1252");
    expect(normalizeCharset("gb2312")).toBe("GBK");
    expect(normalizeCharset("ks_c_5601-1987")).toBe("cp949");
    expect(normalizeCharset("utf-8")).toBe("utf-8");
  });

  it("ISO-8859-1 bytes 0x80-0x9F are C1 controls, not windows-1252 punctuation (text, html and files)", async () => {
    const latin1 = [0x93, 0x61, 0x94, 0x20, 0x96, 0x20, 0x63, 0x61, 0x66, 0xe9];
    const mail = await parse(
      ["From: a@example.com", "Subject: c1", 'Content-Type: multipart/mixed; boundary="C"'],
      [
        "--C",
        "Content-Type: text/plain; charset=ISO-8859-1",
        "Content-Transfer-Encoding: base64",
        "",
        b64(latin1),
        "--C",
        "Content-Type: text/html; charset=iso-8859-1",
        "Content-Transfer-Encoding: base64",
        "",
        b64(latin1),
        "--C",
        'Content-Type: text/plain; charset=latin1; name="l.txt"',
        "Content-Disposition: attachment",
        "Content-Transfer-Encoding: base64",
        "",
        b64(latin1),
        "--C--",
        "",
      ].join("\n"),
    );
    const expected = "\u0093a\u0094 \u0096 café";
    expect(mail.text).toBe(expected);
    expect(mail.html).toBe(expected);
    expect(mail.attachments[0]?.data.toString("utf8")).toBe(expected);
  });

  it("a us-ascii part carrying UTF-8 bytes is read as ISO-8859-1: café becomes cafÃ©", async () => {
    const mail = await parse(
      ["From: a@example.com", "Subject: ascii", 'Content-Type: multipart/mixed; boundary="C"'],
      [
        "--C",
        "Content-Type: text/plain; charset=us-ascii",
        "Content-Transfer-Encoding: base64",
        "",
        b64("café"),
        "--C",
        'Content-Type: text/plain; charset=US-ASCII; name="a.txt"',
        "Content-Disposition: attachment",
        "Content-Transfer-Encoding: base64",
        "",
        b64("café"),
        "--C--",
        "",
      ].join("\n"),
    );
    expect(mail.text).toBe("cafÃ©");
    expect(mail.attachments[0]?.data.toString("utf8")).toBe("cafÃ©");
  });

  it("other charsets are decoded by name; an unknown one leaves the bytes as they are", async () => {
    const mail = await parse(
      ["From: a@example.com", "Subject: other", 'Content-Type: multipart/mixed; boundary="C"'],
      [
        "--C",
        "Content-Type: text/plain; charset=windows-1251",
        "Content-Transfer-Encoding: base64",
        "",
        b64([0xcf, 0xf0, 0xe8]),
        "--C",
        "Content-Type: text/plain; charset=x-no-such-charset",
        "Content-Transfer-Encoding: base64",
        "",
        b64(" ok"),
        "--C--",
        "",
      ].join("\n"),
    );
    expect(mail.text).toBe("При ok");
  });
});

describe("message body", () => {
  const mailWith = (over: Partial<ParsedEmail>): ParsedEmail => ({
    header: "",
    mid: "<x@y>",
    inReplyTo: "",
    references: "",
    subject: "",
    from: undefined,
    to: [],
    cc: [],
    deliveredTo: [],
    bcc: [],
    html: undefined,
    text: undefined,
    attachments: [],
    priorityUrgency: 0,
    isBounce: false,
    isAutoReply: false,
    ...over,
  });
  const rich = { richText: true, replySeparator: "-- reply above this line --" };

  it("prefers html with rich text, plain text without it, html as text as a last resort", () => {
    const both = mailWith({ html: "<p>h</p>\n", text: "t" });
    expect(mailBody(both, rich)).toMatchObject({ text: "<p>h</p>\n", format: "html" });
    expect(mailBody(both, { ...rich, richText: false })).toMatchObject({ text: "t", format: "text" });
    expect(
      mailBody(mailWith({ html: "<p>one</p><p>two &amp; more</p>" }), { ...rich, richText: false }),
    ).toMatchObject({
      // Format::html2text's two line breaks after each </p>; the stored body is trimmed later.
      text: "one\n\ntwo & more\n\n",
      format: "text",
    });
    expect(mailBody(mailWith({}), rich)).toMatchObject({ text: "", format: "text" });
  });

  it("cuts at the reply separator unless nothing would be left, and notes inline images cut off", () => {
    const html =
      '<p>New <img src="cid:keep@x"></p>-- reply above this line --<p>old <img src="cid:gone@x"></p>';
    const cut = mailBody(mailWith({ html }), rich);
    expect(cut.text).toBe('<p>New <img src="cid:keep@x"></p>');
    expect([...cut.strippedCids]).toEqual(["gone@x"]);
    const nothingAbove = mailBody(mailWith({ text: "  \n-- reply above this line --\nold" }), rich);
    expect(nothingAbove.text).toBe("  \n-- reply above this line --\nold");
    expect(
      mailBody(mailWith({ text: "a -- reply above this line -- b" }), { ...rich, replySeparator: null }).text,
    ).toBe("a -- reply above this line -- b");
  });

  it("takes data: images out of html bodies as osTicket's parseRfc2397 reads them", () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    const { html, images } = extractEmbeddedImages(
      `<p><img src="data:image/png;base64,${png.toString("base64")}"><img src="data:image/gif;charset=x;base64,AAAA"></p>`,
    );
    expect(images).toHaveLength(2);
    const [first, second] = images;
    expect(first?.name).toMatch(/^image[A-Za-z0-9]{4}\.png$/);
    expect(first?.type).toBe("image/png");
    expect(first?.data.equals(png)).toBe(true);
    expect(first?.cid).toMatch(/^img[A-Za-z0-9]{12}$/);
    // Only a first parameter `base64` decodes (osTicket reads the whole parameter string as one).
    expect(second?.data.toString("utf8")).toBe("AAAA");
    expect(html).toBe(`<p><img src="cid:${first?.cid}"><img src="cid:${second?.cid}"></p>`);
    expect(
      mailBody(mailWith({ html: '<img src="data:image/png;base64,AA==">' }), rich).embedded,
    ).toHaveLength(1);
  });

  it("puts the Received From banner above text and html bodies", () => {
    const text = withReceivedFromBanner(
      { text: "hi", format: "text", strippedCids: new Set(), embedded: [] },
      "N",
      "n@x",
    );
    expect(text.text).toBe("Received From: N <n@x>\n\n\n\nhi");
    const html = withReceivedFromBanner(
      { text: "<p>hi</p>", format: "html", strippedCids: new Set(), embedded: [] },
      "N",
      "n@x",
    );
    expect(html.text).toBe("<div>Received From: N &lt;n@x&gt;<br />\n<br />\n<br/><br/></div><p>hi</p>");
  });
});

describe("a message/rfc822 wrapper (Mail_Parse::decode unwraps it)", () => {
  const inner = [
    "From: Olga Original <olga@example.org>",
    "To: someone@example.org",
    "Subject: Printer on fire",
    "Message-ID: <inner-1@example.org>",
    "In-Reply-To: <earlier@example.org>",
    "X-Priority: 1",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="in"',
    "",
    "--in",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "It is on fire.",
    "--in",
    'Content-Type: application/octet-stream; name="log.bin"',
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from("LOG").toString("base64"),
    "--in--",
    "",
  ].join("\r\n");

  function wrapped(outer: readonly string[], body = inner): Uint8Array {
    return Buffer.from(`${[...outer, "Content-Type: message/rfc822"].join("\r\n")}\r\n\r\n${body}`, "utf8");
  }

  it("reads sender, addressees, subject and threading headers from the outer mail, body and files from the inner one", async () => {
    const mail = await parseEmail(
      wrapped([
        "Delivered-To: support@example.com",
        "From: Fred Forwarder <fred@example.com>",
        "To: Support <support@example.com>",
        "Cc: carl@example.com",
        "Subject: Fwd: Printer on fire",
        "Message-ID: <outer-1@example.com>",
        "References: <ref-outer@example.com>",
      ]),
    );
    expect(mail).toMatchObject({
      mid: "<outer-1@example.com>",
      inReplyTo: "",
      references: "<ref-outer@example.com>",
      subject: "Fwd: Printer on fire",
      from: { name: "Fred Forwarder", address: "fred@example.com" },
      to: [{ name: "Support", address: "support@example.com" }],
      cc: [{ name: "", address: "carl@example.com" }],
      deliveredTo: [{ name: "", address: "support@example.com" }],
      text: "It is on fire.\n",
      html: undefined,
      // Read from the header text, which is the inner message's.
      priorityUrgency: 1,
    });
    expect(mail.attachments.map((a) => [a.name, a.type, a.data.toString()])).toEqual([
      ["log.bin", "application/octet-stream", "LOG"],
    ]);
    // The inner headers, names title-cased, the outer Delivered-To added at the end.
    expect(mail.header).toBe(
      [
        "From: Olga Original <olga@example.org>",
        "To: someone@example.org",
        "Subject: Printer on fire",
        "Message-Id: <inner-1@example.org>",
        "In-Reply-To: <earlier@example.org>",
        "X-Priority: 1",
        "Mime-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="in"',
        "Delivered-To: support@example.com",
      ].join("\n"),
    );
  });

  it("the outer Delivered-To replaces the inner one in place; repeated values are joined with ','", async () => {
    const mail = await parseEmail(
      wrapped(
        [
          "Delivered-To: support@example.com",
          "Delivered-To: alerts@example.com",
          "From: fred@example.com",
          "Subject: fwd",
        ],
        "Delivered-To: olga@example.org\r\nX-MS-Has-Attach: yes\r\nX-2fa.id: 7\r\nSubject: inner\r\n\r\nHello.\r\n",
      ),
    );
    // Neither message has a Message-ID: the outer one (null) is added, the stand-in hashes the header text.
    const header = [
      "Delivered-To: support@example.com,alerts@example.com",
      "X-Ms-Has-Attach: yes",
      "X-2Fa.id: 7",
      "Subject: inner",
      "Message-Id: ",
    ].join("\n");
    expect(mail.header).toBe(header);
    expect(mail.mid).toBe(`<${createHash("md5").update(header).digest("hex")}@local>`);
    expect(mail.subject).toBe("fwd");
    expect(mail.text).toBe("Hello.\n");
    expect(mail.deliveredTo.map((a) => a.address)).toEqual(["support@example.com", "alerts@example.com"]);
  });

  it("the inner Message-ID stays when the inner message has one; the outer one is still the mail's", async () => {
    const mail = await parseEmail(
      wrapped(
        ["From: fred@example.com", "Message-ID: <outer-2@example.com>"],
        "Message-ID: <inner-2@x>\r\nSubject: s\r\n\r\nHi\r\n",
      ),
    );
    expect(mail.header).toBe("Message-Id: <inner-2@x>\nSubject: s");
    expect(mail.mid).toBe("<outer-2@example.com>");
  });

  it("fails to decode when the unwrapped headers hold fewer than two names: onParseError with the outer header info", async () => {
    const raw = wrapped(
      [
        "From: Fred Forwarder <fred@example.com>",
        "Subject: Fwd: broken",
        "Message-ID: <outer-3@example.com>",
      ],
      "Content-Type: multipart/mixed\r\nSubject: lost\r\n\r\n--x\r\n",
    );
    const mail = await parseEmail(raw);
    expect(mail).toMatchObject({
      mid: "<outer-3@example.com>",
      subject: "Fwd: broken",
      from: { address: "fred@example.com" },
      text: "Email parse failed: [No boundary found for multipart/mixed part]",
      header: "Message-Id: <outer-3@example.com>",
      parseFailure: { legacyText: "Email parse failed: [No boundary found for multipart/mixed part]" },
    });
    expect(mail.attachments).toEqual([
      {
        name: "Fwd: broken.eml",
        type: "message/rfc822",
        data: Buffer.from(raw),
        cid: undefined,
        deduplicate: false,
      },
    ]);
    // With an outer Delivered-To the map has two names: it decodes, with an empty body and no files.
    const decodes = await parseEmail(
      wrapped(
        ["Delivered-To: support@example.com", "From: fred@example.com", "Subject: s"],
        "Content-Type: multipart/mixed\r\n\r\n--x\r\n",
      ),
    );
    expect(decodes).toMatchObject({ text: undefined, html: undefined, attachments: [], subject: "s" });
    expect(decodes.parseFailure).toBeUndefined();
    expect(decodes.header).toBe("Delivered-To: support@example.com\nMessage-Id: ");
  });

  it("is only a top-level Content-Type of exactly message/rfc822 (its last one, parameters aside)", async () => {
    const mail = await parseEmail(
      Buffer.from(
        "From: fred@example.com\r\nSubject: s\r\nContent-Type: text/plain\r\nContent-Type: Message/RFC822; x=1\r\n\r\nSubject: inner\r\nX-A: 1\r\n\r\nInner body\r\n",
      ),
    );
    expect(mail.text).toBe("Inner body\n");
    expect(mail.header).toBe("Subject: inner\nX-A: 1\nMessage-Id: ");
    const plainMail = await parseEmail(
      Buffer.from(
        "From: fred@example.com\r\nSubject: s\r\nContent-Type: message/rfc822x\r\n\r\nSubject: inner\r\n\r\nx\r\n",
      ),
    );
    expect(plainMail.header).toBe("From: fred@example.com\r\nSubject: s\r\nContent-Type: message/rfc822x");
  });
});
