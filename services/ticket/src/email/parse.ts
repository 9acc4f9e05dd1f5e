import { phpTrim } from "@ostmesh/kit/osticket/html/format.ts";
import { type AddressObject, type Attachment, type EmailAddress, simpleParser } from "mailparser";
import { isEmailAddress } from "../domain/users/email.ts";
import { randCode } from "./body.ts";
import { transcodeToUtf8 } from "./charset.ts";
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
import { type MimeLeaf, mimeLeaves } from "./leaves.ts";
import { decodeTnef, type TnefMessage, tnefFiles, tnefHtmlBody, tnefImportance } from "./tnef.ts";
import {
  type DecoderFailure,
  decoderFailure,
  type ForwardedMessage,
  forwardedMessage,
  md5Latin1,
  parseFailedText,
  phpBase64Decode,
} from "./undecodable.ts";

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
  /**
   * false for the raw mail attached to an undecodable message: osTicket gives AttachmentFile::create no size
   * for it (Mail_Parse::getMimeFile), so it is stored without looking for identical bytes.
   */
  readonly deduplicate?: false;
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
  /**
   * The first Reply-To address (Mail_Parse::getHeaderInfo's `reply-to`), its display name trimmed of
   * whitespace and double quotes as osTicket trims it (`reply-to-name`); undefined without the header.
   */
  readonly replyTo?: MailAddress | undefined;
  /** The html and plain-text bodies (all parts of that type, in order), undefined when there is none. */
  readonly html: string | undefined;
  readonly text: string | undefined;
  readonly attachments: readonly MailAttachment[];
  /** Urgency asked for by X-Priority / Importance (1 high, 2 normal, 3 low), 0 when none. */
  readonly priorityUrgency: number;
  /**
   * PR_IMPORTANCE of a decoded TNEF part (0 low, 1 normal, 2 high), when it sets one: it overrides the
   * headers' priority (Mail_Parse::getPriority asks for urgency 4 − importance).
   */
  readonly tnefImportance?: number;
  /** Mail_Parse's notes: why a TNEF part could not be decoded (osTicket keeps them and shows them nowhere). */
  readonly notes?: readonly string[];
  readonly isBounce: boolean;
  readonly isAutoReply: boolean;
  /**
   * Set when osTicket's MIME decoder could not decode the message but its headers could still be read: the
   * body is then osTicket's error text and the raw message the one attachment (EmailDataParser::onParseError).
   */
  readonly parseFailure?: { readonly reason: string; readonly legacyText: string };
}

/**
 * Parses a raw RFC 822 message. Headers used for threading (Message-ID, In-Reply-To, References) are read
 * from the raw header section as osTicket reads them; addresses, subject and attachments come from
 * mailparser, bodies from the MIME parts themselves (see contentOf). A message osTicket's MIME decoder cannot decode is what EmailDataParser::onParseError makes of
 * it (include/class.mailparse.php): its header fields, osTicket's error text as the plain-text body and the
 * raw message as its one attachment, with `parseFailure` set. A mail whose top-level type is message/rfc822
 * is unwrapped as Mail_Parse::decode unwraps it (see ForwardedMessage). Throws EmailParseError when not even
 * a header can be read from it (osTicket's 400 `Email parse failed: [...]`).
 */
export async function parseEmail(raw: Uint8Array): Promise<ParsedEmail> {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const latin1 = bytes.toString("latin1");
  const forwarded = forwardedMessage(latin1);
  if (forwarded)
    return forwarded.failure ? undecodable(bytes, forwarded.failure) : unwrapped(bytes, forwarded);
  const failure = decoderFailure(latin1);
  if (failure) return undecodable(bytes, failure);
  const message = bytes.toString("utf8");
  const header = headerBlock(message) ?? "";
  const fields = headerFields(header);

  const mail = await decode(bytes);
  const multipart = /^\s*multipart\//i.test(firstValue(fields, "content-type"));
  const eol = header.includes("\r\n") ? "\r\n" : "\n";
  const leaves = await mimeLeaves(bytes);
  const content = withTnef(await contentOf(mail, leaves, multipart, eol, 0), leaves);
  return decodedEmail(header, messageId(header, fields), mail, fields, content);
}

/**
 * The parsed mail: `header` as osTicket keeps it, envelope (addresses, subject) from `envelope` and its raw
 * `fields` (threading headers, the From line), bodies and files from `content`.
 */
