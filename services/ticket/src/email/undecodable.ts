import { createHash } from "node:crypto";
import { splitHeaders } from "./headers.ts";

/**
 * Mail that osTicket's MIME decoder gives up on, and what osTicket 1.18.1 does with it instead.
 *
 * Mail_Parse::decode (include/class.mailparse.php) fails in two ways: the PEAR decoder returns an error (a
 * top-level multipart type without a boundary: `No boundary found for <type> part`), or the decoded message
 * has fewer than two distinct header names. EmailDataParser::onParseError then builds the text
 * `Email parse failed: [<PEAR error, else ''>]` and, when Mail_Parse::getHeaderInfo can still read any
 * header at all, goes on with that text as the message and the raw mail attached (attachOnParseError, on by
 * default); only when no header can be read is the text the API's 400 answer (ApiController::parseRequest).
 *
 * Everything here works on a latin1 view of the bytes, so that offsets and names match PHP's byte strings.
 */

/** Why the decoder fails, and how osTicket reads the headers after that. */
export interface DecoderFailure {
  /** The PEAR error's message, '' when the decoder merely found too few header names. */
  readonly pearError: string;
  /** Our own account of what is wrong, for logs. */
  readonly reason: string;
  /** The raw header section (Mail_Parse::getHeader), undefined when the mail has no empty line. */
  readonly section: string | undefined;
  /** Header values by lower-cased name, in order, as Mail_Parse::getHeaders holds them after the failure. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
}

/** The text EmailDataParser::onParseError writes (with the colon of 1.18; older releases had none). */
export function parseFailedText(pearError: string): string {
  return `Email parse failed: [${pearError}]`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: PHP's trim() strips NUL and vertical tab too
const PHP_TRIM = /^[ \t\n\r\0\x0B]+|[ \t\n\r\0\x0B]+$/g;
const asciiLower = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/**
 * Mail_mimeDecode::_splitBodyHeader and Mail_Parse::splitBodyHeader: everything before the first empty line
 * that is followed by at least one more character; undefined when there is none.
 */
export function headerSection(latin1: string): string | undefined {
  return /^([\s\S]*?)\r?\n\r?\n[\s\S]/.exec(latin1)?.[1];
}

/**
 * Mail_mimeDecode::_parseHeaders and the header list of Mail_mimeDecode::_decode: folded lines joined, the
 * name is whatever precedes the first colon (untrimmed; '' for a line without one), the value what follows
 * it less one space. With no header section at all (list() of false gives null, and null !== '') the
 * decoder still reads one nameless, empty header.
 */
export function decoderHeaders(section: string | undefined): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  if (section === "") return headers;
  const unfolded = (section ?? "")
    .replace(/\r?\n/g, "\r\n")
    .replace(/\r\n[\t ]+/g, " ")
    .replace(PHP_TRIM, "");
  for (const line of unfolded.split("\r\n")) {
    const colon = line.indexOf(":");
    const name = colon === -1 ? "" : line.slice(0, colon);
    let value = line.slice(colon === -1 ? 1 : colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    const key = asciiLower(name);
    headers.set(key, [...(headers.get(key) ?? []), value]);
  }
  return headers;
}

/** The multipart types Mail_mimeDecode::_decode splits (any other type is kept as one body). */
const SPLIT_MULTIPART = new Set([
  "multipart/parallel",
  "multipart/appledouble",
  "multipart/report",
  "multipart/signed",
  "multipart/digest",
  "multipart/alternative",
  "multipart/related",
  "multipart/relative",
  "multipart/mixed",
]);

/**
 * The top-level Content-Type the decoder acts on (its last `content-type` header), when it is a multipart
 * type it splits but names no boundary parameter: the type as written, else undefined.
 */
function multipartWithoutBoundary(headers: ReadonlyMap<string, readonly string[]>): string | undefined {
  const value = headers.get("content-type")?.at(-1);
  if (value === undefined) return undefined;
  const semicolon = value.indexOf(";");
  const type = (semicolon === -1 ? value : value.slice(0, semicolon)).replace(PHP_TRIM, "");
  if (!SPLIT_MULTIPART.has(asciiLower(type))) return undefined;
  if (semicolon !== -1 && parameterNames(value.slice(semicolon + 1)).includes("boundary")) return undefined;
  return type;
}

/** Parameter names of a header value's `; name=value` list (quoted values may hold `;`), lower-cased. */
function parameterNames(params: string): string[] {
  const names: string[] = [];
  for (const [param] of params.matchAll(/(?:[^;"']*["'][^"']*["'][^;"']*|[^;]+)(?:;|$)/g)) {
    const eq = param.indexOf("=");
    if (eq === -1) continue;
    names.push(asciiLower(param.slice(0, eq).replace(/^["';\t\\ ]+|["';\t\\ ]+$/g, "")));
  }
  return names;
}

/**
 * What osTicket's decoder makes of the message: undefined when it decodes it, else the failure. A
 * message/rfc822 wrapper is not looked into here: see forwardedMessage.
 */
export function decoderFailure(latin1: string): DecoderFailure | undefined {
  const section = headerSection(latin1);
  const decoded = decoderHeaders(section);
  const type = multipartWithoutBoundary(decoded);
  if (type !== undefined) {
    // The PEAR error leaves Mail_Parse without the decoder's headers: it splits the raw section itself.
    const split = splitHeaders(section ?? "");
    return {
      pearError: `No boundary found for ${type} part`,
      reason: `the top-level Content-Type ${type} has no boundary parameter`,
      section,
      headers: new Map([...split].map(([name, value]) => [name, [value]])),
    };
  }
  if (decoded.size > 1) return undefined;
  const reason =
    section === undefined
      ? "no header section followed by a body"
      : section === ""
        ? "the message starts with an empty line (no header section)"
        : "fewer than two distinct header names";
  return { pearError: "", reason, section, headers: decoded };
}

/**
 * PHP's lenient base64_decode: characters outside the alphabet (and padding) are skipped, a final lone
 * sextet is dropped. AttachmentFile::create applies it to a file whose encoding is exactly `base64`.
 */
export function phpBase64Decode(text: string): Buffer {
  let clean = text.replace(/[^A-Za-z0-9+/]/g, "");
  if (clean.length % 4 === 1) clean = clean.slice(0, -1);
  return Buffer.from(clean, "base64");
}

/** md5 of the raw header bytes, as Mail_Parse::getMessageId's stand-in hashes them. */
export function md5Latin1(text: string): string {
  return createHash("md5").update(Buffer.from(text, "latin1")).digest("hex");
}

/**
 * A message whose top-level Content-Type is `message/rfc822` (a mail forwarded as its own body), as
 * Mail_Parse::decode (include/class.mailparse.php, 1.18.1) unwraps it. The decoder parses the outer body as
 * a message of its own (raw: the outer Content-Transfer-Encoding is not applied), and Mail_Parse then works
 * on that inner message for the body and the files, and for the header text it stores and reads the
 * priority and bounce markers from. That text is built from the inner headers, with the outer Delivered-To
 * replacing the inner one (when the outer has a non-empty one) and the outer Message-ID added when the inner
 * has none: `Name: value` lines, names title-cased, repeated values joined with `,`.
 *
 * Everything Mail_Parse::getHeaderInfo reads (From, To, Cc, Bcc, Delivered-To, Reply-To, Subject, Message-ID,
 * In-Reply-To, References, and the Content-Transfer-Encoding of the raw mail attached on a parse error) still
 * comes from the OUTER headers: decode() bound its header map by reference to the outer structure before it
 * swapped the structure, so the swap does not reach it. The Message-ID stand-in for a mail without one is the
 * md5 of the built header text.
 *
 * The decode fails (EmailDataParser::onParseError) when the inner header map, after those additions, holds
 * fewer than two names; the PEAR error is the inner one (a multipart type without a boundary), whose own
 * headers are then not read at all.
 */
export interface ForwardedMessage {
  /** The outer header section, as received. */
  readonly outerSection: string;
  /** The outer headers as the decoder holds them (what getHeaderInfo reads). */
  readonly outerHeaders: ReadonlyMap<string, readonly string[]>;
  /** Byte offset of the inner message (the outer body). */
  readonly innerOffset: number;
  /** The inner header section, undefined when the inner message has no empty line followed by a body. */
  readonly innerSection: string | undefined;
  /** Mail_Parse::getHeader after the unwrap. */
  readonly header: string;
  /** The inner message's PEAR error: its body and files are then empty. */
  readonly innerError: string | undefined;
  /** Set when osTicket's decode fails on the unwrapped message. */
  readonly failure: DecoderFailure | undefined;
}

/** The decoder splits at most this much of an inner message (a StringView) looking for its header end. */
const INNER_HEADER_SCAN = 64 << 10;

export function forwardedMessage(latin1: string): ForwardedMessage | undefined {
  const split = /^([\s\S]*?)\r?\n\r?\n[\s\S]/.exec(latin1);
  const outerSection = split?.[1];
  if (split === null || outerSection === undefined) return undefined;
  const outerHeaders = decoderHeaders(outerSection);
  // Mail_mimeDecode::_parseHeaderValue: the value before any `;`, trimmed; the last Content-Type counts.
  const contentType = outerHeaders.get("content-type")?.at(-1);
  if (contentType === undefined) return undefined;
  const semicolon = contentType.indexOf(";");
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).replace(PHP_TRIM, "");
  if (asciiLower(type) !== "message/rfc822") return undefined;

  const innerOffset = split[0].length - 1;
  const inner = latin1.slice(innerOffset);
  const innerSection = headerSection(inner.slice(0, INNER_HEADER_SCAN));
  const innerDecoded = decoderHeaders(innerSection);
  const boundaryless = multipartWithoutBoundary(innerDecoded);
  const innerError = boundaryless === undefined ? undefined : `No boundary found for ${boundaryless} part`;

  // The inner structure's header map: a PEAR error has none of its own.
  const headers = new Map<string, string | string[] | null>();
  if (innerError === undefined) {
    for (const [name, values] of innerDecoded)
      headers.set(name, values.length === 1 ? (values[0] ?? "") : values);
  }
  const deliveredTo = outerHeaders.get("delivered-to");
  // PHP truthiness: '' and '0' are false, any non-empty array true.
  if (deliveredTo && (deliveredTo.length > 1 || (deliveredTo[0] !== "" && deliveredTo[0] !== "0"))) {
    headers.set("delivered-to", deliveredTo.length === 1 ? (deliveredTo[0] ?? "") : [...deliveredTo]);
  }
  // isset(): a missing key; the outer value (null when the outer has none either) is set all the same.
  if ((headers.get("message-id") ?? null) === null) {
    const mid = outerHeaders.get("message-id");
    headers.set("message-id", mid === undefined ? null : mid.length === 1 ? (mid[0] ?? "") : [...mid]);
  }
  const header = [...headers]
    .map(
      ([name, value]) => `${phpTitleCase(name)}: ${Array.isArray(value) ? value.join(",") : (value ?? "")}`,
    )
    .join("\n");
  const failure: DecoderFailure | undefined =
    headers.size > 1
      ? undefined
      : {
          pearError: innerError ?? "",
          reason:
            innerError === undefined
              ? "the forwarded message inside its message/rfc822 wrapper has fewer than two distinct header names"
              : `the forwarded message inside its message/rfc822 wrapper: ${innerError}`,
          section: header,
          headers: outerHeaders,
        };
  return { outerSection, outerHeaders, innerOffset, innerSection, header, innerError, failure };
}

/**
 * mb_convert_case($name, MB_CASE_TITLE) for the ASCII a header name is made of: a letter is upper-cased when
 * what precedes it (skipping case-ignorable `'` `.` `^` and backquote) is not a letter, lower-cased otherwise.
 */
export function phpTitleCase(name: string): string {
  let title = true;
  let out = "";
  for (const ch of name) {
    out += title ? ch.replace(/[a-z]/, (c) => c.toUpperCase()) : asciiLower(ch);
    if ("'.^`".includes(ch)) continue;
    title = !/[A-Za-z]/.test(ch);
  }
  return out;
}
