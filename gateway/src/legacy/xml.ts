/**
 * XML request bodies read the way osTicket's XmlDataParser does (include/class.xml.php), with a maintained
 * streaming parser (saxes) for well-formedness and positions:
 *  - elements become arrays keyed by name, attributes become keys, text becomes ":text" (each text run
 *    trimmed), repeated elements become lists, and elements holding only text collapse to that text;
 *  - the parser is never told the input has ended, so a truncated document is not an error (it just
 *    yields less data, and validation reports what is missing);
 *  - a document that is not well-formed is `XML error: <message> at line L:C`.
 * Messages and positions follow PHP 8's ext/xml over libxml2 for the common cases ("Not well-formed (invalid
 * token)" for text where markup is expected, as PHP reports JSON posted to tickets.xml; a mismatched tag,
 * an undeclared entity, a redefined or unquoted attribute, junk after the root, a misplaced XML
 * declaration, a byte that is not UTF-8); other libxml messages are approximated.
 */
import { SaxesParser } from "saxes";
import { isPhpArray, type PhpArray, type PhpValue } from "./php.ts";

export type XmlDecodeResult = { ok: true; value: PhpValue } | { ok: false; error: string };

const NOT_WELL_FORMED = "Not well-formed (invalid token)";
/** Bytes libxml's push parser waits for before it parses anything. */
const LIBXML_START_BYTES = 4;

/**
 * PHP's text for a well-formedness error (ext/xml's libxml error names) and where it reports it. `column`
 * is the parser's (the 1-based column of the last character it read); libxml reports the position after
 * it, and for some errors a position of its own.
 */
function phpError(
  saxesMessage: string,
  text: string,
  line: number,
  column: number,
  rootEnd: number | undefined,
): string {
  const m = saxesMessage.replace(/^(?:[^:]*:)?\d+:\d+: /, "").toLowerCase();
  const after = `${line}:${column + 1}`;
  // Past the next `>` (or `?>`): where libxml stands once it has read the whole tag.
  const pastNext = (mark: string) => {
    const at = text.indexOf(mark, indexAt(text, line, column));
    if (at < 0) return after;
    const [markLine, markColumn] = positionOf(text, at + mark.length - 1).split(":");
    return `${markLine}:${Number(markColumn) + 1}`;
  };
  if (m.startsWith("unmatched closing tag") || m.startsWith("unexpected close tag"))
    return `Mismatched tag at line ${after}`;
  if (m.startsWith("undefined entity")) return `Undeclared entity error at line ${after}`;
  if (m.startsWith("duplicate attribute")) return `Attribute redefined at line ${after}`;
  if (m.startsWith("unquoted attribute value") || m.startsWith("attribute without value"))
    return `Attribute without value at line ${pastNext(">")}`;
  if (m === "disallowed character.") {
    // A `<` in an attribute value (libxml's XML_ERR_LT_IN_ATTRIBUTE, "> required" in ext/xml's table) is
    // reported where it stands; a character XML does not allow, one column past it.
    if (text[indexAt(text, line, column)] === "<") return `> required at line ${line}:${column}`;
    return `Invalid character at line ${after}`;
  }
  if (m.startsWith("disallowed character in tag name"))
    return `XML_ERR_NAME_REQUIRED at line ${line}:${column}`;
  if (m.startsWith("documents may contain only one root")) {
    // At the first character after the root element.
    const junk = rootEnd === undefined ? -1 : text.slice(rootEnd).search(/[^ \t\r\n]/);
    return `Invalid document end at line ${junk < 0 ? after : positionOf(text, (rootEnd ?? 0) + junk)}`;
  }
  if (m.includes("xml declaration")) return `Reserved XML Name at line ${pastNext("?>")}`;
  return `${NOT_WELL_FORMED} at line ${line}:${column}`;
}

/** The string index of 1-based `line` and `column` (in characters) of `text`. */
function indexAt(text: string, line: number, column: number): number {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const next = text.indexOf("\n", start);
    if (next < 0) return text.length;
    start = next + 1;
  }
  const chars = [...(text.slice(start).split("\n", 1)[0] ?? "")];
  return start + chars.slice(0, Math.max(0, column - 1)).join("").length;
}

/** Line and column (1-based, PHP style) of character index `index` of `text`. */
function positionOf(text: string, index: number): string {
  const before = text.slice(0, index + 1);
  const lines = before.split("\n");
  return `${lines.length}:${[...(lines.at(-1) ?? "")].length}`;
}

class XmlFailure extends Error {}

// biome-ignore lint/suspicious/noControlCharactersInRegex: PHP trim() strips NUL and vertical tab too
const PHP_TRIM = /^[ \t\n\r\0\x0B]+|[ \t\n\r\0\x0B]+$/g;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function declaredEncoding(head: string): string | undefined {
  const match = /^\s*<\?xml[^>]*\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head);
  return match?.[1]?.toLowerCase();
}

