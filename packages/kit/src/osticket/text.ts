/**
 * osTicket's plain-text helpers that more than one service needs (include/class.format.php and the PHP
 * functions it calls), in PHP's own semantics: strip_tags, htmlspecialchars_decode, wordwrap, and the simple
 * Format::html2text conversion osTicket 1.18.1 runs (it never loads its richer include/html2text.php).
 */

/** `htmlspecialchars_decode` with ENT_COMPAT: only &amp; &quot; &lt; &gt; (single pass). */
export function decodeSpecialChars(text: string): string {
  return text.replace(/&(amp|quot|lt|gt);/g, (_, name: string) =>
    name === "amp" ? "&" : name === "quot" ? '"' : name === "lt" ? "<" : ">",
  );
}

/** PHP `strip_tags`: drops tags and comments; a `<` followed by whitespace is text. */
export function stripTags(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (c !== "<") {
      out += c;
      i++;
      continue;
    }
    const next = text.charAt(i + 1);
    if (next === "" ? false : /\s/.test(next)) {
      out += c;
      i++;
      continue;
    }
    if (text.startsWith("<!--", i)) {
      const end = text.indexOf("-->", i + 4);
      i = end === -1 ? text.length : end + 3;
      continue;
    }
    // Inside a tag until the matching '>' (quotes and nested '<' respected).
    let depth = 1;
    let quote = "";
    i++;
    while (i < text.length && depth > 0) {
      const t = text.charAt(i);
      if (quote) {
        if (t === quote) quote = "";
      } else if (t === '"' || t === "'") {
        quote = t;
      } else if (t === "<") {
        depth++;
      } else if (t === ">") {
        depth--;
      }
      i++;
    }
  }
  return out;
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

/**
 * What osTicket's Format::sanitize leaves of a plain log text (ost_syslog titles and messages): markup
 * neutralised (`&` not starting an entity, `<`, `>`).
 */
export function sanitizeLogText(text: string): string {
  return text
    .replace(/&(?!(?:[a-zA-Z][a-zA-Z0-9]*|#\d+|#x[0-9a-fA-F]+);)/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}
