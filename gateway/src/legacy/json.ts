/**
 * JSON request bodies decoded as PHP's `json_decode($body, true)` does, with the error texts osTicket's
 * JsonDataParser reports: objects keep their key order (Maps), ints and floats stay apart, and a failure
 * says which kind it is (syntax, control character, UTF-8, depth).
 */
import type { PhpArray, PhpValue } from "./php.ts";

/** osTicket's texts for json_last_error() (include/class.json.php), used verbatim in 400 bodies. */
export const JSON_ERROR_TEXT = {
  none: "No errors",
  depth: "Maximum stack depth exceeded",
  ctrlChar: "Unexpected control character found",
  syntax: "Syntax error, malformed JSON",
  utf8: "Malformed UTF-8 characters, possibly incorrectly encoded",
  unknown: "Unknown error",
} as const;

export type JsonDecodeResult = { ok: true; value: PhpValue } | { ok: false; error: string };

/** PHP's default json_decode depth. */
const MAX_DEPTH = 512;

class JsonFailure extends Error {
  readonly text: string;
  constructor(text: string) {
    super(text);
    this.text = text;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids raw control characters in strings
const PLAIN_STRING = /[^"\\\u0000-\u001f]*/y;
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;

/** Decodes a request body. A BOM is a syntax error, as in PHP. */
export function decodeJson(body: Uint8Array): JsonDecodeResult {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { ok: false, error: JSON_ERROR_TEXT.utf8 };
  }
  try {
    const parser = new Parser(text);
    parser.skipWhitespace();
    const value = parser.value(0);
    parser.skipWhitespace();
    if (parser.pos !== text.length) throw new JsonFailure(JSON_ERROR_TEXT.syntax);
    return { ok: true, value };
  } catch (error) {
    if (error instanceof JsonFailure) return { ok: false, error: error.text };
    throw error;
  }
}

class Parser {
  readonly text: string;
  pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  skipWhitespace(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.exec(this.text);
    this.pos = WHITESPACE.lastIndex;
  }

  value(depth: number): PhpValue {
    const c = this.text[this.pos];
    switch (c) {
      case "{":
        return this.object(depth + 1);
      case "[":
        return this.array(depth + 1);
      case '"':
        return this.string();
      case "t":
        return this.literal("true", true);
      case "f":
        return this.literal("false", false);
      case "n":
        return this.literal("null", null);
      default:
        return this.number();
    }
  }

  literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) throw new JsonFailure(JSON_ERROR_TEXT.syntax);
    this.pos += word.length;
    return value;
  }

  number(): PhpValue {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) throw new JsonFailure(JSON_ERROR_TEXT.syntax);
    this.pos = NUMBER.lastIndex;
    const isInt = match[2] === undefined && match[3] === undefined;
    const value = Number(match[0]);
    // PHP turns integers that overflow int64 into floats.
    return { kind: isInt && Math.abs(value) < 2 ** 63 ? "int" : "float", value };
  }

  string(): string {
    this.pos++; // opening quote
    let out = "";
    for (;;) {
      PLAIN_STRING.lastIndex = this.pos;
      PLAIN_STRING.exec(this.text);
      out += this.text.slice(this.pos, PLAIN_STRING.lastIndex);
      this.pos = PLAIN_STRING.lastIndex;
      const c = this.text[this.pos];
      if (c === undefined) throw new JsonFailure(JSON_ERROR_TEXT.syntax);
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c === "\\") {
        out += this.escape();
        continue;
      }
      throw new JsonFailure(JSON_ERROR_TEXT.ctrlChar);
    }
  }

  escape(): string {
    const c = this.text[this.pos + 1];
    this.pos += 2;
    switch (c) {
      case '"':
        return '"';
      case "\\":
        return "\\";
      case "/":
        return "/";
      case "b":
        return "\b";
      case "f":
        return "\f";
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "u": {
        const unit = this.hex4();
        if (unit >= 0xd800 && unit <= 0xdbff) {
          // A high surrogate must be followed by an escaped low surrogate (PHP: JSON_ERROR_UTF16).
          if (this.text.startsWith("\\u", this.pos)) {
            this.pos += 2;
            const low = this.hex4();
            if (low >= 0xdc00 && low <= 0xdfff) return String.fromCharCode(unit, low);
          }
          throw new JsonFailure(JSON_ERROR_TEXT.unknown);
        }
        if (unit >= 0xdc00 && unit <= 0xdfff) throw new JsonFailure(JSON_ERROR_TEXT.unknown);
        return String.fromCharCode(unit);
      }
      default:
        throw new JsonFailure(JSON_ERROR_TEXT.syntax);
    }
  }

  hex4(): number {
    const digits = this.text.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) throw new JsonFailure(JSON_ERROR_TEXT.syntax);
    this.pos += 4;
    return Number.parseInt(digits, 16);
  }

  object(depth: number): PhpArray {
    if (depth > MAX_DEPTH) throw new JsonFailure(JSON_ERROR_TEXT.depth);
    this.pos++;
    const result: PhpArray = new Map();
    this.skipWhitespace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return result;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') throw new JsonFailure(JSON_ERROR_TEXT.syntax);
      const key = this.string();
      this.skipWhitespace();
      if (this.text[this.pos] !== ":") throw new JsonFailure(JSON_ERROR_TEXT.syntax);
      this.pos++;
      this.skipWhitespace();
      result.set(key, this.value(depth));
      this.skipWhitespace();
      const c = this.text[this.pos++];
      if (c === "}") return result;
      if (c !== ",") throw new JsonFailure(JSON_ERROR_TEXT.syntax);
    }
  }

  array(depth: number): PhpArray {
    if (depth > MAX_DEPTH) throw new JsonFailure(JSON_ERROR_TEXT.depth);
    this.pos++;
    const result: PhpArray = new Map();
    this.skipWhitespace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return result;
    }
    for (let index = 0; ; index++) {
      this.skipWhitespace();
      result.set(String(index), this.value(depth));
      this.skipWhitespace();
      const c = this.text[this.pos++];
      if (c === "]") return result;
      if (c !== ",") throw new JsonFailure(JSON_ERROR_TEXT.syntax);
    }
  }
}
