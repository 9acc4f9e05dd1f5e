/**
 * PHP's `preg_match($pattern, $subject)` for the patterns osTicket stores in ticket filter rules: the
 * delimited PCRE pattern with its modifiers is translated to a JS RegExp with PCRE2's meaning.
 *
 * Without the `u` modifier PCRE works on bytes: the subject and the pattern are then taken as UTF-8 bytes,
 * a byte below 0x80 as itself and one above as a private-use character (U+E080..U+E0FF) that has no case,
 * is no word character and no space, so `.`, classes, quantifiers and `i` see exactly the bytes PCRE sees.
 * With `u` the match runs on code points with PHP's UCP semantics (`\w`, `\d`, `\s`, `\b` Unicode-aware).
 *
 * A pattern PHP refuses (no or alphanumeric delimiter, no ending delimiter, unknown modifier, a compile
 * error) answers `false`, as preg_match does. So does a valid pattern whose syntax has no JS equivalent
 * here (possessive quantifiers, atomic groups, inline option settings, recursion, `U`/`X` modifiers, POSIX
 * classes, `\R`, `\X`, `\K`...): it cannot be evaluated faithfully, and failing like an invalid pattern is
 * the documented behaviour (services/ticket/README.md).
 */

import vm from "node:vm";

export type PregResult = 1 | 0 | false;

/**
 * How long one match may run. PCRE stops a match at `pcre.backtrack_limit` and preg_match answers false;
 * JS has no such limit, so a pattern with catastrophic backtracking (`/^(a+)+$/`) against a long message
 * would hold the event loop for minutes. The match runs in a reused VM context whose timeout ends it, and
 * a match that ran out of time answers false, as PHP's does at its limit.
 */
const MATCH_TIMEOUT_MS = 50;
const matchContext = vm.createContext({ pattern: /(?:)/, subject: "" });
const runMatch = new vm.Script("pattern.test(subject)");

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** A string's UTF-8 bytes as characters: ASCII as is, a byte ≥ 0x80 as U+E000 + byte. */
function byteChars(text: string): string {
  let out = "";
  for (const b of utf8.encode(text)) out += String.fromCharCode(b < 0x80 ? b : 0xe000 + b);
  return out;
}

function bytesOf(chars: string): Uint8Array {
  return Uint8Array.from(chars, (c) => {
    const code = c.charCodeAt(0);
    return code >= 0xe080 && code <= 0xe0ff ? code - 0xe000 : code;
  });
}

const PHP_SPACE = new Set([" ", "\t", "\n", "\r", "\v", "\f"]);
const BRACKETS: Readonly<Record<string, string>> = { "(": ")", "[": "]", "{": "}", "<": ">" };
/** Modifiers PHP accepts; `U` and `X` change matching in ways not translated here. */
const MODIFIERS = new Set(["i", "m", "s", "x", "A", "D", "S", "U", "X", "J", "u", "n"]);

class Untranslatable extends Error {}

interface Compiled {
  readonly regex: RegExp;
  readonly unicode: boolean;
}

const cache = new Map<string, Compiled | null>();

/** preg_match($pattern, $subject): 1, 0, or false for a pattern PHP refuses (or that is not translated). */
export function pregMatch(pattern: string, subject: string): PregResult {
  let compiled = cache.get(pattern);
  if (compiled === undefined) {
    compiled = compile(pattern);
    if (cache.size > 500) cache.clear();
    cache.set(pattern, compiled);
  }
  if (!compiled) return false;
  compiled.regex.lastIndex = 0;
  matchContext.pattern = compiled.regex;
  matchContext.subject = compiled.unicode ? subject : byteChars(subject);
  try {
    return runMatch.runInContext(matchContext, { timeout: MATCH_TIMEOUT_MS }) === true ? 1 : 0;
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_SCRIPT_EXECUTION_TIMEOUT") return false;
    throw error;
  } finally {
    matchContext.subject = "";
  }
}

function compile(pattern: string): Compiled | null {
  const chars = Array.from(byteChars(pattern));
  let at = 0;
  while (at < chars.length && PHP_SPACE.has(chars[at] ?? "")) at++;
  const start = chars[at];
  if (start === undefined || /^[A-Za-z0-9\\\0]$/.test(start)) return null;
  const end = BRACKETS[start] ?? start;
  let depth = 1;
  let close = -1;
  for (let i = at + 1; i < chars.length; i++) {
    const c = chars[i];
    if (c === "\\" && i + 1 < chars.length) i++;
    else if (c === end && --depth <= 0) {
      close = i;
      break;
    } else if (c === start && end !== start) depth++;
  }
  if (close < 0) return null;
  const flags = new Set<string>();
  for (const m of chars.slice(close + 1)) {
    if (m === " " || m === "\n" || m === "\r") continue;
    if (!MODIFIERS.has(m)) return null;
    flags.add(m);
  }
  if (flags.has("U") || flags.has("X")) return null;
  const unicode = flags.has("u");
  let body = chars.slice(at + 1, close).join("");
  if (unicode) {
    try {
      body = utf8Strict.decode(bytesOf(body));
    } catch {
      return null;
    }
  }
  try {
    const source = translate(Array.from(body), { unicode, flags });
    const regex = new RegExp(
      flags.has("A") ? `(?<![\\s\\S])(?:${source})` : source,
      `${flags.has("i") ? "i" : ""}${unicode ? "u" : ""}`,
    );
    return { regex, unicode };
  } catch {
    return null;
  }
}

