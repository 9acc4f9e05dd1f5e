/**
 * The htmLawed 1.2.4.1 pass of Format::safe_html, with osTicket's configuration only: `safe` 1, `comment` 1,
 * `balance` 0 (libxml has balanced the markup already), `tidy` -1, elements `*-form-input-button` (plus
 * `iframe` when domains are whitelisted), `deny_attribute` `id, formaction, action, on*`, osTicket's scheme
 * lists, and Format::__html_cleanup as the tag hook. The rules are applied to the markup as text, as htmLawed
 * does, so malformed input comes out the same way.
 */

import { htmlChars } from "./html-chars.ts";
import { HTML4_ENTITIES } from "./html4-entities.ts";

// PCRE's `\s` (no UTF mode) is ASCII whitespace only, written out below: a no-break space is not one.

function trimChars(text: string, chars: string, left = true, right = true): string {
  let start = 0;
  let end = text.length;
  if (left) while (start < end && chars.includes(text.charAt(start))) start++;
  if (right) while (end > start && chars.includes(text.charAt(end - 1))) end--;
  return text.slice(start, end);
}
const PHP_TRIM = " \t\n\r\0\x0B";
const phpTrim = (text: string): string => trimChars(text, PHP_TRIM);
const phpLtrim = (text: string, chars = PHP_TRIM): string => trimChars(text, chars, true, false);
const words = (list: string): Set<string> => new Set(list.split(" "));
/** `{ attribute: "element element" }` as a lookup. */
const byAttribute = (table: Record<string, string>): Map<string, Set<string>> =>
  new Map(Object.entries(table).map(([name, elements]) => [name, words(elements)]));

/** htmLawed's 118 elements less the `safe` ones (applet audio canvas embed iframe object script video). */
const ELEMENTS = words(
  "a abbr acronym address area article aside b bdi bdo big blockquote br caption center cite code col " +
    "colgroup command data datalist dd del details dfn dir div dl dt em fieldset figcaption figure font footer " +
    "h1 h2 h3 h4 h5 h6 header hgroup hr i img ins isindex kbd keygen label legend li link main map mark menu " +
    "meta meter nav noscript ol optgroup option output p param pre progress q rb rbc rp rt rtc ruby s samp " +
    "section select small source span strike strong style sub summary sup table tbody td textarea tfoot th " +
    "thead time tr track tt u ul var wbr",
);
/** Elements written without an end tag; their end tags are dropped. */
const VOID = words("area br col command embed hr img input isindex keygen link meta param source track wbr");
/** Format::__html_cleanup's own list of elements written `<x />`. */
const HOOK_VOID = words("area br col embed hr img input isindex param");
const DEPRECATED_ELEMENTS = words("acronym applet big center dir font isindex s strike tt");

