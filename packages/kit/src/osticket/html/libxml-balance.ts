/**
 * Format::html_balance as osTicket runs it on a plain-text body: the text is wrapped in a `<div>`, parsed by
 * libxml2 2.9.14's HTML parser (PHP's DOMDocument::loadHTML, recovery off), every element left without any
 * child node is removed (but the void ones and div/iframe/embed), and the div's content is written back as
 * saveHTML writes it. This module reproduces those rules on a small tree of its own.
 *
 * One deliberate difference: an end tag (or a self-closed `<html/>`, `<head/>`, `<body/>`) that would close
 * the wrapping div early is ignored. libxml closes it and osTicket then loses all the text after that tag.
 */

import { HTML4_ENTITIES } from "./html4-entities.ts";

interface ElementNode {
  readonly type: "element";
  /** The name as the tree records it: a `prefix:` is dropped (`a:b` → `b`). */
  readonly name: string;
  readonly attributes: readonly Attribute[];
  children: Node[];
}
interface Attribute {
  readonly name: string;
  /** null for a bare attribute (`<input disabled>`). */
  readonly value: string | null;
}
interface TextNode {
  readonly type: "text";
  readonly value: string;
}
interface CommentNode {
  readonly type: "comment";
  readonly value: string;
}
interface PiNode {
  readonly type: "pi";
  readonly target: string;
  readonly data: string | null;
}
type Node = ElementNode | TextNode | CommentNode | PiNode;

/** Which open element a new start tag closes first (old tag: new tags), HTML 4's optional end tags. */
const START_CLOSE_TABLE =
  "a:a,fieldset,table,td,th|address:dd,dl,dt,form,li,ul|b:center,p,td,th|big:p|" +
  "caption:col,colgroup,tbody,tfoot,thead,tr|col:col,colgroup,tbody,tfoot,thead,tr|" +
  "colgroup:colgroup,tbody,tfoot,thead,tr|dd:dt|dir:dd,dl,dt,form,ul|dl:form,li|dt:dd,dl|" +
  "font:center,td,th|form:form|h1:fieldset,form,li,p,table|h2:fieldset,form,li,p,table|" +
  "h3:fieldset,form,li,p,table|h4:fieldset,form,li,p,table|h5:fieldset,form,li,p,table|" +
  "h6:fieldset,form,li,p,table|" +
  "head:a,abbr,acronym,address,b,bdo,big,blockquote,body,br,center,cite,code,dd,dfn,dir,div,dl,dt,em," +
  "fieldset,font,form,frameset,h1,h2,h3,h4,h5,h6,hr,i,iframe,img,kbd,li,listing,map,menu,ol,p,pre,q,s,samp," +
  "small,span,strike,strong,sub,sup,table,tt,u,ul,var,xmp|" +
  "hr:form|i:center,p,td,th|legend:fieldset|li:li|link:body,frameset|listing:dd,dl,dt,fieldset,form,li,table,ul|" +
  "menu:dd,dl,dt,form,ul|ol:form,ul|option:optgroup,option|" +
  "p:address,blockquote,body,caption,center,col,colgroup,dd,dir,div,dl,dt,fieldset,form,frameset,h1,h2,h3,h4," +
  "h5,h6,head,hr,li,listing,menu,ol,p,pre,table,tbody,td,tfoot,th,title,tr,ul,xmp|" +
  "pre:dd,dl,dt,fieldset,form,li,table,ul|s:p|script:noscript|small:p|span:td,th|strike:p|style:body,frameset|" +
  "tbody:tbody,tfoot|td:tbody,td,tfoot,th,tr|tfoot:tbody|th:tbody,td,tfoot,th,tr|thead:tbody,tfoot|" +
  "title:body,frameset|tr:tbody,tfoot,tr|tt:p|u:p,td,th|ul:address,form,menu,ol,pre|" +
  "xmp:dd,dl,dt,fieldset,form,li,table,ul";
const START_CLOSE = new Map(
  START_CLOSE_TABLE.split("|").map((entry) => {
    const [oldTag = "", newTags = ""] = entry.split(":");
    return [oldTag, new Set(newTags.split(","))] as const;
  }),
);