function decodeBody(body: Buffer): { text: string } | { error: string } {
  const encoding = declaredEncoding(body.subarray(0, 200).toString("latin1"));
  if (encoding === "iso-8859-1" || encoding === "latin1" || encoding === "us-ascii")
    return { text: body.toString("latin1") };
  try {
    return { text: utf8.decode(body) };
  } catch {
    // Position of the first byte that is not UTF-8, as line:column.
    let valid = body.length;
    for (let end = body.length - 1; end >= 0; end--) {
      try {
        utf8.decode(body.subarray(0, end));
        valid = end;
        break;
      } catch {
        // keep looking
      }
    }
    const prefix = body.subarray(0, valid).toString("utf8");
    const lines = prefix.split("\n");
    // libxml reports a byte that is not UTF-8 one column past it.
    const column = [...(lines.at(-1) ?? "")].length + 2;
    return { error: `XML error: Invalid character at line ${lines.length}:${column}` };
  }
}

function nextIndex(list: PhpArray): string {
  let max = -1;
  for (const key of list.keys()) if (/^\d+$/.test(key)) max = Math.max(max, Number(key));
  return String(max + 1);
}

/** class.xml.php's reduce(): drop empty text, collapse text-only elements. */
function reduce(start: PhpArray): PhpValue {
  const text = start.get(":text");
  if (start.size === 1 && text !== undefined) return text;
  if (typeof text === "string" && text.length === 0) start.delete(":text");
  for (const [name, value] of start) if (isPhpArray(value)) start.set(name, reduce(value));
  return start;
}

/**
 * Decodes an XML body into PHP-style data, or the 400 text osTicket answers. An empty document gives an
 * empty array (the caller answers `XML error: No error ...`, as osTicket does).
 */
export function decodeXml(body: Buffer): XmlDecodeResult {
  // libxml's push parser reads nothing before it has 4 bytes to detect the encoding from, and osTicket
  // never tells it the input has ended: a shorter body parses "fine" to no data.
  if (body.length < LIBXML_START_BYTES) return { ok: true, value: new Map() };
  const decoded = decodeBody(body);
  if ("error" in decoded) return { ok: false, error: decoded.error };
  const parser = new SaxesParser({ position: true });
  let content: PhpArray = new Map();
  const stack: PhpArray[] = [];
  let failure: string | undefined;

  let rootEnd: number | undefined;
  parser.on("error", (error) => {
    failure ??= `XML error: ${phpError(error.message, decoded.text, parser.line, parser.column, rootEnd)}`;
    throw new XmlFailure(error.message);
  });
  parser.on("opentag", (tag) => {
    stack.push(content);
    content = new Map([[":text", ""]]);
    for (const [name, value] of Object.entries(tag.attributes)) {
      if (typeof value === "string") content.set(name, value);
    }
  });
  const onText = (text: string) => {
    if (stack.length === 0) return;
    const current = content.get(":text");
    content.set(":text", `${typeof current === "string" ? current : ""}${text.replace(PHP_TRIM, "")}`);
  };
  parser.on("text", onText);
  parser.on("cdata", onText);
  parser.on("closetag", (tag) => {
    const prev = content;
    const parent = stack.pop();
    if (stack.length === 0) rootEnd = parser.position;
    if (!parent) return;
    content = parent;
    const name = tag.name;
    const existing = content.get(name);
    if (existing !== undefined) {
      let list: PhpArray;
      if (isPhpArray(existing) && existing.has("0")) {
        list = existing;
      } else {
        list = new Map([["0", existing]]);
        content.delete(name);
        content.set(name, list);
      }
      list.set(nextIndex(list), prev);
    } else {
      content.set(name, prev);
    }
  });

  // Text where the document must start with markup (JSON posted to tickets.xml, say) fails at its first
  // character, as libxml does; saxes would only notice at the next "<".
  const first = decoded.text.search(/[^ \t\r\n]/);
  if (first >= 0 && decoded.text[first] !== "<")
    return { ok: false, error: `XML error: ${NOT_WELL_FORMED} at line ${positionOf(decoded.text, first)}` };
  try {
    // Never close(): osTicket's parser is not told that the input ended.
    parser.write(decoded.text);
  } catch (error) {
    if (!(error instanceof XmlFailure)) throw error;
  }
  if (failure !== undefined) return { ok: false, error: failure };
  return { ok: true, value: reduce(content) };
}

/** The `XML error` text osTicket answers when parsing "succeeded" but gave no usable data. */
export function noXmlError(body: Buffer): string {
  if (body.length < LIBXML_START_BYTES) return "XML error: No error at line 1:1";
  const text = body.toString("utf8");
  const lines = text.split("\n");
  // libxml's column is the position after the last character read.
  return `XML error: No error at line ${lines.length}:${[...(lines.at(-1) ?? "")].length + 1}`;
}
