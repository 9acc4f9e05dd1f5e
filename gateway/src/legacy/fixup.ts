/**
 * What osTicket does to decoded request data before using it (ApiJsonDataParser / ApiXmlDataParser fixup,
 * TicketApiController::validate): messages from data URLs or <message type encoding>, attachments to
 * {name, type, data}, alert/autorespond casts, and the list of keys it does not expect (each one becomes an
 * "Unexpected Data" syslog row). Inputs on which osTicket's PHP crashes (a TypeError, an empty 500) are
 * refused here with a LegacyInputError instead, before anything is written.
 */
import { parseDataUrl, phpBase64Decode, transcodeToUtf8 } from "./data-url.ts";
import { isNumericString, isPhpArray, type PhpArray, type PhpValue, phpBool, phpString } from "./php.ts";

/** A request osTicket would crash on; answered 400 with this text, nothing logged or written. */
export class LegacyInputError extends Error {
  override name = "LegacyInputError";
}

export interface LegacyMessage {
  /** UTF-8 body. */
  body: string;
  html: boolean;
}

export interface LegacyAttachment {
  name: string;
  type: string;
  /** The bytes osTicket stores. */
  data: Buffer;
  /** The size osTicket records (differs for XML base64 files, decoded twice); undefined = data length. */
  size: number | undefined;
}

const MESSAGE_PLACEHOLDER = "";

function scalarString(key: string, value: PhpValue | undefined): string {
  const text = phpString(value);
  if (text === undefined)
    throw new LegacyInputError(`Invalid request: "${key}" must be a string, not a list or an object`);
  return text;
}

/**
 * Keys whose value osTicket's PHP crashes on (a TypeError or a broken query, after writing part of the
 * ticket): a list or object always, or only one that is not empty (an empty one is falsy and skipped), or
 * (`ccs`, which Ticket::create counts) anything but a list or null.
 */
const CRASHING_VALUES: ReadonlyMap<string, "any" | "non-empty" | "not-a-list"> = new Map([
  ["subject", "any"], // Format::sanitize → trim()
  ["notes", "any"], // the contact form's memo field → trim()
  ["source", "any"], // strtolower() in Ticket::create
  ["topicId", "any"], // Topic::lookup with an array: a broken query
  ["emailId", "any"], // trim() in Ticket::create
  ["statusId", "non-empty"], // TicketStatus::lookup with a list: a broken query
  ["staffId", "non-empty"],
  ["teamId", "non-empty"],
  ["cannedResponseId", "non-empty"],
  ["ccs", "not-a-list"], // count() of a string, number or boolean
]);

/** Refuses, as crashes are, the values CRASHING_VALUES names. */
export function refuseCrashingValues(data: PhpArray): void {
  for (const [key, when] of CRASHING_VALUES) {
    const value = data.get(key);
    if (when === "not-a-list") {
      if (value === undefined || value === null || isPhpArray(value)) continue;
      throw new LegacyInputError(`Invalid request: "${key}" must be a list of e-mail addresses`);
    }
    if (!isPhpArray(value) || (when === "non-empty" && value.size === 0)) continue;
    throw new LegacyInputError(`Invalid request: "${key}" must be a single value, not a list or an object`);
  }
}