function decodedEmail(
  header: string,
  mid: string,
  envelope: Decoded,
  fields: ReturnType<typeof headerFields>,
  content: MailContent,
): ParsedEmail {
  const split = splitHeaders(header);
  return {
    header,
    mid,
    inReplyTo: firstValue(fields, "in-reply-to"),
    references: firstValue(fields, "references"),
    subject: envelope.subject ?? "",
    from: sender(addresses(envelope.from), firstValue(fields, "from")),
    to: addresses(envelope.to),
    cc: addresses(envelope.cc),
    deliveredTo: addresses(envelope.headers.get("delivered-to")),
    bcc: addresses(envelope.bcc),
    replyTo: replyTo(envelope.replyTo),
    html: content.html.length ? content.html.join("") : undefined,
    text: content.text.length ? content.text.join("") : undefined,
    attachments: content.files,
    priorityUrgency: headerPriorityUrgency(header),
    ...(content.tnefImportance !== undefined ? { tnefImportance: content.tnefImportance } : {}),
    ...(content.notes?.length ? { notes: content.notes } : {}),
    isBounce: isBounce(split),
    isAutoReply: isAutoReply(split),
  };
}

/**
 * A mail forwarded as a message/rfc822 wrapper, as osTicket 1.18.1 reads it (see ForwardedMessage): sender,
 * addressees, subject and the threading headers of the outer message, the body and files of the inner one,
 * and the header text Mail_Parse builds from the inner headers.
 */
async function unwrapped(bytes: Buffer, forwarded: ForwardedMessage): Promise<ParsedEmail> {
  const outerHeader = Buffer.from(forwarded.outerSection, "latin1").toString("utf8");
  const outerFields = headerFields(outerHeader);
  const outer = await decode(Buffer.concat([bytes.subarray(0, forwarded.outerSection.length), CRLF2]));
  const header = Buffer.from(forwarded.header, "latin1").toString("utf8");
  const ids = outerFields.filter((f) => f.name === "message-id" && f.value).map((f) => f.value);
  const mid = ids.at(-1) ?? `<${md5Latin1(forwarded.header)}@local>`;
  let content: MailContent = { html: [], text: [], files: [] };
  if (forwarded.innerError === undefined) {
    const innerHeader = Buffer.from(forwarded.innerSection ?? "", "latin1").toString("utf8");
    const multipart = /^\s*multipart\//i.test(firstValue(headerFields(innerHeader), "content-type"));
    const eol = innerHeader.includes("\r\n") ? "\r\n" : "\n";
    const inner = bytes.subarray(forwarded.innerOffset);
    const leaves = await mimeLeaves(inner);
    content = withTnef(await contentOf(await decode(inner), leaves, multipart, eol, 0), leaves);
  }
  return decodedEmail(header, mid, outer, outerFields, content);
}

const CRLF2 = Buffer.from("\r\n\r\n");

/**
 * Mail_Parse::getHeaderInfo's sender: the first From address that is a valid e-mail address, else the first
 * one; for `addr (Comment)` osTicket's name is the empty display name plus " (Comment)".
 */
function sender(fromList: readonly MailAddress[], rawFrom: string): MailAddress | undefined {
  const first = fromList.find((a) => isEmailAddress(a.address)) ?? fromList[0];
  return first?.name && !rawFrom.includes("<") && rawFrom.includes(`(${first.name})`)
    ? { ...first, name: ` (${first.name})` }
    : first;
}

/** Header values that reach osTicket's string functions; given twice they are an array, which PHP 8 refuses. */
const SINGLE_VALUED = ["subject", "in-reply-to", "references"];

/**
 * EmailDataParser::onParseError with attachOnParseError (include/class.mailparse.php): the header info
 * Mail_Parse::getHeaderInfo reads from the headers left after the failure, the error text as a plain-text
 * message, and Mail_Parse::getMimeFile — the raw message as `<subject or Message-ID>.eml`, message/rfc822,
 * base64-decoded when the mail's own Content-Transfer-Encoding is exactly `base64` (AttachmentFile::create).
 */
