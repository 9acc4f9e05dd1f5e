/**
 * osTicket's Charset::transcode into UTF-8 (include/class.charset.php), used for text bodies and text
 * attachments that declare a charset. osTicket cleans the name up first (Charset::normalize) and converts
 * with iconv: `us-ascii` and other bogus names are read as ISO-8859-1, and ISO-8859-1 is ISO-8859-1 proper
 * — bytes 0x80-0x9F become C1 controls, not the windows-1252 punctuation a WHATWG decoder gives them.
 * A charset iconv does not know leaves the bytes as they are (transcode falls back to the original text).
 */
export function transcodeToUtf8(data: Buffer, charset: string): Buffer {
  // An empty name is guessed (mb_detect_encoding: ASCII or UTF-8), else ISO-8859-1.
  if (!charset.trim() && isUtf8(data)) return data;
  const name = normalizeCharset(charset.trim());
  if (LATIN1.has(name.toLowerCase())) return Buffer.from(data.toString("latin1"), "utf8");
  // UTF-8 to UTF-8 changes nothing that osTicket keeps (iconv gives up on bad bytes; the original stays).
  if (/^utf-?8$/i.test(name)) return data;
  for (const label of [name, charset.trim()]) {
    try {
      return Buffer.from(new TextDecoder(label).decode(data), "utf8");
    } catch {
      // Not a name the decoder knows: try the next one, else keep the bytes.
    }
  }
  return data;
}

function isUtf8(data: Buffer): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(data);
    return true;
  } catch {
    return false;
  }
}

/** iconv's names for ISO-8859-1 (a WHATWG decoder reads all of them as windows-1252). */
const LATIN1 = new Set([
  "iso-8859-1",
  "iso8859-1",
  "latin1",
  "l1",
  "cp819",
  "ibm819",
  "iso-ir-100",
  "csisolatin1",
]);

/** Charset::normalize: bogus, ambiguous or empty names are ISO-8859-1; a few common misspellings fixed. */
export function normalizeCharset(charset: string): string {
  const windows = /^windows-?(\d+)$/i.exec(charset);
  if (windows) return `Windows-${windows[1]}`;
  if (/^ks_c_5601-1987/i.test(charset)) return "cp949";
  const iso = /^iso-?(\S+[^i])(-i)?$/i.exec(charset);
  if (iso) return `ISO-${iso[1]}`;
  if (/^gb2312/i.test(charset)) return "GBK";
  if (/^(default|x-user-defined|iso|us-ascii)$/i.test(charset) || /^\s*$/.test(charset)) return "ISO-8859-1";
  return charset;
}
