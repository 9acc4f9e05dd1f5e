/**
 * The HTTP semantics of a file download, as pure functions: single byte ranges (RFC 9110 §14), entity tags
 * (§8.8.3, §13.1.2), and a safe Content-Disposition (RFC 6266 with an RFC 8187/5987 `filename*`).
 */

/** A satisfiable byte range: `start` and `end` inclusive, as Content-Range writes them. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A Range header's one range as written: from `start` to `last` (inclusive; undefined = the end), or a suffix. */
type RangeSpec = { start: number; last: number | undefined } | { suffix: number };

/** The single byte range a Range header names; undefined when it names none this server supports. */
function rangeSpec(header: string | undefined): RangeSpec | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return undefined;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    const suffix = Number(last);
    return Number.isSafeInteger(suffix) ? { suffix } : undefined;
  }
  const start = Number(first);
  const lastByte = last === "" ? undefined : Number(last);
  if (!Number.isSafeInteger(start) || (lastByte !== undefined && !Number.isSafeInteger(lastByte)))
    return undefined;
  if (lastByte !== undefined && lastByte < start) return undefined;
  return { start, last: lastByte };
}

/**
 * Reads a Range header against a representation of `size` bytes:
 * - `undefined`: no usable range (absent, not `bytes`, malformed, or several ranges) — serve everything
 *   with 200, as RFC 9110 allows a server to ignore what it does not support;
 * - `"unsatisfiable"`: a well-formed single range outside the representation — 416;
 * - a range: serve it with 206.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | "unsatisfiable" | undefined {
  const spec = rangeSpec(header);
  if (spec === undefined) return undefined;
  if ("suffix" in spec) {
    // Suffix range: the last N bytes.
    if (spec.suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - spec.suffix), end: size - 1 };
  }
  if (spec.start >= size) return "unsatisfiable";
  return { start: spec.start, end: Math.min(spec.last ?? Number.POSITIVE_INFINITY, size - 1) };
}

/**
 * The part of the file to ask the attachment service for before its size is known, so that it reads only
 * the chunks a Range header needs: bytes from `offset` (`length` 0 = to the end), or the last `suffix`
 * bytes — exactly what parseRange serves once the size is known, or nothing at all when parseRange
 * answers 416. Undefined when the header asks for no range this server serves (or for none at any size:
 * `bytes=-0`): ask for the whole file.
 */
export function rangeRequest(
  header: string | undefined,
): { offset: number; length: number } | { suffix: number } | undefined {
  const spec = rangeSpec(header);
  if (spec === undefined) return undefined;
  if ("suffix" in spec) return spec.suffix > 0 ? { suffix: spec.suffix } : undefined;
  return { offset: spec.start, length: spec.last === undefined ? 0 : spec.last - spec.start + 1 };
}

/** The strong entity tag of a stored file: its content signature. */
export function entityTag(signature: string): string {
  return `"${signature.replace(/["\\\s]/g, "")}"`;
}

/** If-None-Match against our tag (weak comparison, as §13.1.2 requires for it): true = 304. */
export function noneMatch(header: string | undefined, tag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === "*") return true;
  const opaque = tag.replace(/^W\//, "");
  return header.split(",").some((candidate) => candidate.trim().replace(/^W\//, "") === opaque);
}

/** If-Range: the range applies only when the validator is our (strong) tag; a date or another tag voids it. */
export function ifRangeHolds(header: string | undefined, tag: string): boolean {
  return header === undefined || header.trim() === tag;
}

/**
 * Types a browser would run or render as an active document from our origin (HTML, SVG, XML, scripts):
 * they are always sent as attachments, whatever the link asked for.
 */
export function isRiskyType(type: string): boolean {
  const essence = (type.split(";", 1)[0] ?? "").trim().toLowerCase();
  return essence === "" || /html|xml|svg|javascript|ecmascript|shockwave|multipart/.test(essence);
}

const ATTR_CHAR = /[A-Za-z0-9!#$&+\-.^_`|~]/;

/**
 * `inline|attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`: the quoted name
 * keeps printable ASCII except quote and backslash (others become `_`), the extended one carries the exact
 * name; control characters and path separators never appear in either.
 */
export function contentDisposition(disposition: "inline" | "attachment", name: string): string {
  const clean = name
    .normalize("NFC")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, "")
    .replace(/[/\\]/g, "_")
    .trim();
  const safe = clean === "" ? "file" : clean;
  const ascii = safe.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  let extended = "";
  for (const byte of Buffer.from(safe, "utf8")) {
    const char = String.fromCharCode(byte);
    extended +=
      byte < 0x80 && ATTR_CHAR.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${extended}`;
}