async function undecodable(bytes: Buffer, failure: DecoderFailure): Promise<ParsedEmail> {
  const text = parseFailedText(failure.pearError);
  // getHeaderInfo gives up when there is no header at all: the text is then the API's answer.
  if (failure.headers.size === 0) throw new EmailParseError(failure.reason, text);
  const values = (name: string) => failure.headers.get(name) ?? [];
  for (const name of SINGLE_VALUED) {
    if (values(name).length > 1) {
      throw new EmailParseError(
        `${failure.reason}, and its ${name} header is given more than once (osTicket's PHP fails on that)`,
        `Invalid request: the e-mail cannot be decoded and its ${name} header is given more than once`,
      );
    }
  }
  const one = (name: string) => values(name)[0] ?? "";
  // Mail_Parse::parseAddressList joins a repeated header's values with ", ".
  const list = (name: string) => values(name).join(", ");
  // The looked-up values, decoded (RFC 2047 words, address lists) by the same parser as any other mail.
  const lines = [
    ["From", list("from")],
    ["To", list("to")],
    ["Cc", list("cc")],
    ["Bcc", list("bcc")],
    ["Delivered-To", list("delivered-to")],
    ["Reply-To", list("reply-to")],
    ["Subject", one("subject")],
  ].filter(([, value]) => value);
  const head = Buffer.from(`${lines.map(([n, v]) => `${n}: ${v}`).join("\r\n")}\r\n\r\n`, "latin1");
  const mail = await decode(head);
  const section = failure.section ?? "";
  const header = Buffer.from(section, "latin1").toString("utf8");
  const ids = values("message-id").filter(Boolean);
  const mid = ids.length ? (ids.at(-1) ?? "") : `<${md5Latin1(section)}@local>`;
  const subject = mail.subject ?? "";
  const encoding = values("content-transfer-encoding");
  const data =
    encoding.length === 1 && encoding[0] === "base64" ? phpBase64Decode(bytes.toString("latin1")) : bytes;
  const split = splitHeaders(header);
  return {
    header,
    mid: Buffer.from(mid, "latin1").toString("utf8"),
    inReplyTo: Buffer.from(one("in-reply-to"), "latin1").toString("utf8"),
    references: Buffer.from(one("references"), "latin1").toString("utf8"),
    subject,
    from: sender(addresses(mail.from), Buffer.from(list("from"), "latin1").toString("utf8")),
    to: addresses(mail.to),
    cc: addresses(mail.cc),
    deliveredTo: addresses(mail.headers.get("delivered-to")),
    bcc: addresses(mail.bcc),
    replyTo: replyTo(mail.replyTo),
    html: undefined,
    text,
    attachments: [
      {
        name: `${subject || Buffer.from(mid, "latin1").toString("utf8")}.eml`,
        type: "message/rfc822",
        data,
        cid: undefined,
        deduplicate: false,
      },
    ],
    priorityUrgency: headerPriorityUrgency(header),
    isBounce: isBounce(split),
    isAutoReply: isAutoReply(split),
    parseFailure: { reason: failure.reason, legacyText: text },
  };
}

type Decoded = Awaited<ReturnType<typeof simpleParser>>;

/** Bodies (html and text parts, in order) and files of a decoded mail. */
interface MailContent {
  html: string[];
  text: string[];
  files: MailAttachment[];
  tnefImportance?: number;
  notes?: string[];
}

async function decode(bytes: Buffer): Promise<Decoded> {
  try {
    return await simpleParser(bytes, {
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipTextLinks: true,
      skipImageLinks: true,
    });
  } catch (error) {
    // osTicket's decoder took it; mailparser did not. No PEAR error to quote.
    throw new EmailParseError(error instanceof Error ? error.message : String(error), parseFailedText(""));
  }
}

/** Attached messages are opened this deep at most. */
const MAX_NESTING = 5;

/**
 * Bodies and files the way osTicket's MIME walk finds them: its body lookup also descends into attached
 * messages (so their text or html joins the body — with rich text, an attached message's html is taken
 * even when the outer mail is plain text), an attached message with a Content-Disposition is kept as one
 * `.eml` file, and one without is opened up instead: its own files become the mail's files.
 *
 * A part is a file candidate (Mail_Parse::getAttachments) when its disposition is `attachment` or `inline`,
 * or, without either, when it is image/* or application/*: a named `text/calendar` or `audio/mpeg` part
 * with no disposition is dropped. A named text part marked `inline` is both: its text joins the body and
 * it is kept as a file (mailparser does not list it among its attachments, so `leaves` supplies it).
 */
