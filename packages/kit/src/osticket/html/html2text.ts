import { simpleHtml2Text } from "../text.ts";
import { phpTruthyString, sanitizeRichText } from "./format.ts";

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