/** ApiJsonDataParser::fixup. */
export function fixupJson(input: PhpArray): { data: PhpArray; message?: LegacyMessage; files: PhpArray[] } {
  const data: PhpArray = new Map();
  let message: LegacyMessage | undefined;
  const files: PhpArray[] = [];
  for (const [key, value] of input) {
    switch (key) {
      case "phone":
        data.set(key, scalarString(key, value).toUpperCase());
        break;
      case "alert":
      case "autorespond":
        data.set(key, phpBool(value));
        break;
      case "message": {
        const parsed = parseDataUrl(Buffer.from(scalarString(key, value), "utf8"), true);
        message = { body: parsed.data.toString("utf8"), html: parsed.type === "text/html" };
        data.set(key, MESSAGE_PLACEHOLDER);
        break;
      }
      case "attachments": {
        if (!isPhpArray(value)) {
          data.set(key, value); // PHP warns and leaves it: logged as unexpected below, then ignored
          break;
        }
        const list: PhpArray = new Map();
        for (const [index, item] of value) {
          if (!isPhpArray(item))
            throw new LegacyInputError(
              'Invalid request: "attachments" must be a list of objects like {"<file name>": "<data URL>"}',
            );
          const first = item.entries().next();
          const [name, content] = first.done ? [undefined, undefined] : first.value;
          if (isPhpArray(content))
            throw new LegacyInputError(
              "Invalid request: each attachment must map its file name to a data URL or text, not to an object",
            );
          const parsed = parseDataUrl(Buffer.from(scalarString("attachments", content ?? ""), "utf8"), false);
          const file: PhpArray = new Map<string, PhpValue>([
            ["data", parsed.data.toString("latin1")],
            ["type", parsed.type],
            ["name", name ?? null],
          ]);
          list.set(index, file);
          fileBytes.set(file, parsed.data);
          files.push(file);
        }
        data.set(key, list);
        break;
      }
      default:
        data.set(key, value);
    }
  }
  return { data, message, files };
}

/** Bytes of the attachment entries built by the fixups (their "data" strings are only for validation). */
const fileBytes = new WeakMap<PhpArray, Buffer>();

/** ApiXmlDataParser::fixup on the document's top level. Returns undefined when no array remains. */
export function fixupXml(
  document: PhpArray,
): { data: PhpArray; message?: LegacyMessage; files: PhpArray[] } | undefined {
  let current: PhpValue | undefined = document;
  const ticket = document.get("ticket");
  if (phpBool(ticket)) current = ticket;
  if (!isPhpArray(current)) return undefined;
  const data: PhpArray = new Map();
  let message: LegacyMessage | undefined;
  const files: PhpArray[] = [];
  for (const [key, value] of current) {
    switch (key) {
      case "phone":
        data.set(key, isPhpArray(value) ? (value.get(":text") ?? null) : value);
        break;
      case "alert":
      case "autorespond": {
        const text = scalarString(key, value);
        data.set(key, text.toLowerCase() === "false" ? false : phpBool(value));
        break;
      }
      case "message": {
        let body: string;
        let type: string;
        let encoding: string | undefined;
        if (!isPhpArray(value)) {
          body = scalarString(key, value);
          type = "text/plain";
        } else {
          body = scalarString(key, value.get(":text") ?? null);
          type = scalarString(key, value.get("type") ?? null);
          const declared = value.get("encoding");
          encoding = declared === undefined ? undefined : scalarString(key, declared);
        }
        const bytes = Buffer.from(body, "utf8");
        const converted = encoding === undefined ? bytes : transcodeToUtf8(bytes, encoding);
        message = { body: converted.toString("utf8"), html: type.toLowerCase() === "text/html" };
        data.set(key, MESSAGE_PLACEHOLDER);
        break;
      }
      case "attachments": {
        let list: PhpValue | undefined = value;
        if (isPhpArray(value)) {
          const file = value.get("file");
          if (file !== undefined && !(isPhpArray(file) && file.has(":text"))) list = file;
        }
        if (isPhpArray(list) && list.size > 0) {
          const fixed: PhpArray = new Map();
          for (const [index, item] of list) {
            if (!isPhpArray(item))
              throw new LegacyInputError(
                'Invalid request: each <file> in <attachments> needs attributes, e.g. <file name="a.txt">…</file>',
              );
            const entry: PhpArray = new Map(item);
            const text = entry.get(":text");
            entry.delete(":text");
            entry.set("data", text ?? null);
            fixed.set(index, entry);
            files.push(entry);
          }
          data.set(key, fixed);
        } else {
          data.set(key, list ?? null);
        }
        break;
      }
      default:
        data.set(key, value);
    }
  }
  return { data, message, files };
}

