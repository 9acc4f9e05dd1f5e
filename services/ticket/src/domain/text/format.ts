import { decodeHTML } from "entities";
import sanitizeHtml from "sanitize-html";
import { HTML4_ENTITIES } from "./html4-entities.ts";
import { libxmlBalance } from "./libxml-balance.ts";

/**
 * Text and HTML cleaning with osTicket's observable results (FACTS §0, §2.2, §6.1). osTicket's own code is
 * not reused: HTML goes through sanitize-html configured to the element/attribute/scheme policy osTicket's
 * htmLawed setup enforces (`Format::safe_html`), and the plain-text rules are written here.
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

/** `htmlspecialchars_decode` with ENT_COMPAT: only &amp; &quot; &lt; &gt; (single pass). */
export function decodeSpecialChars(text: string): string {
  return text.replace(/&(amp|quot|lt|gt);/g, (_, name: string) =>
    name === "amp" ? "&" : name === "quot" ? '"' : name === "lt" ? "<" : ">",
  );
}

/**
 * `htmlspecialchars` with ENT_COMPAT | ENT_HTML401 and no double encoding (Format::htmlchars): an `&` that
 * starts an HTML 4.01 entity (no `&apos;`) or a numeric reference up to U+10FFFF is left alone.
 */
export function htmlChars(text: string): string {
  return text.replace(/&(#[0-9]+;|#[xX][0-9a-fA-F]+;|[a-zA-Z0-9]+;)?|["<>]/g, (match, entity?: string) => {
    if (match === '"') return "&quot;";
    if (match === "<") return "&lt;";
    if (match === ">") return "&gt;";
    if (entity && isKeptReference(entity.slice(0, -1))) return match;
    return `&amp;${entity ?? ""}`;
  });
}

