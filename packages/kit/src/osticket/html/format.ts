import { decodeHTML } from "entities";
import { htmlChars } from "./html-chars.ts";
import { htmLawed, iframeSpec } from "./htmlawed.ts";
import { libxmlBalance } from "./libxml-balance.ts";

/**
 * Text and HTML cleaning with osTicket's observable results (FACTS §0, §2.2, §6.1). osTicket's own code is
 * not reused: HTML goes through our port of libxml2's balancing (libxml-balance.ts) and of the htmLawed pass
 * osTicket configures (htmlawed.ts), as `Format::safe_html` runs them, and the plain-text rules are written here.
 */

/** Code point ranges osTicket strips before saving (Format::strip_emoticons). */
const EMOTICON_RANGES =
  /[\u{1F600}-\u{1F64F}\u{1F680}-\u{1F6C5}\u{1F30D}-\u{1F567}\u{1F910}-\u{1F999}\u{1F9C0}-\u{1F9C2}\u{1F9D0}-\u{1F9EF}\u{1F6C0}-\u{1F6D2}\u{1F6E0}-\u{1F6FF}\u{1F500}-\u{1F5FF}\u{1F300}-\u{1F3FF}\u{2702}-\u{27B0}\u{00A9}-\u{00AE}\u{23E0}-\u{23FF}\u{2310}-\u{231F}\u{2322}-\u{232F}\u{1000B6}]/gu;
/** Anything else outside the BMP: utf8mb3 columns cannot store it (MySQL would cut the value there). */
const ASTRAL = /[\u{10000}-\u{10FFFF}]/gu;

/** Removes emoji the way osTicket does, leaving the surrounding spaces alone (`a 😀 b` → `a  b`). */
export function stripEmoticons(text: string): string {
  return text.replace(EMOTICON_RANGES, "").replace(ASTRAL, "");
}

/** PHP `trim()` with its default character list. */
export function phpTrim(text: string, chars = " \t\n\r\0\x0B"): string {
  let start = 0;
  let end = text.length;
  while (start < end && chars.includes(text.charAt(start))) start++;
  while (end > start && chars.includes(text.charAt(end - 1))) end--;
  return text.slice(start, end);
}

/** PHP truthiness of a string ('' and '0' are false). */
export function phpTruthyString(text: string | null | undefined): boolean {
  return !!text && text !== "0";
}

import { decodeSpecialChars, stripTags } from "../text.ts";

export { decodeSpecialChars, htmlChars, stripTags };

/** Format::searchable: NFC, whitespace runs collapsed to their first character, trimmed. */
export function searchable(text: string): string {
  return phpTrim(text.normalize("NFC").replace(/(\s)\s+/gu, "$1"));
}

/** HtmlThreadEntryBody::getSearchable: tags become spaces, entities decoded, whitespace collapsed. */
export function htmlSearchable(html: string): string {
  const spaced = html
    .replace(/<!--[\s\S]*?-->/g, " ")
    .replace(/<\/?([a-zA-Z][^\s/>]*)[^>]*>/g, (_, tag: string) => (tag.toLowerCase() === "wbr" ? "" : " "));
  return searchable(decodeHTML(spaced).replace(/\s+/gu, " "));
}

/** Format::stripEmptyLines: trimmed, runs of 3+ newlines become one empty line. */
export function stripEmptyLines(text: string): string {
  return phpTrim(text).replace(/\n{3,}/g, "\n\n");
}

/** Format::html_balance: tags balanced, entities resolved, empty elements dropped, as libxml2 does it. */
export function balanceHtml(html: string): string {
  if (!phpTrim(html)) return html;
  return libxmlBalance(html);
}

export interface HtmlPolicy {
  /** Domains whose iframes are kept (config `embedded_domain_whitelist`). */
  readonly iframeDomains?: readonly string[];
}

/** htmlspecialchars_decode with ENT_COMPAT | ENT_HTML401 (Format::htmldecode): `&amp; &quot; &lt; &gt;` and
 * numeric references to those four characters, in one pass. */
export function htmlDecode(text: string): string {
  return text.replace(
    /&(?:(amp|quot|lt|gt)|#([0-9]+)|#[xX]([0-9a-fA-F]+));/g,
    (match, name?: string, dec?: string, hex?: string) => {
      if (name) return name === "amp" ? "&" : name === "quot" ? '"' : name === "lt" ? "<" : ">";
      const code = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? "", 16);
      return code === 34 || code === 38 || code === 60 || code === 62 ? String.fromCharCode(code) : match;
    },
  );
}

/**
 * Format::safe_html: entity-encoded markup decoded first (so it cannot slip through), head/style/script
 * blocks and a few mail-client wrappers removed by osTicket's rules, the markup balanced by libxml2
 * (Format::html_balance), then cleaned by htmLawed with osTicket's configuration.
 */
