import { type AddressObject, type Attachment, type EmailAddress, simpleParser } from "mailparser";
import { isEmailAddress } from "../domain/users/email.ts";
import { randCode } from "./body.ts";
import { EmailParseError } from "./errors.ts";
import {
  firstValue,
  headerBlock,
  headerFields,
  headerPriorityUrgency,
  isAutoReply,
  isBounce,
  messageId,
  splitHeaders,
} from "./headers.ts";

/** A mailbox named in an address header. */
export interface MailAddress {
  /** Display name, unquoted and decoded ('' when none). */
  readonly name: string;
  /** `local@domain` as written. */
  readonly address: string;
}

/** A MIME part osTicket keeps as a file. */
export interface MailAttachment {
  readonly name: string;
  /** Lower-cased MIME type. */
  readonly type: string;
  readonly data: Buffer;
  /** Content-ID without its angle brackets, for `cid:` references from the HTML body. */
  readonly cid: string | undefined;
}

export interface ParsedEmail {
  /** The raw header section as received (before the first empty line). */
  readonly header: string;
  /** Message-ID with its angle brackets (or osTicket's `<md5@local>` stand-in when the mail has none). */
  readonly mid: string;
  readonly inReplyTo: string;
  readonly references: string;
  /** Decoded Subject, '' when absent. */
  readonly subject: string;
  /** The sender: the first From address that is a valid e-mail address, else the first one. */
  readonly from: MailAddress | undefined;
  readonly to: readonly MailAddress[];
  readonly cc: readonly MailAddress[];
  readonly deliveredTo: readonly MailAddress[];
  readonly bcc: readonly MailAddress[];
  /** The html and plain-text bodies (all parts of that type, in order), undefined when there is none. */
  readonly html: string | undefined;
  readonly text: string | undefined;
  readonly attachments: readonly MailAttachment[];
  /** Urgency asked for by X-Priority / Importance (1 high, 2 normal, 3 low), 0 when none. */
  readonly priorityUrgency: number;
  readonly isBounce: boolean;
  readonly isAutoReply: boolean;
}

/**
 * Parses a raw RFC 822 message. Headers used for threading (Message-ID, In-Reply-To, References) are read
 * from the raw header section as osTicket reads them; addresses, subject, bodies and attachments come from
 * mailparser. Throws EmailParseError when the input is not a mail message (no header section, or fewer than
 * two header fields, which osTicket's MIME decoder also refuses).
 */
export async function parseEmail(raw: Uint8Array): Promise<ParsedEmail> {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (!bytes.length) throw new EmailParseError("empty message");
  const message = bytes.toString("utf8");
  const header = headerBlock(message);
  if (header === undefined) throw new EmailParseError("no header section followed by a body");
  const fields = headerFields(header);
  if (fields.length < 2) throw new EmailParseError("fewer than two header fields");

  const mail = await decode(bytes);
  const multipart = /^\s*multipart\//i.test(firstValue(fields, "content-type"));
  const eol = header.includes("\r\n") ? "\r\n" : "\n";
  const content = await contentOf(mail, multipart, eol, 0);
  const fromList = addresses(mail.from);
  const sender = fromList.find((a) => isEmailAddress(a.address)) ?? fromList[0];
  // `addr (Comment)`: osTicket's name is the empty display name plus " (Comment)".
  const rawFrom = firstValue(fields, "from");
  const from =
    sender?.name && !rawFrom.includes("<") && rawFrom.includes(`(${sender.name})`)
      ? { ...sender, name: ` (${sender.name})` }
      : sender;
  const split = splitHeaders(header);
  return {
    header,
    mid: messageId(header, fields),
    inReplyTo: firstValue(fields, "in-reply-to"),
    references: firstValue(fields, "references"),
    subject: mail.subject ?? "",
    from,
    to: addresses(mail.to),
    cc: addresses(mail.cc),
    deliveredTo: addresses(mail.headers.get("delivered-to")),
    bcc: addresses(mail.bcc),
    html: content.html.length ? content.html.join("") : undefined,
    text: content.text.length ? content.text.join("\n") : undefined,
    attachments: content.files,
    priorityUrgency: headerPriorityUrgency(header),
    isBounce: isBounce(split),
    isAutoReply: isAutoReply(split),
  };
}

type Decoded = Awaited<ReturnType<typeof simpleParser>>;

async function decode(bytes: Buffer): Promise<Decoded> {
  try {
    return await simpleParser(bytes, {
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipTextLinks: true,
      skipImageLinks: true,
    });
  } catch (error) {
    throw new EmailParseError(error instanceof Error ? error.message : String(error));
  }
}