/** A misplaced end tag closes open elements only up to its own priority (default 100). */
const END_PRIORITY = new Map([
  ["div", 150],
  ["td", 160],
  ["th", 160],
  ["tr", 170],
  ["thead", 180],
  ["tbody", 180],
  ["tfoot", 180],
  ["table", 190],
  ["head", 200],
  ["body", 200],
  ["html", 220],
]);
const endPriority = (name: string): number => END_PRIORITY.get(name) ?? 100;

/** Elements that never have content: closed as soon as they open, written without an end tag. */
const EMPTY = new Set([
  "area",
  "base",
  "basefont",
  "br",
  "col",
  "frame",
  "hr",
  "img",
  "input",
  "isindex",
  "link",
  "meta",
  "param",
]);
/** Elements html_balance keeps even with no content. */
const KEEP_WHEN_EMPTY = new Set([
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
const BOOLEAN_ATTRIBUTES = new Set([
  "checked",
  "compact",
  "declare",
  "defer",
  "disabled",
  "ismap",
  "multiple",
  "nohref",
  "noresize",
  "noshade",
  "nowrap",
  "readonly",
  "selected",
]);
/** Whose content is written as it is, without escaping. */
const RAW_TEXT = new Set(["script", "style"]);
/** libxml's limit on a tag or attribute name; the rest is read as what follows the name. */
const NAME_LIMIT = 100;
/** The wrapping div's place on the stack of open elements (html, body, div). */
const WRAPPER = 2;

const isAsciiLetter = (c: string): boolean => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
const isAsciiDigit = (c: string): boolean => c >= "0" && c <= "9";
const isBlank = (c: string): boolean => c === " " || c === "\t" || c === "\n" || c === "\r";
/** XML's Char production: what libxml keeps of text, comments and script content. */
const isXmlChar = (cp: number): boolean =>
  cp === 0x9 ||
  cp === 0xa ||
  cp === 0xd ||
  (cp >= 0x20 && cp <= 0xd7ff) ||
  (cp >= 0xe000 && cp <= 0xfffd) ||
  (cp >= 0x10000 && cp <= 0x10ffff);
const isTagNameChar = (c: string): boolean =>
  isAsciiLetter(c) || isAsciiDigit(c) || c === ":" || c === "-" || c === "_" || c === ".";
const NAME_START_WIDE = /^[\p{L}_:]$/u;
const NAME_CHAR_WIDE =
  /^[\p{L}\p{Nd}\p{M}._:\-\u00B7\u02D0\u02D1\u0387\u0640\u0E46\u0EC6\u3005\u3031-\u3035\u309D\u309E\u30FC-\u30FE]$/u;

/** Text as libxml keeps it: a NUL read as a space, other non-XML characters dropped. */
function keepXmlChars(text: string): string {
  let out = "";
  for (const ch of text) {
    if (ch === "\0") out += " ";
    else if (isXmlChar(ch.codePointAt(0) ?? 0)) out += ch;
  }
  return out;
}

class HtmlBalancer {
  private readonly src: string;
  /** Where the caller's text ends and the wrapper's `</div>` begins. */
  private readonly userEnd: number;
  private pos = 0;
  private readonly names: string[] = ["html", "body", "div"];
  private readonly nodes: (ElementNode | null)[];
  /** Misplaced html/head/body start tags seen, whose end tags are then ignored. */
  private misplaced = 0;
  /** libxml stops reporting text, comments and PIs after a fatal name error (recovery is off). */
  private textDisabled = false;
  readonly root: ElementNode = { type: "element", name: "div", attributes: [], children: [] };

  constructor(text: string) {
    this.src = `${text}</div>`;
    this.userEnd = text.length;
    this.nodes = [null, null, this.root];
  }

  /** The character at the cursor; a NUL reads as the end of the input, as in libxml's own checks. */
  private cur(offset = 0): string {
    const c = this.src.charAt(this.pos + offset);
    return c === "\0" ? "" : c;
  }

  private get top(): string | undefined {
    return this.names[this.names.length - 1];
  }

  private skipBlanks(): void {
    while (isBlank(this.cur())) this.pos++;
  }

  private append(node: Node): void {
    const parent = this.nodes[this.nodes.length - 1];
    if (parent) parent.children.push(node);
  }

  private text(value: string): void {
    if (value) this.append({ type: "text", value });
  }

  private pop(): void {
    this.names.pop();
    this.nodes.pop();
  }

  parse(): void {
    let currentNode = this.top;
    let depth = this.names.length;
    for (;;) {
      const c = this.cur();
      const next = this.cur(1);
      if (c === "<" && next === "/") {
        if (this.parseEndTag()) {
          currentNode = this.top;
          depth = this.names.length;
        }
        continue;
      }
      if (c === "<" && (isAsciiLetter(next) || next === "_" || next === ":")) {
        const name = this.peekTagName();
        const top = this.top;
        if (top !== undefined && START_CLOSE.get(top)?.has(name)) {
          this.autoClose(name);
          continue;
        }
      }
      if (this.names.length > 0 && depth >= this.names.length && currentNode !== this.top) {
        currentNode = this.top;
        depth = this.names.length;
        continue;
      }
      if (c !== "" && (currentNode === "script" || currentNode === "style")) {
        this.parseScript();
        continue;
      }
      if (
        c === "<" &&
        next === "!" &&
        this.src.slice(this.pos + 2, this.pos + 9).toUpperCase() === "DOCTYPE"
      ) {
        this.parseDoctype();
      }
      const d = this.cur();
      if (d === "<" && this.src.startsWith("!--", this.pos + 1)) {
        this.parseComment();
      } else if (d === "<" && this.cur(1) === "?") {
        this.parsePi();
      } else if (d === "<" && isAsciiLetter(this.cur(1))) {
        this.parseElement();
        currentNode = this.top;
        depth = this.names.length;
      } else if (d === "<") {
        if (!this.textDisabled) this.text("<");
        this.pos++;
      } else if (d === "&") {
        this.parseReference();
      } else if (d === "") {
        break;
      } else {
        this.parseCharData();
      }
    }
  }

  /** A tag or attribute name: ASCII letters, digits and `:-_.`, lower-cased. */
  private parseTagName(): string | null {
    const c = this.cur();
    if (!isAsciiLetter(c) && c !== "_" && c !== ":" && c !== ".") return null;
    const start = this.pos;
    while (this.pos - start < NAME_LIMIT && isTagNameChar(this.cur())) this.pos++;
    return this.src.slice(start, this.pos).toLowerCase();
  }

  /** The name after `<` as the content loop sees it before the tag is parsed (no `.`). */
  private peekTagName(): string {
    let end = this.pos + 1;
    while (end - this.pos - 1 < NAME_LIMIT) {
      const c = this.src.charAt(end);
      if (!(isAsciiLetter(c) || isAsciiDigit(c) || c === ":" || c === "-" || c === "_")) break;
      end++;
    }
    return this.src.slice(this.pos + 1, end).toLowerCase();
  }

  /** An XML Name (entity names, PI targets). */
  private parseName(): string | null {
    const start = this.pos;
    let end = start;
    const first = this.src.charAt(end);
    if (isAsciiLetter(first) || first === "_" || first === ":") {
      end++;
      while (isTagNameChar(this.src.charAt(end))) end++;
      const stop = this.src.charCodeAt(end);
      if (stop > 0 && stop < 0x80) {
        this.pos = end;
        return this.src.slice(start, end);
      }
      if (end >= this.src.length) return null;
    }
    // Names with non-ASCII characters.
    end = start;
    const chars = Array.from(this.src.slice(start, start + 4000));
    const head = chars[0] ?? "";
    if (!NAME_START_WIDE.test(head)) return null;
    let length = 0;
    for (const ch of chars) {
      if (ch === " " || ch === ">" || ch === "/" || !NAME_CHAR_WIDE.test(ch)) break;
      length += ch.length;
    }
    this.pos = start + length;
    return this.src.slice(start, this.pos);
  }

  private autoClose(name: string): void {
    for (;;) {
      const top = this.top;
      if (top === undefined || !START_CLOSE.get(top)?.has(name)) return;
      this.pop();
    }
  }

  private parseEndTag(): boolean {
    const start = this.pos;
    this.pos += 2;
    const name = this.parseTagName();
    if (name === null) return false;
    this.skipBlanks();
    while (this.cur() !== "" && this.cur() !== ">") this.pos++;
    if (this.cur() === ">") this.pos++;
    if (this.misplaced > 0 && (name === "html" || name === "body" || name === "head")) {
      this.misplaced--;
      return false;
    }
    if (!this.names.includes(name)) return false;
    const priority = endPriority(name);
    let i = this.names.length - 1;
    for (; i >= 0; i--) {
      const open = this.names[i] ?? "";
      if (open === name) break;
      if (endPriority(open) > priority) return false;
    }
    // Deliberate: the caller's text never closes the wrapper (libxml would drop everything after it).
    if (start < this.userEnd && i <= WRAPPER) return false;
    while (this.names.length > i) this.pop();
    return true;
  }

  private parseElement(): void {
    this.pos++;
    const name = this.parseTagName() ?? "";
    this.autoClose(name);
    let discard = false;
    if (name === "html" || name === "head" || (name === "body" && this.names.includes("body"))) {
      discard = true;
      this.misplaced++;
    }
    this.skipBlanks();
    const attributes: Attribute[] = [];
    while (this.cur() !== "" && this.cur() !== ">" && !(this.cur() === "/" && this.cur(1) === ">")) {
      const attribute = this.parseTagName();
      if (attribute !== null) {
        this.skipBlanks();
        let value: string | null = null;
        if (this.cur() === "=") {
          this.pos++;
          this.skipBlanks();
          value = this.parseAttributeValue();
        }
        if (!attributes.some((a) => a.name === attribute)) attributes.push({ name: attribute, value });
      } else {
        while (
          this.cur() !== "" &&
          !isBlank(this.cur()) &&
          this.cur() !== ">" &&
          !(this.cur() === "/" && this.cur(1) === ">")
        )
          this.pos++;
      }
      this.skipBlanks();
    }
    if (!discard) this.open(name, attributes);
    if (this.cur() === "/" && this.cur(1) === ">") {
      this.pos += 2;
      // A self-closed misplaced html/head/body closes the current element; never the wrapper (deliberate).
      if (!(discard && this.names.length - 1 <= WRAPPER)) this.pop();
      return;
    }
    if (this.cur() !== ">") {
      this.pop();
      return;
    }
    this.pos++;
    if (EMPTY.has(this.top ?? "")) this.pop();
  }

  private open(name: string, attributes: Attribute[]): void {
    const element: ElementNode = {
      type: "element",
      name: this.localName(name),
      attributes: attributes.map(({ name: attribute, value }) => ({
        name: attribute,
        value: value === null && BOOLEAN_ATTRIBUTES.has(attribute) ? attribute : value,
      })),
      children: [],
    };
    this.append(element);
    this.names.push(name);
    this.nodes.push(element);
  }

  /** `prefix:name` → `name`; a name that is not namespace-compliant stops all later text. */
  private localName(name: string): string {
    const colon = name.indexOf(":");
    if (colon <= 0 || colon === name.length - 1) return name;
    const local = name.slice(colon + 1);
    const first = local.charAt(0);
    if (!isAsciiLetter(first) && first !== "_" && first !== ":") this.textDisabled = true;
    return local;
  }

  private parseAttributeValue(): string {
    const quote = this.cur();
    if (quote === '"' || quote === "'") {
      this.pos++;
      const value = this.parseAttributeText(quote);
      if (this.cur() === quote) this.pos++;
      return value;
    }
    return this.parseAttributeText(null);
  }

  /** An attribute value with its references resolved; a reference to U+0000 ends the value. */
  private parseAttributeText(stop: string | null): string {
    let out = "";
    let ended = false;
    const add = (s: string): void => {
      if (!ended) out += s;
    };
    for (;;) {
      const c = this.cur();
      if (c === "" || c === stop) break;
      if (stop === null && (c === ">" || isBlank(c))) break;
      if (c === "&") {
        if (this.cur(1) === "#") {
          const code = this.parseCharRef();
          if (code === 0) ended = true;
          else add(String.fromCodePoint(code));
        } else {
          add(this.parseEntityRef());
        }
      } else {
        const cp = this.src.codePointAt(this.pos) ?? 0;
        const ch = String.fromCodePoint(cp);
        add(ch);
        this.pos += ch.length;
      }
    }
    return out;
  }

  /** `&#…;` / `&#x…;`: the code point, or 0 when it is no XML character. */
  private parseCharRef(): number {
    let value = 0;
    const hex = this.cur(2) === "x" || this.cur(2) === "X";
    this.pos += hex ? 3 : 2;
    for (;;) {
      const c = this.cur();
      if (c === ";") {
        this.pos++;
        break;
      }
      const digit = (hex ? /^[0-9a-fA-F]$/ : /^[0-9]$/).test(c) ? Number.parseInt(c, 16) : Number.NaN;
      if (Number.isNaN(digit)) break;
      if (value < 0x110000) value = value * (hex ? 16 : 10) + digit;
      this.pos++;
    }
    return isXmlChar(value) ? value : 0;
  }

  /** `&name;` as text: the character when known and terminated, else `&name` (the `;` stays). */
  private parseEntityRef(): string {
    this.pos++;
    const name = this.parseName();
    if (name === null) return "&";
    if (this.cur() === ";") {
      const code = HTML4_ENTITIES.get(name);
      if (code !== undefined) {
        this.pos++;
        return String.fromCodePoint(code);
      }
    }
    return `&${name}`;
  }

  private parseReference(): void {
    if (this.cur(1) === "#") {
      const code = this.parseCharRef();
      if (code !== 0) this.text(String.fromCodePoint(code));
      return;
    }
    this.text(this.parseEntityRef());
  }

  private parseCharData(): void {
    const start = this.pos;
    while (this.pos < this.src.length && this.cur() !== "<" && this.cur() !== "&") this.pos++;
    if (!this.textDisabled) this.text(keepXmlChars(this.src.slice(start, this.pos)));
  }

  /** script and style content, up to the next `</` and a letter. */
  private parseScript(): void {
    const start = this.pos;
    while (
      this.pos < this.src.length &&
      !(this.cur() === "<" && this.cur(1) === "/" && isAsciiLetter(this.cur(2)))
    )
      this.pos++;
    if (!this.textDisabled) this.text(keepXmlChars(this.src.slice(start, this.pos)));
  }

  private parseComment(): void {
    this.pos += 4;
    const chars = Array.from(this.src.slice(this.pos));
    let offset = 0;
    const take = (): string => {
      const ch = chars[offset] ?? "";
      offset++;
      return ch === "\0" ? " " : ch;
    };
    let q = take();
    let r = q === "" ? "" : take();
    if (q === "" || r === "") {
      this.pos = this.src.length;
      return;
    }
    let buffer = "";
    let cur = take();
    while (cur !== "" && (cur !== ">" || r !== "-" || q !== "-")) {
      const next = take();
      if (q === "-" && r === "-" && cur === "!" && next === ">") {
        cur = ">";
        break;
      }
      if (isXmlChar(q.codePointAt(0) ?? 0)) buffer += q;
      q = r;
      r = cur;
      cur = next;
    }
    if (cur !== ">") {
      this.pos = this.src.length;
      return;
    }
    this.pos += chars.slice(0, offset).join("").length;
    if (!this.textDisabled) this.append({ type: "comment", value: buffer });
  }

  private parsePi(): void {
    this.pos += 2;
    const target = this.parseName();
    if (target === null) return;
    if (this.cur() === ">") {
      this.pos++;
      if (!this.textDisabled) this.append({ type: "pi", target, data: null });
      return;
    }
    this.skipBlanks();
    const end = this.src.indexOf(">", this.pos);
    if (end < 0) {
      this.pos = this.src.length;
      return;
    }
    const data = keepXmlChars(this.src.slice(this.pos, end));
    this.pos = end + 1;
    if (!this.textDisabled) this.append({ type: "pi", target, data });
  }

  /** A DOCTYPE in the text: read and dropped (it does not touch the body). */
  private parseDoctype(): void {
    this.pos += 9;
    this.skipBlanks();
    this.parseName();
    this.skipBlanks();
    const keyword = this.src.slice(this.pos, this.pos + 6).toUpperCase();
    if (keyword === "SYSTEM" || keyword === "PUBLIC") {
      this.pos += 6;
      this.skipBlanks();
      this.skipLiteral();
      if (keyword === "PUBLIC") {
        this.skipBlanks();
        this.skipLiteral();
      }
    }
    this.skipBlanks();
    while (this.cur() !== "" && this.cur() !== ">") this.pos++;
    if (this.cur() === ">") this.pos++;
  }

  private skipLiteral(): void {
    const quote = this.cur();
    if (quote !== '"' && quote !== "'") return;
    const end = this.src.indexOf(quote, this.pos + 1);
    if (end >= 0) this.pos = end + 1;
  }
}

/** Removes, bottom-up, each element with no child node at all but those html_balance keeps. */
function removeEmptyElements(element: ElementNode): void {
  element.children = element.children.filter((child) => {
    if (child.type !== "element") return true;
    removeEmptyElements(child);
    return child.children.length > 0 || KEEP_WHEN_EMPTY.has(child.name);
  });
}

function escapeText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));
}