/**
 * TicketApiController::validate's attachment step: base64 files (encoding attribute, any case) are
 * decoded strictly once (their size is taken then), then AttachmentFile::create decodes `encoding="base64"`
 * (exact case) a second time, leniently. A poorly encoded file is still uploaded by osTicket, with no
 * bytes, which its storage cannot write: it goes on without bytes (the ticket service posts osTicket's
 * "<name>: Unable to save file" import error) and is named in `poorlyEncoded`.
 */
export function prepareAttachments(files: readonly PhpArray[]): {
  attachments: LegacyAttachment[];
  poorlyEncoded: string[];
} {
  const attachments: LegacyAttachment[] = [];
  const poorlyEncoded: string[] = [];
  for (const file of files) {
    const name = phpString(file.get("name") ?? null) ?? "";
    const type = phpString(file.get("type") ?? null) ?? "";
    const encoding = phpString(file.get("encoding") ?? null) ?? "";
    let data = fileBytes.get(file) ?? Buffer.from(phpString(file.get("data") ?? null) ?? "", "utf8");
    if (encoding !== "" && encoding !== "0" && encoding.toLowerCase() === "base64") {
      const once = phpBase64Decode(data, true);
      // PHP tests the result for truthiness: undecodable, "" and "0" all count as poorly encoded.
      if (!once || once.length === 0 || (once.length === 1 && once[0] === 0x30)) {
        poorlyEncoded.push(name);
        attachments.push({ name, type, data: Buffer.alloc(0), size: undefined });
        continue;
      }
      data = once;
    }
    const givenSize = file.get("size");
    const size =
      givenSize !== undefined && givenSize !== null ? Number(phpString(givenSize) ?? "0") || 0 : data.length;
    if (encoding === "base64") data = phpBase64Decode(data) ?? Buffer.alloc(0);
    attachments.push({ name, type, data, size: size === data.length ? undefined : size });
  }
  return { attachments, poorlyEncoded };
}

/** One level of the request structure osTicket accepts: names of scalars, and nested structures by key. */
export interface RequestStructure {
  readonly names: ReadonlySet<string>;
  /** Nested structures; "*" = any key. The string "*" accepts anything below. */
  readonly nested: ReadonlyMap<string, RequestStructure | "*">;
}

/** TicketApiController::getRequestStructure for tickets.json / tickets.xml, given the form field names. */
export function ticketRequestStructure(fieldNames: Iterable<string>): RequestStructure {
  return {
    names: new Set([
      "alert",
      "autorespond",
      "source",
      "topicId",
      "message",
      "ip",
      "priorityId",
      ...fieldNames,
    ]),
    nested: new Map<string, RequestStructure | "*">([
      [
        "attachments",
        {
          names: new Set(),
          nested: new Map([
            ["*", { names: new Set(["name", "type", "data", "encoding", "size"]), nested: new Map() }],
          ]),
        },
      ],
      // "*" => "*": a scalar entry is unexpected (in_array of its index in ["*"]), a nested one accepted.
      ["system_emails", { names: new Set(), nested: new Map<string, RequestStructure | "*">([["*", "*"]]) }],
      [
        "thread_entry_recipients",
        { names: new Set(), nested: new Map([["*", { names: new Set(["to", "cc"]), nested: new Map() }]]) },
      ],
    ]),
  };
}

/**
 * ApiController::validateRequestStructure (non-strict): the path of every key osTicket does not expect,
 * in order ("bogus", "0", "attachments/0/foo").
 */
export function unexpectedKeys(data: PhpArray, structure: RequestStructure | "*", prefix = ""): string[] {
  if (structure === "*") return [];
  const found: string[] = [];
  for (const [key, info] of data) {
    if (isPhpArray(info)) {
      const search = structure.nested.has(key) && !isNumericString(key) ? key : "*";
      const nested = structure.nested.get(search);
      if (nested !== undefined) {
        found.push(...unexpectedKeys(info, nested, `${prefix}${key}/`));
        continue;
      }
    } else if (structure.names.has(key)) {
      continue;
    }
    found.push(`${prefix}${key}`);
  }
  return found;
}