/** Attributes allowed on some elements only. */
const ELEMENT_ATTRIBUTES = byAttribute({
  abbr: "td th",
  accept: "form input",
  "accept-charset": "form",
  action: "form",
  align:
    "applet caption col colgroup div embed h1 h2 h3 h4 h5 h6 hr iframe img input legend object p table tbody td tfoot th thead tr",
  allowfullscreen: "iframe",
  alt: "applet area img input",
  archive: "applet object",
  async: "script",
  autocomplete: "form input",
  autofocus: "button input keygen select textarea",
  autoplay: "audio video",
  axis: "td th",
  bgcolor: "embed table td th tr",
  border: "img object table",
  bordercolor: "table td tr",
  cellpadding: "table",
  cellspacing: "table",
  challenge: "keygen",
  char: "col colgroup tbody td tfoot th thead tr",
  charoff: "col colgroup tbody td tfoot th thead tr",
  charset: "a script",
  checked: "command input",
  cite: "blockquote del ins q",
  classid: "object",
  clear: "br",
  code: "applet",
  codebase: "applet object",
  codetype: "object",
  color: "font",
  cols: "textarea",
  colspan: "td th",
  compact: "dir dl menu ol ul",
  content: "meta",
  controls: "audio video",
  coords: "a area",
  crossorigin: "img",
  data: "object",
  datetime: "del ins time",
  declare: "object",
  default: "track",
  defer: "script",
  dirname: "input textarea",
  disabled: "button command fieldset input keygen optgroup option select textarea",
  download: "a",
  enctype: "form",
  face: "font",
  flashvars: "embed",
  for: "label output",
  form: "button fieldset input keygen label object output select textarea",
  formaction: "button input",
  formenctype: "button input",
  formmethod: "button input",
  formnovalidate: "button input",
  formtarget: "button input",
  frame: "table",
  frameborder: "iframe",
  headers: "td th",
  height: "applet canvas embed iframe img input object td th video",
  high: "meter",
  href: "a area link",
  hreflang: "a area link",
  hspace: "applet embed img object",
  icon: "command",
  ismap: "img input",
  keyparams: "keygen",
  keytype: "keygen",
  kind: "track",
  label: "command menu option optgroup track",
  language: "script",
  list: "input",
  longdesc: "img iframe",
  loop: "audio video",
  low: "meter",
  marginheight: "iframe",
  marginwidth: "iframe",
  max: "input meter progress",
  maxlength: "input textarea",
  media: "a area link source style",
  mediagroup: "audio video",
  method: "form",
  min: "input meter",
  model: "embed",
  multiple: "input select",
  muted: "audio video",
  name: "a applet button embed fieldset form iframe img input keygen map object output param select textarea",
  nohref: "area",
  noshade: "hr",
  novalidate: "form",
  nowrap: "td th",
  object: "applet",
  open: "details",
  optimum: "meter",
  pattern: "input",
  ping: "a area",
  placeholder: "input textarea",
  pluginspage: "embed",
  pluginurl: "embed",
  poster: "video",
  pqg: "keygen",
  preload: "audio video",
  prompt: "isindex",
  pubdate: "time",
  radiogroup: "command",
  readonly: "input textarea",
  rel: "a area link",
  required: "input select textarea",
  rev: "a",
  reversed: "ol",
  rows: "textarea",
  rowspan: "td th",
  rules: "table",
  sandbox: "iframe",
  scope: "td th",
  scoped: "style",
  scrolling: "iframe",
  seamless: "iframe",
  selected: "option",
  shape: "a area",
  size: "font hr input select",
  sizes: "link",
  span: "col colgroup",
  src: "audio embed iframe img input script source track video",
  srcdoc: "iframe",
  srclang: "track",
  srcset: "img",
  standby: "object",
  start: "ol",
  step: "input",
  summary: "table",
  target: "a area form",
  type: "a area button command embed input li link menu object ol param script source style ul",
  typemustmatch: "object",
  usemap: "img input object",
  valign: "col colgroup tbody td tfoot th thead tr",
  value: "button data input li meter option param progress",
  valuetype: "param",
  vspace: "applet embed img object",
  width: "applet canvas col colgroup embed hr iframe img input object pre table td th video",
  wmode: "embed",
  wrap: "textarea",
});
const ARIA_ATTRIBUTES = new Set(
  (
    "activedescendant atomic autocomplete busy checked controls describedby disabled dropeffect expanded " +
    "flowto grabbed haspopup hidden invalid label labelledby level live multiline multiselectable orientation " +
    "owns posinset pressed readonly relevant required selected setsize sort valuemax valuemin valuenow valuetext"
  )
    .split(" ")
    .map((name) => `aria-${name}`),
);
/** Attributes written with their own name as value. */
const EMPTY_ATTRIBUTES = words(
  "allowfullscreen checkbox checked command compact declare defer default disabled hidden inert ismap " +
    "itemscope multiple nohref noresize noshade nowrap open radio readonly required reversed selected",
);
const EVENT_ATTRIBUTES = new Set(
  (
    "abort blur canplay canplaythrough change click contextmenu copy cuechange cut dblclick drag dragend " +
    "dragenter dragleave dragover dragstart drop durationchange emptied ended error focus formchange forminput " +
    "input invalid keydown keypress keyup load loadeddata loadedmetadata loadstart lostpointercapture mousedown " +
    "mousemove mouseout mouseover mouseup mousewheel paste pause play playing pointercancel gotpointercapture " +
    "pointerdown pointerenter pointerleave pointermove pointerout pointerover pointerup progress ratechange " +
    "readystatechange reset search scroll seeked seeking select show stalled submit suspend timeupdate toggle " +
    "touchcancel touchend touchmove touchstart volumechange waiting wheel"
  )
    .split(" ")
    .map((name) => `on${name}`),
);
/** Attributes holding a URL, checked against the scheme lists. */
const URL_ATTRIBUTES = words(
  "action cite classid codebase data href itemtype longdesc model pluginspage pluginurl src srcset usemap",
);
const UNIVERSAL_ATTRIBUTES = words(
  "accesskey class contenteditable contextmenu dir draggable dropzone hidden id inert itemid itemprop itemref " +
    "itemscope itemtype lang role spellcheck style tabindex title translate xmlns xml:base xml:lang xml:space",
);
/** Standard values lower-cased on these elements. */
const STANDARD_VALUES = words(
  "all auto baseline bottom button captions center chapters char checkbox circle col colgroup color cols data " +
    "date datetime datetime-local default descriptions email file get groups hidden image justify left ltr " +
    "metadata middle month none number object password poly post preserve radio range rect ref reset right row " +
    "rowgroup rows rtl search submit subtitles tel text time top url week",
);
const LOWER_CASE_ELEMENTS = words(
  "a area bdo button col fieldset form img input object ol optgroup option param script select table td " +
    "textarea tfoot th thead tr track xml:space",
);
/** Deprecated presentational attributes turned into style rules, and where. */
const DEPRECATED_ATTRIBUTES = byAttribute({
  align: "caption div h1 h2 h3 h4 h5 h6 hr img input legend object p table",
  bgcolor: "table td th tr",
  border: "object",
  bordercolor: "table td tr",
  cellspacing: "table",
  clear: "br",
  compact: "dl ol ul",
  height: "td th",
  hspace: "img object",
  language: "script",
  name: "a form iframe img map",
  noshade: "hr",
  nowrap: "td th",
  size: "hr",
  vspace: "img object",
  width: "hr pre table td th",
});
const DEPRECATED_ATTRIBUTE_ELEMENTS = words(
  "a br caption div dl form h1 h2 h3 h4 h5 h6 hr iframe img input legend map object ol p pre script table td " +
    "th tr ul",
);
/** Attributes an element always gets (a value equal to '' means the attribute's own name). */
const REQUIRED_ATTRIBUTES: Record<string, readonly (readonly [string, string])[]> = {
  area: [["alt", "area"]],
  bdo: [["dir", "ltr"]],
  command: [["label", ""]],
  form: [["action", ""]],
  img: [
    ["src", ""],
    ["alt", "image"],
  ],
  map: [["name", ""]],
  optgroup: [["label", ""]],
  param: [["name", ""]],
  style: [["scoped", ""]],
  textarea: [
    ["rows", "10"],
    ["cols", "50"],
  ],
};
const DENIED_ATTRIBUTES = new Set(["id", "formaction", "action", "on*"]);
const SCHEMES: Record<string, Set<string>> = {
  href: words("aim feed file ftp gopher http https irc mailto news nntp sftp ssh telnet"),
  "*": words("file http https"),
  src: words("cid http https data"),
};
const FONT_SIZES: Record<string, string> = {
  "0": "xx-small",
  "1": "xx-small",
  "2": "small",
  "3": "medium",
  "4": "large",
  "5": "x-large",
  "6": "xx-large",
  "7": "300%",
  "-1": "smaller",
  "-2": "60%",
  "+1": "larger",
  "+2": "150%",
  "+3": "200%",
  "+4": "300%",
};
/** Character references htmLawed resolves inside a style value before checking it. */
const STYLE_REFERENCES = new Map<string, string>();
for (const [chars, codes] of [
  [":", "20 32"],
  ["e", "45 69 65 101"],
  ["x", "58 88 78 120"],
  ["p", "50 80 70 112"],
  ["s", "53 83 73 115"],
  ["i", "49 73 69 105"],
  ["o", "4f 79 6f 111"],
  ["n", "4e 78 6e 110"],
  ["u", "55 85 75 117"],
  ["r", "52 82 72 114"],
  ["l", "4c 76 6c 108"],
  ["(", "28 40"],
  [")", "29 41"],
  ['"', "22 34"],
  ["'", "27 39"],
  ["/", "2f 47"],
  ["*", "2a 42"],
  ["\\", "5c 92"],
] as const) {
  const [hex, dec, hex2, dec2] = codes.split(" ");
  STYLE_REFERENCES.set(`&#x${hex};`, chars).set(`&#${dec};`, chars);
  if (hex2 && dec2) STYLE_REFERENCES.set(`&#x${hex2};`, chars).set(`&#${dec2};`, chars);
}