/** An attribute value as saveHTML escapes it: `&{…}` and `<!--…-->` are left as they are. */
function escapeAttribute(value: string): string {
  let out = "";
  let i = 0;
  while (i < value.length) {
    const c = value.charAt(i);
    if (c === "<") {
      const end = value.startsWith("<!--", i) ? value.indexOf("-->", i) : -1;
      if (end >= 0) {
        out += value.slice(i, end + 3);
        i = end + 3;
        continue;
      }
      out += "&lt;";
    } else if (c === ">") {
      out += "&gt;";
    } else if (c === "&") {
      const end = value.charAt(i + 1) === "{" ? value.indexOf("}", i) : -1;
      if (end >= 0) {
        out += value.slice(i, end + 1);
        i = end + 1;
        continue;
      }
      out += "&amp;";
    } else if (c >= " " || c === "\n" || c === "\t" || c === "\r") {
      out += c;
    }
    i++;
  }
  return out;
}

const URI_SAFE = /[A-Za-z0-9\-_.!~*'()@/:=?;#%&,+<>]/;

/** libxml's URI escaping of link attributes: leading blanks dropped, other bytes as %XX. */
function escapeUri(value: string): string {
  let out = "";
  for (const ch of value.replace(/^[ \t\n\r]+/, "")) {
    if (URI_SAFE.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of new TextEncoder().encode(ch))
      out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function quoteAttribute(value: string): string {
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  return `"${value.replaceAll('"', "&quot;")}"`;
}

function serializeAttribute(element: ElementNode, { name, value }: Attribute): string {
  if (value === null || BOOLEAN_ATTRIBUTES.has(name)) return ` ${name}`;
  const escaped = escapeAttribute(value);
  const isUri =
    name === "href" || name === "action" || name === "src" || (name === "name" && element.name === "a");
  return ` ${name}=${quoteAttribute(isUri ? escapeUri(escaped) : escaped)}`;
}

function serialize(nodes: readonly Node[], parent: string): string {
  let out = "";
  for (const node of nodes) {
    if (node.type === "text") out += RAW_TEXT.has(parent) ? node.value : escapeText(node.value);
    else if (node.type === "comment") out += `<!--${node.value}-->`;
    else if (node.type === "pi") out += `<?${node.target}${node.data === null ? "" : ` ${node.data}`}>`;
    else {
      out += `<${node.name}${node.attributes.map((a) => serializeAttribute(node, a)).join("")}>`;
      if (!EMPTY.has(node.name)) out += `${serialize(node.children, node.name)}</${node.name}>`;
    }
  }
  return out;
}

/** What Format::html_balance returns for a (non-blank) text, but for the deliberate difference above. */
export function libxmlBalance(text: string): string {
  const parser = new HtmlBalancer(text);
  parser.parse();
  removeEmptyElements(parser.root);
  return serialize(parser.root.children, "div");
}
