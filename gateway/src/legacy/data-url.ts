/**
 * RFC 2397 data URLs the way osTicket 1.18.1 reads them (Format::parseRfc2397), base64 the way PHP decodes
 * it, and charset conversion the way osTicket's Charset::transcode does. The quirks are deliberate:
 *  - without `;charset=` a message is taken as ISO-8859-1 and converted to UTF-8 (UTF-8 input becomes
 *    mojibake); attachments are not converted at all unless a charset is named;
 *  - every parameter is read from the whole parameter string, so `;charset=utf-8;base64` yields the
 *    charset "utf-8;base64" (unknown: the bytes are kept) and no base64 decoding, while a lone `;base64`
 *    decodes;
 *  - base64 is decoded leniently (characters outside the alphabet are skipped).
 * All work is on bytes, as PHP strings are bytes.
 */
import { phpTruthy } from "./php.ts";

export interface DataUrlContent {
  /** The bytes after decoding and charset conversion. */
  data: Buffer;
  /** The declared MIME type, `text/plain` when absent. */
  type: string;
}

const DECODE_TABLE: Int8Array = (() => {
  const table = new Int8Array(256).fill(-2);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  for (const ws of [0x20, 0x09, 0x0a, 0x0d]) table[ws] = -1;
  return table;
})();

/**
 * PHP's base64_decode. Lenient (default): anything outside the alphabet is skipped and a trailing partial
 * sextet is dropped. Strict: whitespace is skipped, any other stray character, data after padding, a
 * dangling sextet or wrong padding fails (undefined).
 */
export function phpBase64Decode(input: Uint8Array, strict = false): Buffer | undefined {
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 3) / 4) + 3);
  let j = 0;
  let i = 0;
  let padding = 0;
  for (const byte of input) {
    if (byte === 0x3d) {
      padding++;
      continue;
    }
    const ch = DECODE_TABLE[byte] ?? -2;
    if (ch < 0) {
      if (!strict || ch === -2) {
        if (strict) return undefined;
        continue;
      }
      continue; // strict mode skips whitespace
    }
    if (padding > 0 && strict) return undefined;
    switch (i % 4) {
      case 0:
        out[j] = ch << 2;
        break;
      case 1:
        out[j] = (out[j] ?? 0) | (ch >> 4);
        j++;
        out[j] = (ch & 0x0f) << 4;
        break;
      case 2:
        out[j] = (out[j] ?? 0) | (ch >> 2);
        j++;
        out[j] = (ch & 0x03) << 6;
        break;
      default:
        out[j] = (out[j] ?? 0) | ch;
        j++;
    }
    i++;
  }
  if (strict && i % 4 === 1) return undefined;
  if (strict && padding > 0 && (padding > 2 || (i + padding) % 4 !== 0)) return undefined;
  return out.subarray(0, j);
}

/** osTicket's Charset::normalize: tidies bogus charset names; ISO-8859-1 for empty or ambiguous ones. */
export function normalizeCharset(charset: string): string {
  let match = /^Windows-?(\d+)$/i.exec(charset);
  if (match) return `Windows-${match[1]}`;
  if (/^ks_c_5601-1987/i.test(charset)) return "cp949";
  match = /^iso-?(\S+[^i])(-i)?$/i.exec(charset);
  if (match) return `ISO-${match[1]}`;
  if (/^gb2312/i.test(charset)) return "GBK";
  if (/^(default|x-user-defined|iso|us-ascii)$/i.test(charset) || /^\s*$/.test(charset)) return "ISO-8859-1";
  return charset;
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Converts bytes in `from` to UTF-8 (iconv with //IGNORE semantics as osTicket uses it): ISO-8859-1 maps each
 * byte to its code point; an unknown charset, or input that is not valid in it, keeps the original bytes.
 */
export function transcodeToUtf8(bytes: Buffer, from: string): Buffer {
  const charset = normalizeCharset(from.trim());
  const label = charset.toLowerCase();
  if (label === "iso-8859-1" || label === "latin1" || label === "iso8859-1") {
    return Buffer.from(bytes.toString("latin1"), "utf8");
  }
  if (label === "utf-8" || label === "utf8") {
    try {
      STRICT_UTF8.decode(bytes);
    } catch {
      return bytes; // iconv fails on an illegal sequence and osTicket keeps the original text
    }
    return bytes;
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label, { fatal: true });
  } catch {
    return bytes; // unknown charset: iconv fails, osTicket keeps the original bytes
  }
  try {
    return Buffer.from(decoder.decode(bytes), "utf8");
  } catch {
    return bytes;
  }
}

/**
 * Format::parseRfc2397 with `$output_encoding = 'utf-8'`. `assumeLatin1` is its `$always_convert` (true for
 * messages, false for attachments).
 */
export function parseDataUrl(input: Buffer, assumeLatin1: boolean): DataUrlContent {
  if (input.subarray(0, 5).toString("latin1") !== "data:") return { data: input, type: "text/plain" };
  const rest = input.subarray(5);
  const comma = rest.indexOf(0x2c);
  const meta = (comma < 0 ? rest : rest.subarray(0, comma)).toString("latin1");
  let contents: Buffer = comma < 0 ? Buffer.alloc(0) : rest.subarray(comma + 1);
  let type: string | undefined;
  let extra: string | undefined;
  if (phpTruthy(meta)) {
    const semicolon = meta.indexOf(";");
    type = semicolon < 0 ? meta : meta.slice(0, semicolon);
    extra = semicolon < 0 ? undefined : meta.slice(semicolon + 1);
  } else {
    extra = "";
  }
  if (!phpTruthy(type)) type = "text/plain";
  const parameterCount = (extra ?? "").split(";").length;
  let charset: string | false | undefined = assumeLatin1 ? "iso-8859-1" : false;
  // osTicket splits the whole parameter string (not each parameter) on "=", once per parameter.
  const [param, value] = (extra ?? "").split("=");
  for (let i = 0; i < parameterCount; i++) {
    if (param === "charset") charset = value;
    else if (param === "base64") contents = phpBase64Decode(contents) ?? Buffer.alloc(0);
  }
  if (charset) contents = transcodeToUtf8(contents, charset);
  return { data: contents, type: Buffer.from(type, "latin1").toString("utf8") };
}