const DENIED = "denied:";

/** hl_prot: a URL whose scheme is not listed for the attribute gets `denied:` in front. */
function checkScheme(url: string, attribute: string): string {
  const allowed = SCHEMES[attribute] ?? SCHEMES["*"] ?? new Set<string>();
  if (url === "" || "#?;".includes(url.charAt(0)) || url.startsWith(DENIED)) return url;
  const match = /^([^:?[@!$()*,=/'\]]+?)(:|&#(58|x3a);|%3a|\\0{0,4}3a)./i.exec(url);
  if (match?.[1] && !allowed.has(match[1].toLowerCase())) return `${DENIED}${url}`;
  return url;
}

/** The iframe whitelist spec: `src` must match, other attributes but a few are dropped. */
export interface IframeSpec {
  readonly src: RegExp | null;
}
const IFRAME_SPEC_ATTRIBUTES = words("height width type style src frameborder allowfullscreen");

/** hl_tag2: deprecated elements renamed, with the style rule they stand for. */
function transformElement(
  name: string,
  attributes: string,
): { name: string; attributes: string; style: string } {
  if (name === "big") return { name: "span", attributes, style: "font-size: larger;" };
  if (name === "s" || name === "strike")
    return { name: "span", attributes, style: "text-decoration: line-through;" };
  if (name === "tt") return { name: "code", attributes, style: "" };
  if (name === "center") return { name: "div", attributes, style: "text-align: center;" };
  if (name === "acronym") return { name: "abbr", attributes, style: "" };
  if (name === "dir") return { name: "ul", attributes, style: "" };
  if (name !== "font") return { name, attributes, style: "" };
  let rest = attributes;
  let style = "";
  const sizeOrColor =
    /(^|[ \t\n\v\f\r])(color|size)[ \t\n\v\f\r]*=[ \t\n\v\f\r]*(?:(['"])(.+?)(?:\3|[ \t\n\v\f\r]|$)|(.+?)(?:[ \t\n\v\f\r]|$))/i;
  for (let m = sizeOrColor.exec(rest); m; m = sizeOrColor.exec(rest)) {
    rest = rest.replaceAll(m[0], " ");
    const value = phpTrim(m[4] ?? m[5] ?? "");
    if ((m[2] ?? "").toLowerCase() === "color") style += ` color: ${value.replaceAll('"', "'")};`;
    else {
      const size = FONT_SIZES[value];
      // htmLawed appends the size rule to everything before it twice.
      if (size !== undefined) {
        style += ` font-size: ${size.replaceAll('"', "'")};`;
        style += style;
      }
    }
  }
  const quotedFace = /(^|[ \t\n\v\f\r])face[ \t\n\v\f\r]*=[ \t\n\v\f\r]*(['"])([^=]+?)\2/i;
  const bareFace = /(^|[ \t\n\v\f\r])face[ \t\n\v\f\r]*=([ \t\n\v\f\r]*)([^ \t\n\v\f\r]+)/i;
  for (
    let m = quotedFace.exec(rest) ?? bareFace.exec(rest);
    m;
    m = quotedFace.exec(rest) ?? bareFace.exec(rest)
  ) {
    rest = rest.replaceAll(m[0], " ");
    style += ` font-family: ${phpTrim(m[3] ?? "").replaceAll('"', "'")};`;
  }
  return { name: "span", attributes: rest, style: phpLtrim(style.replaceAll("<", "")) };
}

/** Splits htmLawed's attribute string into names and values (first position, last value wins). */
function parseAttributes(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  let rest = trimChars(source, " /");
  let mode = 0;
  let name = "";
  while (rest.length) {
    let progressed = false;
    if (mode === 0) {
      const m = /^[a-zA-Z][^ \t\n\v\f\r=/]+/.exec(rest);
      if (m) {
        name = m[0].toLowerCase();
        progressed = true;
        mode = 1;
        rest = phpLtrim(rest.slice(m[0].length));
      }
    } else if (mode === 1) {
      progressed = true;
      if (rest.charAt(0) === "=") {
        mode = 2;
        rest = phpLtrim(rest, "= ");
      } else {
        mode = 0;
        rest = phpLtrim(rest);
        attributes.set(name, "");
      }
    } else {
      const m = /^("[^"]*"|'[^']*'|[ \t\n\v\f\r]*[^ \t\n\v\f\r"']+)([^\n]*)/.exec(rest);
      if (m) {
        const raw = m[1] ?? "";
        rest = phpLtrim(m[2] ?? "");
        progressed = true;
        mode = 0;
        const quoted = raw.charAt(0) === '"' || raw.charAt(0) === "'";
        attributes.set(name, phpTrim((quoted ? raw.slice(1, -1) : raw).replaceAll("<", "&lt;")));
      }
    }
    if (!progressed) {
      rest = rest.replace(/^(?:"[^"]*("|$)|'[^']*('|$)|[^ \t\n\v\f\r])*[ \t\n\v\f\r]*/, "");
      mode = 0;
    }
  }
  if (mode === 1) attributes.set(name, "");
  return attributes;
}

function isAllowedAttribute(name: string, element: string, spec: IframeSpec | null): boolean {
  if (spec) return IFRAME_SPEC_ATTRIBUTES.has(name);
  if (DENIED_ATTRIBUTES.has(name)) return false;
  return (
    !!ELEMENT_ATTRIBUTES.get(name)?.has(element) ||
    UNIVERSAL_ATTRIBUTES.has(name) ||
    ARIA_ATTRIBUTES.has(name) ||
    /data-((?!xml)[^:]+$)/.test(name)
  );
}

/** The style value checks: some references resolved, `url(…)` denied, comments, escapes and expression() cut. */
function checkStyle(value: string): string {
  let v = value;
  if (v.includes("&#")) v = v.replace(/&#[xX]?[0-9a-fA-F]+;/g, (ref) => STYLE_REFERENCES.get(ref) ?? ref);
  v = v.replace(
    /(url(?:\()(?: )*(?:'|"|&(?:quot|apos);)?)([^\n]+?)((?:'|"|&(?:quot|apos);)?(?: )*(?:\)))/gi,
    (_, before: string, url: string, after: string) => {
      const trimmed = phpTrim(url);
      return `${before}${trimmed.startsWith(DENIED) ? trimmed : `${DENIED}${trimmed}`}${after}`;
    },
  );
  return v.replace(/\\[^ \t\n\v\f\r]|(\/|(%2f))(\*|(%2a))/gi, " ").replace(/expression/gi, " ");
}

function checkUrlAttribute(name: string, value: string): string {
  let v = value.includes("&") ? value.replace(/&#xad;|&#173;|&shy;/g, " ") : value;
  v = v.replaceAll("\u00ad", " ");
  if (name === "srcset") {
    let out = "";
    for (const candidate of v.split(",")) {
      const [url = "", descriptor] = phpLtrim(candidate).split(/ (.*)/s);
      const width = descriptor === undefined ? "" : phpTrim(descriptor);
      const trimmed = phpTrim(url);
      if (trimmed) out += `${checkScheme(trimmed, name)}${width ? ` ${width}` : ""}, `;
    }
    return trimChars(out, ", ");
  }
  if (name === "itemtype") {
    let out = "";
    for (const part of v.split(" ")) if (part) out += `${checkScheme(part, name)} `;
    return trimChars(out, " ");
  }
  return checkScheme(v, name);
}

/** html_entity_decode with PHP 8's defaults (ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML401), one pass. */
function decodeEntities(text: string): string {
  return text.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);/g, (match, ref: string) => {
    if (ref.charAt(0) !== "#") {
      const code = ref === "apos" ? undefined : HTML4_ENTITIES.get(ref);
      return code === undefined ? match : String.fromCodePoint(code);
    }
    const hex = ref.charAt(1) === "x" || ref.charAt(1) === "X";
    const digits = ref.slice(hex ? 2 : 1);
    const code = Number.parseInt(digits, hex ? 16 : 10);
    const allowed =
      (code >= 0x20 && code <= 0x7e) ||
      code === 0x0a ||
      code === 0x09 ||
      code === 0x0d ||
      (code >= 0xa0 && code <= 0xd7ff) ||
      (code >= 0xe000 && code <= 0x10ffff && (code & 0xffff) < 0xfffe && (code < 0xfdd0 || code > 0xfdef));
    return allowed ? String.fromCodePoint(code) : match;
  });
}

const isPhpFalsy = (s: string | undefined): boolean => !s || s === "0";

/** Format::__html_cleanup's style pass: vendor and mso- rules, repeated and empty properties dropped. */
function cleanStyleRules(style: string): string | null {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const rule of decodeEntities(style).split(/;[ \t\n\v\f\r]*/)) {
    // Only what lies between the first and the second colon is the value (a URL's own colon cuts it).
    const [prop = "", val] = rule.split(":");
    if (seen.has(prop)) continue;
    seen.add(prop);
    if (isPhpFalsy(val) || isPhpFalsy(prop) || prop.charAt(0) === "-" || prop.startsWith("mso-")) continue;
    const value = val ?? "";
    const space = value.indexOf(" ");
    const unquoted = space <= 0 ? value.replaceAll('"', "") : value.replaceAll('"', "'");
    kept.push(`${prop}:${phpTrim(unquoted)}`);
  }
  return kept.length ? htmlChars(kept.join(";")) : null;
}

/** Format::__html_cleanup for a start tag: the tag as written, or '' for an iframe without `src`. */
function writeStartTag(element: string, attributes: Map<string, string>): string {
  if ((element === "iframe" || element === "embed") && isPhpFalsy(attributes.get("src"))) return "";
  const classes = attributes.get("class");
  if (classes !== undefined) {
    const kept = classes.split(" ").filter((name) => name.startsWith("Mso"));
    if (kept.length) attributes.set("class", kept.join(" "));
    else attributes.delete("class");
  }
  const style = attributes.get("style");
  if (style !== undefined) {
    const cleaned = cleanStyleRules(style);
    if (cleaned === null) attributes.delete("style");
    else attributes.set("style", cleaned);
  }
  let out = `<${element}`;
  for (const [name, value] of attributes) out += ` ${name}="${value}"`;
  return `${out}${HOOK_VOID.has(element) ? " /" : ""}>`;
}

/** Per-call htmLawed state. */
interface Run {
  readonly iframe: IframeSpec | null;
  /** Ids given out so far (htmLawed's `unique_ids`: a repeated one is dropped). */
  readonly ids: Set<string>;
}

const escapeAngles = (tag: string): string => tag.replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** hl_tag: one tag, or a stray `<` / `>`, as htmLawed rewrites it. */
function cleanTag(tag: string, run: Run): string {
  if (tag === "< ") return "&lt; ";
  if (tag === ">") return "&gt;";
  const m = /^<(\/?)([a-zA-Z][a-zA-Z1-6]*)([^>]*?)[ \t\n\v\f\r]?>$/m.exec(tag);
  if (!m) return escapeAngles(tag);
  let element = (m[2] ?? "").toLowerCase();
  if (!ELEMENTS.has(element) && !(run.iframe && element === "iframe")) return "";
  let source = phpTrim(m[3] ?? "").replace(/[\n\r\t]/g, " ");
  let transformStyle = "";
  if (DEPRECATED_ELEMENTS.has(element)) {
    const transformed = transformElement(element, source);
    element = transformed.name;
    source = transformed.attributes;
    transformStyle = transformed.style;
  }
  if (m[1]) return VOID.has(element) ? "" : `</${element}>`;

  const spec = element === "iframe" ? run.iframe : null;
  const lowerCase = LOWER_CASE_ELEMENTS.has(element);
  const attributes = new Map<string, string>();
  for (const [name, raw] of parseAttributes(source)) {
    if (!isAllowedAttribute(name, element, spec)) continue;
    let value = raw;
    if (EMPTY_ATTRIBUTES.has(name)) value = name;
    else if (lowerCase) {
      const lower = value.replace(/[A-Z]/g, (c) => c.toLowerCase());
      if (STANDARD_VALUES.has(lower)) value = lower;
    }
    if (name === "style") value = checkStyle(value);
    else if (URL_ATTRIBUTES.has(name) || EVENT_ATTRIBUTES.has(name)) value = checkUrlAttribute(name, value);
    if (spec && name === "src") {
      const trimmed = phpTrim(value);
      if (!trimmed || (spec.src && !spec.src.test(trimmed))) continue;
      value = trimmed;
    }
    attributes.set(name, value.replaceAll('"', "&quot;"));
  }
  for (const [name, value] of REQUIRED_ATTRIBUTES[element] ?? [])
    if (!attributes.has(name)) attributes.set(name, value || name);

  if (DEPRECATED_ATTRIBUTE_ELEMENTS.has(element)) convertDeprecatedAttributes(element, attributes);
  const id = attributes.get("id");
  if (id !== undefined) {
    if (/[ \t\n\v\f\r]/.test(id) || run.ids.has(id)) attributes.delete("id");
    else run.ids.add(id);
  }
  if (transformStyle) {
    const style = attributes.get("style");
    attributes.set(
      "style",
      style === undefined ? transformStyle : `${trimChars(style, " ;", false)}; ${transformStyle}`,
    );
  }
  return writeStartTag(element, attributes);
}

function convertDeprecatedAttributes(element: string, attributes: Map<string, string>): void {
  const rules: string[] = [];
  for (const [name, raw] of [...attributes]) {
    if (name === "style" || !DEPRECATED_ATTRIBUTES.get(name)?.has(element)) continue;
    const v = raw.replace(/\\|:|;|&#/g, "");
    if (name === "name") {
      if (element !== "a" && element !== "map") attributes.delete("name");
      if (!attributes.has("id") && !/[^A-Za-z0-9_]/.test(v)) attributes.set("id", v);
      continue;
    }
    if (name === "language") {
      if (!attributes.has("type")) {
        attributes.delete("language");
        attributes.set("type", `text/${v.toLowerCase()}`);
      }
      continue;
    }
    attributes.delete(name);
    if (name === "align") {
      if (element === "img" && (v === "left" || v === "right")) rules.push(`float: ${v}`);
      else if ((element === "div" || element === "table") && v === "center") rules.push("margin: auto");
      else rules.push(`text-align: ${v}`);
    } else if (name === "bgcolor") rules.push(`background-color: ${v}`);
    else if (name === "border") rules.push(`border: ${v}px`);
    else if (name === "bordercolor") rules.push(`border-color: ${v}`);
    else if (name === "cellspacing") rules.push(`border-spacing: ${v}px`);
    else if (name === "clear") rules.push(`clear: ${v !== "all" ? v : "both"}`);
    else if (name === "compact") rules.push("font-size: 85%");
    else if (name === "height" || name === "width")
      rules.push(`${name}: ${v.charAt(0) !== "*" ? `${v}${/^[0-9]+$/.test(v) ? "px" : ""}` : "auto"}`);
    else if (name === "hspace") rules.push(`margin-left: ${v}px; margin-right: ${v}px`);
    else if (name === "noshade")
      rules.push("border-style: none; border: 0; background-color: gray; color: gray");
    else if (name === "nowrap") rules.push("white-space: nowrap");
    else if (name === "size") rules.push(`size: ${v}px`);
    else if (name === "vspace") rules.push(`margin-top: ${v}px; margin-bottom: ${v}px`);
  }
  if (!rules.length) return;
  const added = rules.join("; ");
  const style = attributes.get("style");
  attributes.set("style", style === undefined ? `${added};` : `${trimChars(style, " ;", false)}; ${added};`);
}

/** hl_ent: a reference htmLawed keeps, or its `&` escaped. */
function cleanReference(ref: string): string {
  if (ref.charAt(0) !== "#") return HTML4_ENTITIES.has(ref) ? `&${ref};` : `&amp;${ref};`;
  const digits = ref.slice(1);
  const decimal = /^[0-9]+$/.test(digits);
  const n = decimal ? Number.parseInt(digits, 10) : Number.parseInt(digits.slice(1), 16);
  const invalid =
    n < 9 ||
    (n > 13 && n < 32) ||
    n === 11 ||
    n === 12 ||
    (n > 126 && n < 160 && n !== 133) ||
    (n > 55295 && (n < 57344 || (n > 64975 && n < 64992) || n === 65534 || n === 65535 || n > 1114111));
  if (invalid) return `&amp;#${digits};`;
  return `&#${decimal ? n : `x${n.toString(16)}`};`;
}

const PROTECTED_CHARS: Record<string, string> = {
  "<": "\x01",
  ">": "\x02",
  "\n": "\x03",
  "\r": "\x04",
  "\t": "\x05",
  " ": "\x07",
};
const RESTORED_CHARS: Record<string, string> = Object.fromEntries(
  Object.entries(PROTECTED_CHARS).map(([c, p]) => [p, c]),
);

/** hl_tidy with -1: whitespace compacted outside comments, CDATA, pre, script and textarea. */
function compactWhitespace(html: string): string {
  const protect = (_: string, open: string, _name: string, body: string, close: string): string =>
    `${open}${body.replace(/[<>\n\r\t ]/g, (c) => PROTECTED_CHARS[c] ?? c)}${close}`;
  return (
    html
      .replace(/(<(!\[CDATA\[))([\s\S]+?)(\]\]>)/g, protect)
      .replace(/(<(!--))([\s\S]+?)(-->)/g, protect)
      .replace(/(<(pre|script|textarea)[^>]*?>)([\s\S]+?)(<\/\2>)/g, protect)
      .replace(/(<[A-Za-z0-9_][^>]*(?<!\/)>)[ \t\n\v\f\r]+/g, " $1")
      .replace(/[ \t\r\n\f]+/g, " ")
      .replace(/(<[A-Za-z0-9_][^>]*(?<!\/)>) /g, "$1")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: htmLawed's own placeholders, restored here.
      .replace(/[\x01-\x05\x07]/g, (c) => RESTORED_CHARS[c] ?? c)
  );
}

/** htmLawed($html, osTicket's config, spec) on markup libxml has balanced. */
export function htmLawed(input: string, iframe: IframeSpec | null): string {
  const run: Run = { iframe, ids: new Set() };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: htmLawed removes these control characters.
  let t = input.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, "");
  // Comments go; CDATA sections are left as they are (and shield what they hold).
  t = t.replace(/<!(?:(?:--[\s\S]*?--)|(?:\[CDATA\[[\s\S]*?\]\]))>/g, (m) => (m.charAt(3) === "-" ? "" : m));
  t = t
    .replaceAll("&", "&amp;")
    .replace(/&amp;([a-zA-Z][a-zA-Z0-9]{1,30}|#(?:[0-9]{1,8}|[Xx][0-9A-Fa-f]{1,7}));/g, (_, ref: string) =>
      cleanReference(ref),
    );
  t = t.replace(/<(?:[ \t\n\v\f\r]|[^>]*>?)|>/g, (tag) => cleanTag(tag, run));
  return compactWhitespace(t);
}

/** The iframe spec osTicket builds from `embedded_domain_whitelist` (null when nothing is whitelisted). */
export function iframeSpec(domains: readonly string[]): IframeSpec | null {
  const list = domains.map((d) => d.replaceAll(" ", "")).filter((d) => d && d !== "0");
  if (!list.length) return null;
  try {
    return { src: new RegExp(`^(https?:)?//(www\\.)?(${list.join("|")})(\\?|/|#)([^@]*)$`, "i") };
  } catch {
    // htmLawed drops a pattern it cannot compile and then checks nothing.
    return { src: null };
  }
}