function isKeptReference(reference: string): boolean {
  if (!reference.startsWith("#")) return reference !== "apos" && HTML4_ENTITIES.has(reference);
  const hex = reference.charAt(1) === "x" || reference.charAt(1) === "X";
  const digits = reference.slice(hex ? 2 : 1).replace(/^0+/, "");
  return digits.length <= 8 && Number.parseInt(digits || "0", hex ? 16 : 10) <= 0x10ffff;
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

const EMPTY_KEEP = new Set([
  "area",
  "br",
  "col",
  "embed",
  "iframe",
  "hr",
  "img",
  "input",
  "isindex",
  "param",
  "div",
]);
/** Removes elements with no content at all, repeatedly (Format::html_balance's empty-node pass). */
function removeEmptyElements(html: string): string {
  // libxml drops blank text (ASCII whitespace): an element holding a no-break space is not empty.
  const empty = /<([a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*)?>[ \t\n\r]*<\/\1\s*>/g;
  let current = html;
  for (;;) {
    const next = current.replace(empty, (match, tag: string) =>
      EMPTY_KEEP.has(tag.toLowerCase()) ? match : "",
    );
    if (next === current) return current;
    current = next;
  }
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

const HREF_SCHEMES = new Set([
  "aim",
  "feed",
  "file",
  "ftp",
  "gopher",
  "http",
  "https",
  "irc",
  "mailto",
  "news",
  "nntp",
  "sftp",
  "ssh",
  "telnet",
]);
const SRC_SCHEMES = new Set(["cid", "http", "https", "data"]);
const OTHER_URL_SCHEMES = new Set(["file", "http", "https"]);
const URL_ATTRIBUTES = new Set([
  "href",
  "src",
  "action",
  "background",
  "cite",
  "classid",
  "codebase",
  "data",
  "longdesc",
  "profile",
  "usemap",
]);
/**
 * Elements kept (htmLawed's element set minus its `safe` exclusions — applet, audio, canvas, embed, iframe,
 * object, script, video — and osTicket's `*-form-input-button`); other tags are dropped, their text kept.
 */
const ALLOWED_ELEMENTS = [
  "a",
  "abbr",
  "acronym",
  "address",
  "area",
  "article",
  "aside",
  "b",
  "bdi",
  "bdo",
  "big",
  "blockquote",
  "br",
  "caption",
  "center",
  "cite",
  "code",
  "col",
  "colgroup",
  "data",
  "datalist",
  "dd",
  "del",
  "details",
  "dfn",
  "dir",
  "div",
  "dl",
  "dt",
  "em",
  "fieldset",
  "figcaption",
  "figure",
  "font",
  "footer",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "header",
  "hgroup",
  "hr",
  "i",
  "img",
  "ins",
  "isindex",
  "kbd",
  "label",
  "legend",
  "li",
  "main",
  "map",
  "mark",
  "menu",
  "meter",
  "nav",
  "noscript",
  "ol",
  "optgroup",
  "option",
  "output",
  "p",
  "pre",
  "progress",
  "q",
  "rb",
  "rbc",
  "rp",
  "rt",
  "rtc",
  "ruby",
  "s",
  "samp",
  "section",
  "select",
  "small",
  "span",
  "strike",
  "strong",
  "sub",
  "summary",
  "sup",
  "table",
  "tbody",
  "td",
  "textarea",
  "tfoot",
  "th",
  "thead",
  "time",
  "tr",
  "tt",
  "u",
  "ul",
  "var",
  "wbr",
];

const IFRAME_ATTRIBUTES = new Set([
  "height",
  "width",
  "type",
  "style",
  "src",
  "frameborder",
  "allowfullscreen",
]);

function schemeAllowed(attribute: string, url: string): boolean {
  const match = /^\s*([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (!match?.[1]) return true;
  const scheme = match[1].toLowerCase();
  if (attribute === "href") return HREF_SCHEMES.has(scheme);
  if (attribute === "src") return SRC_SCHEMES.has(scheme);
  return OTHER_URL_SCHEMES.has(scheme);
}

/** Format::__html_cleanup for `style`: vendor and mso- rules and repeated properties dropped. */
function cleanStyle(style: string): string | null {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const rule of decodeHTML(style).split(/;\s*/)) {
    const colon = rule.indexOf(":");
    const prop = colon === -1 ? rule : rule.slice(0, colon);
    let val = colon === -1 ? "" : rule.slice(colon + 1);
    if (seen.has(prop)) continue;
    seen.add(prop);
    if (!val || !prop || prop.startsWith("-") || prop.startsWith("mso-")) continue;
    val = val.includes(" ") ? val.replaceAll('"', "'") : val.replaceAll('"', "");
    kept.push(`${prop}:${phpTrim(val)}`);
  }
  return kept.length ? htmlChars(kept.join(";")) : null;
}

function iframeAllowed(src: string, domains: readonly string[]): boolean {
  if (!domains.length) return false;
  const escaped = domains.map((d) => d.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
  return new RegExp(`^(https?:)?//(www\\.)?(${escaped})(\\?|/|#)([^@]*)$`, "i").test(src);
}

/** The whitespace htmLawed compacts: ASCII only, so a no-break space (U+00A0) stays one. */
const ASCII_SPACES = /[ \t\n\v\f\r]+/g;

/**
 * Format::safe_html: entity-encoded markup decoded first (so it cannot slip through), head/style/script
 * blocks and comments removed, forms/inputs/buttons and plugin elements dropped, `id`, `on*`, `action`,
 * `formaction` attributes removed, URL schemes whitelisted per attribute (others become `denied:...` as
 * htmLawed writes them), whitespace compacted, empty elements dropped.
 */
export function sanitizeRichText(input: string, policy: HtmlPolicy = {}): string {
  // Text without markup or entities only has its whitespace compacted.
  if (!/[<>&]/.test(input)) return input.replace(ASCII_SPACES, " ");
  const iframeDomains = policy.iframeDomains ?? [];
  const prepared = decodeSpecialChars(input)
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
  const cleaned = sanitizeHtml(prepared, {
    allowedTags: iframeDomains.length ? [...ALLOWED_ELEMENTS, "iframe"] : ALLOWED_ELEMENTS,
    allowedAttributes: false,
    allowVulnerableTags: true,
    allowedSchemesAppliedToAttributes: [],
    disallowedTagsMode: "discard",
    nonTextTags: ["script", "style", "title", "head", "object", "applet"],
    exclusiveFilter: (frame) =>
      frame.tag === "iframe" && !iframeAllowed(frame.attribs.src ?? "", iframeDomains),
    transformTags: {
      "*": (tagName, attribs) => {
        const kept: Record<string, string> = {};
        for (const [name, value] of Object.entries(attribs)) {
          const lower = name.toLowerCase();
          if (lower === "id" || lower === "action" || lower === "formaction" || lower.startsWith("on"))
            continue;
          if (tagName === "iframe" && !IFRAME_ATTRIBUTES.has(lower)) continue;
          if (lower === "class") {
            const classes = value.split(" ").filter((c) => c.startsWith("Mso"));
            if (classes.length) kept[name] = classes.join(" ");
            continue;
          }
          if (lower === "style") {
            const style = cleanStyle(value);
            if (style) kept[name] = style;
            continue;
          }
          kept[name] = URL_ATTRIBUTES.has(lower) && !schemeAllowed(lower, value) ? `denied:${value}` : value;
        }
        return { tagName, attribs: kept };
      },
    },
  });
  // htmLawed's tidy=-1 compacts whitespace outside preformatted blocks.
  const compact = cleaned
    .split(/(<pre[\s\S]*?<\/pre>|<textarea[\s\S]*?<\/textarea>)/i)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(ASCII_SPACES, " ")))
    .join("");
  return removeEmptyElements(compact);
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
  return stripTags(sanitizeRichText(text, policy));
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
    let html = phpTrim(body, " <>br/\t\n\r") ? body : "";
    if (options.editorSpacing) html = html.replaceAll("<p></p>", "<p><br></p>");
    clean = sanitizeRichText(html, options.policy);
  } else {
    const text = phpTrim(body) ? body : "";
    clean = htmlChars(balanceHtml(stripEmptyLines(text)));
  }
  return stripEmoticons(clean);
}

/** `-` marks an empty body; external images are dropped last (ThreadEntry::create). */
export function storedBody(content: string): string {
  return stripExternalImages(content || "-");
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