async function contentOf(
  mail: Decoded,
  leaves: readonly MimeLeaf[],
  multipart: boolean,
  eol: string,
  depth: number,
): Promise<MailContent> {
  const html: string[] = [];
  const text: string[] = [];
  const files: MailAttachment[] = [];
  // Mail_Parse::getPart: the html parts and the plain-text parts (inline or without a disposition), each
  // transcoded as osTicket does and joined as they are — not mailparser's bodies, which put `<br/>` or a
  // line break between parts, stand for each sibling of the other type too and read charsets the WHATWG way.
  for (const leaf of leaves) {
    if (isBodyPart(leaf, "text/html")) html.push(bodyText(leaf, multipart));
    else if (isBodyPart(leaf, "text/plain")) text.push(bodyText(leaf, multipart));
  }
  const inlineTexts = leaves.filter((leaf) => !leaf.inMessage && isInlineNamedText(leaf));
  const keep = (kept: MailAttachment, transferEncoding: unknown) => {
    // Unless base64-decoded, a part's bytes keep the line break before the next boundary in osTicket.
    const base64 = typeof transferEncoding === "string" && transferEncoding.trim().toLowerCase() === "base64";
    files.push(multipart && !base64 ? { ...kept, data: Buffer.concat([kept.data, Buffer.from(eol)]) } : kept);
  };
  const keepInlineTextsBefore = (partId: string | null | undefined) => {
    while (inlineTexts[0] && (partId == null || comparePartIds(inlineTexts[0].partId, partId) < 0)) {
      const leaf = inlineTexts.shift();
      if (leaf) keep(inlineTextFile(leaf), leaf.transferEncoding);
    }
  };
  for (const part of mail.attachments) {
    keepInlineTextsBefore(part.partId);
    const isMessage = part.contentType.toLowerCase() === "message/rfc822";
    if (isMessage && depth < MAX_NESTING) {
      const inner = await contentOf(
        await decode(part.content),
        await mimeLeaves(part.content),
        true,
        eol,
        depth + 1,
      );
      html.push(...inner.html);
      text.push(...inner.text);
      const disposed = part.contentDisposition === "attachment" || part.contentDisposition === "inline";
      if (!disposed) {
        files.push(...inner.files);
        continue;
      }
    }
    const kept = isFileCandidate(part) ? attachment(part) : undefined;
    if (kept) keep(kept, part.headers.get("content-transfer-encoding"));
  }
  keepInlineTextsBefore(undefined);
  return { html, text, files };
}

/**
 * Mail_Parse::decode's TNEF pass: each single part directly under the message typed exactly
 * `application/ms-tnef` (Mail_mimeDecode keeps the case as written, and osTicket compares it as is) is
 * decoded; the last one that decodes is the message's TNEF, and a part that does not decode stays a file,
 * with a note. With a TNEF, its PR_BODY_HTML is the html body whenever it has one (Mail_Parse::getPart
 * returns it before looking at any part, so it also wins over a text/plain part when rich text is off and
 * there is no plain-text part), and its attachments are the mail's only files (Mail_Parse::getAttachments
 * returns them instead of the MIME parts', even when there are none). An attachment without data cannot be
 * stored (AttachmentFile::create gives up) and is left out.
 */