/** Attached messages are opened this deep at most. */
const MAX_NESTING = 5;

/**
 * Bodies and files the way osTicket's MIME walk finds them: its body lookup also descends into attached
 * messages (so their text or html joins the body — with rich text, an attached message's html is taken
 * even when the outer mail is plain text), an attached message with a Content-Disposition is kept as one
 * `.eml` file, and one without is opened up instead: its own files become the mail's files.
 */
async function contentOf(
  mail: Decoded,
  multipart: boolean,
  eol: string,
  depth: number,
): Promise<{ html: string[]; text: string[]; files: MailAttachment[] }> {
  const html: string[] = [];
  const text: string[] = [];
  const files: MailAttachment[] = [];
  if (typeof mail.html === "string") {
    // osTicket's MIME decoder keeps the line break before a part's closing boundary (mailparser drops it):
    // it is what leaves the trailing space on stored html bodies.
    html.push(multipart && !mail.html.endsWith("\n") ? `${mail.html}\n` : mail.html);
  }
  if (mail.text !== undefined) text.push(mail.text);
  for (const part of mail.attachments) {
    const isMessage = part.contentType.toLowerCase() === "message/rfc822";
    if (isMessage && depth < MAX_NESTING) {
      const inner = await contentOf(await decode(part.content), true, eol, depth + 1);
      html.push(...inner.html);
      text.push(...inner.text);
      const disposed = part.contentDisposition === "attachment" || part.contentDisposition === "inline";
      if (!disposed) {
        files.push(...inner.files);
        continue;
      }
    }
    const kept = attachment(part);
    if (!kept) continue;
    // Unless base64-decoded, a part's bytes keep the line break before the next boundary in osTicket.
    const encoding = part.headers.get("content-transfer-encoding");
    const base64 = typeof encoding === "string" && encoding.trim().toLowerCase() === "base64";
    files.push(multipart && !base64 ? { ...kept, data: Buffer.concat([kept.data, Buffer.from(eol)]) } : kept);
  }
  return { html, text, files };
}

function addresses(value: unknown): MailAddress[] {
  const objects: AddressObject[] = Array.isArray(value)
    ? value.filter(isAddressObject)
    : isAddressObject(value)
      ? [value]
      : [];
  const out: MailAddress[] = [];
  const visit = (list: readonly EmailAddress[]) => {
    for (const a of list) {
      if (a.group) visit(a.group);
      else if (a.address) out.push({ name: a.name ?? "", address: a.address });
    }
  };
  for (const o of objects) visit(o.value);
  return out;
}

function isAddressObject(value: unknown): value is AddressObject {
  return typeof value === "object" && value !== null && "value" in value && Array.isArray(value.value);
}

/**
 * A part osTicket keeps as a file (Mail_Parse::getAttachments): it needs a name — the disposition's or the
 * type's, else a generated one for nameless images with a Content-ID (`image-XXXX.png`) and for attached
 * messages (`<subject>.eml`); any other nameless part is dropped. Text parts are stored as UTF-8.
 */
function attachment(part: Attachment): MailAttachment | undefined {
  const type = part.contentType.toLowerCase();
  const [primary = "", secondary = ""] = type.split("/");
  let name = part.filename ?? "";
  if (!name && part.cid && primary === "image") name = `image-${randCode(4)}.${secondary}`;
  if (!name && primary === "message") {
    const subject = /^subject:[ \t]*(.*)$/im.exec(part.content.toString("utf8").split(/\r?\n\r?\n/)[0] ?? "");
    name = `${subject?.[1]?.trim() || `email-message-${randCode(4)}`}.eml`;
  }
  if (!name) return undefined;
  let data = part.content;
  const charset = contentTypeCharset(part);
  if (primary === "text" && charset && !/^(utf-?8|us-ascii)$/i.test(charset)) {
    try {
      data = Buffer.from(new TextDecoder(charset).decode(data), "utf8");
    } catch {
      // Unknown charset: keep the bytes as they came.
    }
  }
  return { name, type, data, cid: part.cid || undefined };
}

function contentTypeCharset(part: Attachment): string | undefined {
  const header = part.headers.get("content-type");
  if (typeof header === "object" && header !== null && "params" in header) {
    const params: unknown = header.params;
    if (typeof params === "object" && params !== null && "charset" in params) {
      const charset: unknown = params.charset;
      return typeof charset === "string" ? charset : undefined;
    }
  }
  return undefined;
}