export function sanitizeRichText(input: string, policy: HtmlPolicy = {}): string {
  const prepared = htmlDecode(input)
    .replace(/<(head|style|script)[\s\S]+?<\/\1>/gi, "")
    .replace(/<!\[[^\]<]+\]>/g, "")
    .replace(/<!DOCTYPE[^>]+>/g, "")
    .replace(/<\?[^>]+>/g, "")
    .replace(/<html[^>]+/gi, "<html")
    // Outlook's end-of-compose bookmark keeps only its content (to the line's last </a> or </span>).
    .replace(/<(a|span) (name|style)="(mso-bookmark:)?_MailEndCompose">([^\n]+)?<\/(a|span)>/g, "$4")
    // Gmail's wrapper: the first <div dir="ltr"> and the first </div> after it go, a space in their place.
    .replace(/<div dir=(3D)?"ltr">([\s\S]*?)<\/div>([\s\S]*)/i, "$2 $3")
    .replace(/data-cid="[^"]*"/g, "")
    .replace(/position:[^!";]+;?/g, "");
  const balanced = phpTruthyString(phpTrim(prepared)) ? libxmlBalance(prepared) : prepared;
  return htmLawed(balanced, iframeSpec(policy.iframeDomains ?? []));
}

/** Format::stripExternalImages for storage: images other than cid: or gif/png/jpg/jpeg URLs are removed. */
export function stripExternalImages(html: string): string {
  return html.replace(/<img ([^>]*)(src="([^"]+)")([^>]*)\/?>/g, (match, _a, _b, src: string) => {
    if (src.includes("cid:")) return match;
    let path = src;
    try {
      path = new URL(src, "http://localhost/").pathname;
    } catch {
      // Keep the raw value.
    }
    const ext = (path.split(".").at(-1) ?? "").split(/[^A-Za-z]/)[0]?.toLowerCase() ?? "";
    return ["gif", "png", "jpg", "jpeg"].includes(ext) ? match : "";
  });
}

/** Format::sanitize($text, true): safe HTML with the tags then stripped (entities stay encoded). */
export function sanitizeToText(text: string, policy: HtmlPolicy = {}): string {
  return stripTags(sanitizeRichText(localizeInlineImages(text), policy));
}

/**
 * Format::localizeInlineImages, the first step of Format::sanitize: an image pointing at osTicket's own
 * `file.php?…key=<key>…` URL goes back to `cid:<key>`, the form bodies are stored in. Its pattern, kept as
 * it is: the key runs to the next `&` (osTicket's URLs carry `&expires=` and `&signature=` after it).
 */
export function localizeInlineImages(text: string): string {
  return text.replace(
    /<img src="(?:https?:\/)?(?:\/[^/"]+)*?\/file\.php\?(?:\w+=[^&"]+&(?:amp;)?)*?key=([^&]+)[^"]*/g,
    '<img src="cid:$1',
  );
}

/** Body format of a thread entry. */
export type BodyFormat = "html" | "text";

/**
 * The body as osTicket stores it (ThreadEntryBody::getClean + ThreadEntry::create): text escaped,
 * balanced and empty-line-collapsed; HTML sanitised; emoji stripped; `-` for an empty body.
 */
export function cleanBody(
  body: string,
  format: BodyFormat,
  options: { editorSpacing?: boolean; policy?: HtmlPolicy } = {},
): string {
  return storedBody(cleanBodyContent(body, format, options));
}

/** The cleaned body without the empty-body marker ('' when nothing is left). */
export function cleanBodyContent(
  body: string,
  format: BodyFormat,
  options: { editorSpacing?: boolean; policy?: HtmlPolicy } = {},
): string {
  let clean: string;
  if (format === "html") {
    let html = phpTruthyString(phpTrim(body, " <>br/\t\n\r")) ? body : "";
    if (options.editorSpacing) html = html.replaceAll("<p></p>", "<p><br></p>");
    clean = sanitizeRichText(localizeInlineImages(html), options.policy);
  } else {
    const text = phpTrim(body) ? body : "";
    clean = htmlChars(balanceHtml(stripEmptyLines(text)));
  }
  return stripEmoticons(clean);
}

/**
 * `-` marks an empty body, and PHP's falsy "0" counts as empty (`if (!($body = ...getClean()))`); external
 * images are dropped last (ThreadEntry::create).
 */
export function storedBody(content: string): string {
  return stripExternalImages(phpTruthyString(content) ? content : "-");
}

/** Searchable text of a stored body (ost__search `H` content). */
export function bodySearchable(storedBody: string, format: BodyFormat): string {
  return format === "html" ? htmlSearchable(storedBody) : searchable(storedBody);
}

/** A thread entry title as stored: sanitised, tags stripped (entities kept), emoji removed, 255 chars. */
export function cleanTitle(title: string, policy: HtmlPolicy = {}): string {
  return truncate(stripEmoticons(sanitizeToText(title, policy)), 255);
}

/** Cuts to `length` characters, as MySQL does with a too-long value under sql_mode ''. */
export function truncate(text: string, length: number): string {
  const chars = Array.from(text);
  return chars.length > length ? chars.slice(0, length).join("") : text;
}

/** TextboxField::parse: entities &amp; &lt; &gt; &quot; decoded, tags stripped, emoji removed. */
export function cleanTextAnswer(text: string): string {
  return stripEmoticons(stripTags(decodeSpecialChars(text)));
}