function withTnef(content: MailContent, leaves: readonly MimeLeaf[]): MailContent {
  let tnef: TnefMessage | undefined;
  const notes: string[] = [];
  for (const leaf of leaves) {
    if (leaf.inMessage || leaf.partId === "" || leaf.partId.includes(".") || !isTnefType(leaf.declaredType)) {
      continue;
    }
    try {
      tnef = decodeTnef(leaf.data);
    } catch (error) {
      notes.push(`TNEF parsing exception: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (!tnef) return notes.length ? { ...content, notes } : content;
  const html = tnefHtmlBody(tnef);
  const files: MailAttachment[] = [];
  for (const file of tnefFiles(tnef)) {
    if (!file.data) continue;
    files.push({
      name: file.name,
      type: file.type.toLowerCase(),
      data: file.data,
      cid: file.cid,
      // osTicket passes the attAttachData length as the size; without one it stores the bytes anew.
      ...(file.size ? {} : { deduplicate: false as const }),
    });
  }
  const importance = tnefImportance(tnef);
  return {
    ...content,
    html: html === undefined ? content.html : [html],
    files,
    ...(importance !== undefined ? { tnefImportance: importance } : {}),
    ...(notes.length ? { notes } : {}),
  };
}

/** Mail_mimeDecode's `type/subtype` of a Content-Type, compared as osTicket compares it: case-sensitively. */
function isTnefType(declared: string): boolean {
  const match = /([0-9a-z+.-]+)\/([0-9a-z+.-]+)/i.exec(declared);
  return match?.[1] === "application" && match[2] === "ms-tnef";
}

function isBodyPart(leaf: MimeLeaf, type: string): boolean {
  return leaf.type === type && (leaf.disposition === undefined || leaf.disposition === "inline");
}

/**
 * A body part's text in UTF-8 (transcoded from its declared charset, else taken as it is), line ends as
 * `\n`. osTicket's MIME decoder keeps the line break before a part's closing boundary unless the part was
 * base64-decoded: it is what leaves the trailing space on stored html bodies.
 */
function bodyText(leaf: MimeLeaf, multipart: boolean): string {
  const data = leaf.charset === undefined ? leaf.data : transcodeToUtf8(leaf.data, leaf.charset);
  const text = data.toString("utf8").replace(/\r?\n/g, "\n");
  return multipart && leaf.transferEncoding !== "base64" && !text.endsWith("\n") ? `${text}\n` : text;
}

/** Types mailparser reads as body text when they are inline or carry no disposition. */
const MAILPARSER_TEXT_TYPES = new Set(["text/plain", "text/html", "message/delivery-status"]);

/** A named part marked inline that mailparser reads into the body only; osTicket also keeps it as a file. */
function isInlineNamedText(leaf: MimeLeaf): boolean {
  return MAILPARSER_TEXT_TYPES.has(leaf.type) && leaf.disposition === "inline" && leaf.filename !== undefined;
}

function inlineTextFile(leaf: MimeLeaf): MailAttachment {
  return {
    name: leaf.filename ?? "",
    type: leaf.type,
    data: utf8Text(leaf.type, leaf.charset, leaf.data),
    cid: undefined,
  };
}

/** Mail_Parse::getAttachments' test: an attachment or inline disposition, or else an image or application type. */
function isFileCandidate(part: Attachment): boolean {
  const disposition = part.contentDisposition?.toLowerCase();
  if (disposition === "attachment" || disposition === "inline") return true;
  const primary = declaredType(part).split("/")[0];
  return primary === "image" || primary === "application";
}

/** The Content-Type as the mail gives it (mailparser guesses one from the file name for octet-streams). */
function declaredType(part: Attachment): string {
  const header = part.headers.get("content-type");
  const value = typeof header === "object" && header !== null && "value" in header ? header.value : undefined;
  return typeof value === "string" && value ? value.toLowerCase() : part.contentType.toLowerCase();
}

/** IMAP-style part numbers in tree order ("2" < "2.1" < "10"). */
function comparePartIds(a: string, b: string): number {
  const x = a ? a.split(".").map(Number) : [];
  const y = b ? b.split(".").map(Number) : [];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return d;
  }
  return x.length - y.length;
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

/** The first Reply-To address, its name trimmed of " \t\n\r\0\x0B and `"` (Mail_Parse::getHeaderInfo). */
function replyTo(value: unknown): MailAddress | undefined {
  const first = addresses(value)[0];
  return first && { ...first, name: phpTrim(first.name, ' \t\n\r\0\x0B"') };
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
  const type = declaredType(part);
  const [primary = "", secondary = ""] = type.split("/");
  let name = part.filename ?? "";
  if (!name && part.cid && primary === "image") name = `image-${randCode(4)}.${secondary}`;
  if (!name && primary === "message") {
    const subject = /^subject:[ \t]*(.*)$/im.exec(part.content.toString("utf8").split(/\r?\n\r?\n/)[0] ?? "");
    name = `${subject?.[1]?.trim() || `email-message-${randCode(4)}`}.eml`;
  }
  if (!name) return undefined;
  return {
    name,
    type,
    data: utf8Text(type, contentTypeCharset(part), part.content),
    cid: part.cid || undefined,
  };
}

/** A text file's bytes in UTF-8, transcoded from its declared charset as osTicket does. */
function utf8Text(type: string, charset: string | undefined, data: Buffer): Buffer {
  return type.startsWith("text/") && charset ? transcodeToUtf8(data, charset) : data;
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