const WORD_U = "[\\p{L}\\p{N}_]";
const ESCAPE_LITERAL = /^[\^$\\.*+?()[\]{}|/]$/;

/** A code point as a JS escape that means the same character in the subject as translated. */
function literal(cp: number, unicode: boolean): string {
  if (!unicode && cp >= 0x80) {
    if (cp > 0xff) throw new Untranslatable();
    return `\\u${(0xe000 + cp).toString(16).toUpperCase()}`;
  }
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, "0")}`;
  return unicode ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, "0")}`;
}

function translate(cs: readonly string[], options: { unicode: boolean; flags: ReadonlySet<string> }): string {
  const { unicode, flags } = options;
  const multiline = flags.has("m");
  const dotAll = flags.has("s");
  const extended = flags.has("x");
  let out = "";
  let i = 0;
  let inClass = false;
  let classStart = false;
  const peek = (k = 0) => cs[i + k] ?? "";

  /** `\` + cs[i]: advances past the escape and returns its translation. */
  const escaped = (): string => {
    const c = cs[i++] ?? "";
    if (c === "") throw new Untranslatable();
    if (c >= "0" && c <= "9") {
      if (c === "0" || inClass) {
        if (c > "7") throw new Untranslatable();
        let digits = c;
        while (digits.length < 3 && /^[0-7]$/.test(peek())) digits += cs[i++];
        return literal(Number.parseInt(digits, 8), unicode);
      }
      if (/^[0-9]$/.test(peek())) throw new Untranslatable();
      return `\\${c}`;
    }
    if (!/^[A-Za-z]$/.test(c)) {
      const cp = c.codePointAt(0) ?? 0;
      return ESCAPE_LITERAL.test(c) || (inClass && c === "-") ? `\\${c}` : literal(cp, unicode);
    }
    switch (c) {
      case "n":
      case "r":
      case "t":
      case "f":
        return `\\${c}`;
      case "e":
        return "\\x1b";
      case "a":
        return "\\x07";
      case "d":
        return unicode ? "\\p{Nd}" : "\\d";
      case "D":
        return unicode ? "\\P{Nd}" : "\\D";
      case "w":
        return unicode ? (inClass ? "\\p{L}\\p{N}_" : WORD_U) : "\\w";
      case "W":
        if (!unicode) return "\\W";
        if (inClass) throw new Untranslatable();
        return "[^\\p{L}\\p{N}_]";
      case "s":
        if (!unicode) return "\\s";
        return inClass ? "\\t\\n\\x0b\\f\\r\\x85\\p{Z}" : "[\\t\\n\\x0b\\f\\r\\x85\\p{Z}]";
      case "S":
        if (!unicode) return "\\S";
        if (inClass) throw new Untranslatable();
        return "[^\\t\\n\\x0b\\f\\r\\x85\\p{Z}]";
      case "h":
      case "H": {
        const set = unicode ? "\\t \\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000" : "\\t \\uE0A0";
        if (inClass) {
          if (c === "H") throw new Untranslatable();
          return set;
        }
        return c === "h" ? `[${set}]` : `[^${set}]`;
      }
      case "v":
      case "V": {
        const set = unicode ? "\\n\\x0b\\f\\r\\x85\\u2028\\u2029" : "\\n\\x0b\\f\\r\\uE085";
        if (inClass) {
          if (c === "V") throw new Untranslatable();
          return set;
        }
        return c === "v" ? `[${set}]` : `[^${set}]`;
      }
      case "b":
        if (inClass) return "\\x08";
        return unicode ? `(?:(?<=${WORD_U})(?!${WORD_U})|(?<!${WORD_U})(?=${WORD_U}))` : "\\b";
      case "B":
        if (inClass) throw new Untranslatable();
        return unicode ? `(?:(?<=${WORD_U})(?=${WORD_U})|(?<!${WORD_U})(?!${WORD_U}))` : "\\B";
      case "A":
      case "G":
        if (inClass) throw new Untranslatable();
        return "(?<![\\s\\S])";
      case "z":
        if (inClass) throw new Untranslatable();
        return "(?![\\s\\S])";
      case "Z":
        if (inClass) throw new Untranslatable();
        return "(?=\\n?(?![\\s\\S]))";
      case "E":
        return "";
      case "x": {
        let hex = "";
        if (peek() === "{") {
          const closeAt = cs.indexOf("}", i);
          if (closeAt < 0) throw new Untranslatable();
          hex = cs.slice(i + 1, closeAt).join("");
          if (!/^[0-9A-Fa-f]+$/.test(hex)) throw new Untranslatable();
          i = closeAt + 1;
        } else {
          while (hex.length < 2 && /^[0-9A-Fa-f]$/.test(peek())) hex += cs[i++];
        }
        const cp = hex ? Number.parseInt(hex, 16) : 0;
        if (cp > 0x10ffff) throw new Untranslatable();
        return literal(cp, unicode);
      }
      case "c": {
        const next = cs[i++] ?? "";
        const code = next.toUpperCase().charCodeAt(0);
        if (!next || code > 0x7f) throw new Untranslatable();
        return literal(code ^ 0x40, unicode);
      }
      case "p":
      case "P": {
        if (!unicode) throw new Untranslatable();
        if (peek() === "{") {
          const closeAt = cs.indexOf("}", i);
          if (closeAt < 0) throw new Untranslatable();
          const name = cs.slice(i + 1, closeAt).join("");
          i = closeAt + 1;
          if (!/^\^?[A-Za-z_]+$/.test(name)) throw new Untranslatable();
          const negated = name.startsWith("^") !== (c === "P");
          return `\\${negated ? "P" : "p"}{${name.replace(/^\^/, "")}}`;
        }
        const one = cs[i++] ?? "";
        if (!/^[A-Za-z]$/.test(one)) throw new Untranslatable();
        return `\\${c}{${one}}`;
      }
      case "Q": {
        let text = "";
        while (i < cs.length && !(cs[i] === "\\" && cs[i + 1] === "E")) {
          text += literal((cs[i] ?? "").codePointAt(0) ?? 0, unicode);
          i++;
        }
        if (i < cs.length) i += 2;
        return text;
      }
      default:
        throw new Untranslatable();
    }
  };

  while (i < cs.length) {
    const c = cs[i++] ?? "";
    if (inClass) {
      if (c === "]" && !classStart) {
        inClass = false;
        out += "]";
        continue;
      }
      classStart = false;
      if (c === "\\") out += escaped();
      else if (c === "]") out += "\\]";
      else if (c === "[") {
        if (/^[:.=]$/.test(peek())) throw new Untranslatable();
        out += "\\[";
      } else out += c;
      continue;
    }
    if (extended && (PHP_SPACE.has(c) || c === "\v")) continue;
    if (extended && c === "#") {
      while (i < cs.length && cs[i] !== "\n") i++;
      continue;
    }
    switch (c) {
      case "\\":
        out += escaped();
        break;
      case "[":
        inClass = true;
        classStart = true;
        out += "[";
        if (peek() === "^") {
          out += "^";
          i++;
        }
        break;
      case ".":
        out += dotAll ? "[\\s\\S]" : "[^\\n]";
        break;
      case "^":
        out += multiline ? "(?:(?<![\\s\\S])|(?<=\\n)(?=[\\s\\S]))" : "(?<![\\s\\S])";
        break;
      case "$":
        out += multiline ? "(?=\\n|(?![\\s\\S]))" : flags.has("D") ? "(?![\\s\\S])" : "(?=\\n?(?![\\s\\S]))";
        break;
      case "(":
        out += group();
        break;
      case "*":
      case "+":
      case "?":
        out += c;
        quantified();
        break;
      case "{": {
        const rest = cs.slice(i).join("");
        const q = /^(\d+)(,(\d*))?\}/.exec(rest);
        if (q) {
          out += `{${q[0]}`;
          i += Array.from(q[0]).length;
          quantified();
        } else out += "\\{";
        break;
      }
      case "}":
        out += "\\}";
        break;
      case "]":
        out += "\\]";
        break;
      default:
        out += c;
    }
  }
  if (inClass) throw new Untranslatable();
  return out;

  /** After a quantifier: a lazy `?` is JS too, a possessive `+` has no JS form. */
  function quantified(): void {
    if (peek() === "+") throw new Untranslatable();
    if (peek() === "?") {
      out += "?";
      i++;
    }
  }

  /** An opening parenthesis (cs[i] follows it). */
  function group(): string {
    if (peek() === "*") throw new Untranslatable();
    if (peek() !== "?") return "(";
    const next = peek(1);
    if (next === ":" || next === "=" || next === "!") {
      i += 2;
      return `(?${next}`;
    }
    if (next === "<" && (peek(2) === "=" || peek(2) === "!")) {
      i += 3;
      return `(?<${cs[i - 1]}`;
    }
    if (next === "#") {
      const closeAt = cs.indexOf(")", i);
      if (closeAt < 0) throw new Untranslatable();
      i = closeAt + 1;
      return "";
    }
    const named = /^\?(?:P?<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')/.exec(cs.slice(i, i + 40).join(""));
    if (named) {
      i += named[0].length;
      return `(?<${named[1] ?? named[2]}>`;
    }
    throw new Untranslatable();
  }
}
