import { decodeSpecialChars, phpTruthyString, sanitizeRichText, stripTags } from "./format.ts";

/** The line width Mail_Parse::getBody asks Format::html2text for. */
const MAIL_WIDTH = 100;

/**
 * An html-only mail's body as text when rich text is off: Mail_Parse::getBody's
 * `Format::html2text(Format::safe_html($html), 100, false)` in osTicket 1.18.1.
 *
 * Format::html2text prefers `convert_html_to_text` (include/html2text.php: upper-cased bold, link
 * footnotes, list bullets, tables), but nothing in 1.18.1 loads that file, so the simple conversion is what
 * runs: `<br>` (`<br/>`, `<br />`, any case) becomes a line break, `</div>` one line break and `</p>` two
 * (either replacing the whitespace after it), tags are stripped, only &amp; &quot; &lt; &gt; are decoded
 * (other entities stay as written), and the text is wrapped at 100 bytes with PHP's wordwrap, long words
 * cut.
 */
export function mailHtmlToText(html: string): string {
  const safe = sanitizeRichText(html);
  return phpTruthyString(safe) ? simpleHtml2Text(safe, MAIL_WIDTH) : safe;
}

/**
 * What Format::html2text does after its optional tidying, on the simple path 1.18.1 runs: line breaks for
 * `<br>`, `</div>` and `</p>`, tags stripped, &amp; &quot; &lt; &gt; decoded, wrapped at `width` bytes.
 */
export function simpleHtml2Text(html: string, width: number): string {
  const broken = html
    .replace(/<br ?\/?>/gi, "\n")
    .replace(/(<\/div>)[ \t\n\v\f\r]*/gi, "$1\n")
    .replace(/(<\/p>)[ \t\n\v\f\r]*/gi, "$1\n\n");
  return phpWordwrap(decodeSpecialChars(stripTags(broken)), width);
}

/**
 * PHP's `wordwrap($text, $width, "\n", true)`: counts bytes, keeps existing line breaks, breaks at the last
 * space that fits (the space is dropped) and cuts words longer than the width. A cut that would fall inside
 * a multi-byte character is moved back to the character's start, where PHP splits the character (and
 * MySQL then refuses or cuts the invalid UTF-8).
 */
export function phpWordwrap(text: string, width: number): string {
  const bytes = Buffer.from(text, "utf8");
  const out: Buffer[] = [];
  const newline = Buffer.from("\n");
  const length = bytes.length;
  let lastStart = 0;
  let lastSpace = 0;
  let current = 0;
  for (; current < length; current++) {
    const byte = bytes[current];
    if (byte === 0x0a && current + 1 < length) {
      out.push(bytes.subarray(lastStart, current + 1));
      lastStart = lastSpace = current + 1;
    } else if (byte === 0x20) {
      if (current - lastStart >= width) {
        out.push(bytes.subarray(lastStart, current), newline);
        lastStart = current + 1;
      }
      lastSpace = current;
    } else if (current - lastStart >= width && lastStart >= lastSpace) {
      let cut = current;
      while (cut > lastStart && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
      if (cut === lastStart) cut = current;
      out.push(bytes.subarray(lastStart, cut), newline);
      lastStart = lastSpace = cut;
      current = cut;
    } else if (current - lastStart >= width && lastStart < lastSpace) {
      out.push(bytes.subarray(lastStart, lastSpace), newline);
      lastStart = lastSpace = lastSpace + 1;
    }
  }
  if (lastStart !== current) out.push(bytes.subarray(lastStart, current));
  return Buffer.concat(out).toString("utf8");
}
