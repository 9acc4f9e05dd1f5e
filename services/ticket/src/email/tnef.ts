import { phpTruthyString } from "@ostmesh/kit/osticket/html/format.ts";
import { transcodeToUtf8 } from "./charset.ts";

/**
 * Microsoft TNEF (winmail.dat, application/ms-tnef) read the way osTicket 1.18.1's TnefStreamParser reads it
 * (include/tnef_decoder.php), quirks included, since what it finds decides a mail's body and files:
 *
 * - the stream is the signature 0x223E9F78, a 16-bit key, then attribute blocks (level byte, 32-bit attribute,
 *   32-bit length, data, 16-bit checksum: the sum of the data bytes modulo 65536); a block whose checksum does
 *   not match fails the whole stream; fewer than 11 bytes left end it;
 * - the first block is read twice (once when the reader opens, once more when it is iterated from the start);
 * - of a MAPI property list (attMsgProps, attAttachment) the last property is read but never applied;
 * - only a few attributes count: attOemCodepage, attMsgProps, attAttachRendData (starts an attachment),
 *   attAttachment (its MAPI properties), attAttachTransportFilename and attAttachData; attBody and
 *   attPriority are not read (the body comes from PR_BODY_HTML, the importance from PR_IMPORTANCE);
 * - property values are PHP strings: String8 and binary values as their bytes (no charset conversion),
 *   Unicode values converted from UTF-16LE to UTF-8, lengths cut by one (String8) or two (Unicode) bytes for
 *   the terminator. Values osTicket's code reads wrongly are what it ends up with (booleans are false, floats
 *   and 64-bit integers null).
 */

/** osTicket's TnefException: the TNEF part then stays an ordinary attachment. */
export class TnefError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TnefError";
  }
}

/**
 * A property value as PHP holds it: bytes for strings, numbers, booleans, null, arrays for multi-valued
 * properties.
 */
export type TnefValue = Buffer | number | boolean | null | TnefValue[];

/** A TNEF object's properties by the names osTicket gives them (TnefAttribute's constant names). */
export type TnefProperties = Map<string, TnefValue>;

export interface TnefMessage {
  readonly properties: TnefProperties;
  readonly attachments: TnefProperties[];
}

const SIGNATURE = 0x223e9f78;

// TnefStreamParser's attribute ids (level-independent: type << 16 | id).
const ATT_OEM_CODEPAGE = 0x69007;
const ATT_MSG_PROPS = 0x69003;
const ATT_ATTACH_REND_DATA = 0x69002;
const ATT_ATTACHMENT = 0x69005;
const ATT_ATTACH_TRANSPORT_FILENAME = 0x18010;
const ATT_ATTACH_DATA = 0x6800f;
const ID_MESSAGE_CLASS = 0x78008;
const ID_MESSAGE_ID = 0x18009;
const ID_SUBJECT = 0x18004;

/** The MAPI property ids whose TnefAttribute names osTicket's mail handling reads. */
const PROPERTY_NAMES = new Map<number, string>([
  [0x0017, "Importance"],
  [0x1013, "BodyHtml"],
  [0x3701, "AttachDataBinary"],
  [0x3704, "AttachFilename"],
  [0x3707, "AttachLongFilename"],
  [0x370c, "AttachTransportName"],
  [0x370e, "AttachMimeTag"],
  [0x3712, "AttachContentId"],
  [0x3fde, "InternetCodepage"],
]);

/** The property id a named property with a string name gets (its value is then stored under that name). */
const NAMED_STRING = 0x9999;

const TYPE = {
  unspecified: 0x0,
  null: 0x1,
  int16: 0x2,
  int32: 0x3,
  flt32: 0x4,
  flt64: 0x5,
  currency: 0x6,
  appTime: 0x7,
  error: 0xa,
  boolean: 0xb,
  object: 0xd,
  int64: 0x14,
  string8: 0x1e,
  unicode: 0x1f,
  systime: 0x40,
  clsid: 0x48,
  binary: 0x102,
} as const;
const MV_FLAG = 0x1000;
const SINGLE_VALUED_LISTS: readonly number[] = [TYPE.unicode, TYPE.string8, TYPE.binary, TYPE.object];

/** A cursor over bytes with PHP's forgiving reads: past the end, integers are null and strings short. */
class Cursor {
  pos = 0;
  readonly bytes: Buffer;
  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }
  get left(): number {
    return this.bytes.length - this.pos;
  }
  u8(): number {
    const value = this.pos < this.bytes.length ? (this.bytes[this.pos] ?? 0) : 0;
    this.pos += 1;
    return value;
  }
  u16(): number | null {
    const value = this.pos + 2 <= this.bytes.length ? this.bytes.readUInt16LE(this.pos) : null;
    this.pos += 2;
    return value;
  }
  u32(): number | null {
    const value = this.pos + 4 <= this.bytes.length ? this.bytes.readUInt32LE(this.pos) : null;
    this.pos += 4;
    return value;
  }
  take(length: number): Buffer {
    const start = Math.min(this.pos, this.bytes.length);
    const value = this.bytes.subarray(start, Math.min(start + Math.max(length, 0), this.bytes.length));
    this.pos += length;
    return value;
  }
}

interface Block {
  readonly attribute: number;
  readonly length: number;
  readonly data: Buffer;
}

/** TnefStreamReader::next: one attribute block, its checksum verified; undefined when < 11 bytes are left. */
function readBlock(cursor: Cursor): Block | undefined {
  if (cursor.left < 11) return undefined;
  cursor.u8(); // level: osTicket dispatches on the attribute alone
  const attribute = cursor.u32() ?? 0;
  const length = cursor.u32() ?? 0;
  const data = cursor.take(length);
  const checksum = cursor.u16();
  let sum = 0;
  for (const byte of data) sum = (sum + byte) % 65536;
  if ((checksum ?? 0) !== sum) {
    throw new TnefError(
      `Corrupted block. ${hex(sum, 4)}: Invalid checksum, expected ${hex(checksum ?? 0, 4)}`,
    );
  }
  return { attribute, length, data };
}

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, "0");
}

/** TnefStreamParser::getMessage. Throws TnefError where osTicket throws TnefException. */
export function decodeTnef(stream: Buffer): TnefMessage {
  const cursor = new Cursor(stream);
  const signature = cursor.u32() ?? 0;
  if (signature !== SIGNATURE) throw new TnefError(`${hex(signature, 8)}: Invalid signature magic`);
  cursor.u16(); // attach key
  const first = readBlock(cursor);
  const message: TnefMessage = { properties: new Map(), attachments: [] };
  if (!first) return message;
  // Iterating rewinds to just after the header, so the block read on opening comes round again.
  cursor.pos = 6;
  let attachment: TnefProperties | undefined;
  const current = (): TnefProperties => {
    // osTicket calls a method on a missing attachment there: a PHP error, not a TnefException.
    if (!attachment) throw new TnefError("attachment attribute before any attAttachRendData");
    return attachment;
  };
  for (let block: Block | undefined = first; block; block = readBlock(cursor)) {
    switch (block.attribute) {
      case ATT_OEM_CODEPAGE:
        message.properties.set("OemCodepage", block.data.length >= 8 ? block.data.readUInt32LE(0) : null);
        break;
      case ID_MESSAGE_CLASS:
        message.properties.set("MessageClass", block.data);
        break;
      case ID_MESSAGE_ID:
        message.properties.set("MessageId", block.data);
        break;
      case ID_SUBJECT:
        message.properties.set("Subject", block.data);
        break;
      case ATT_MSG_PROPS:
        readProperties(block.data, message.properties);
        break;
      case ATT_ATTACH_REND_DATA:
        attachment = new Map();
        message.attachments.push(attachment);
        break;
      case ATT_ATTACHMENT:
        readProperties(block.data, current());
        break;
      case ATT_ATTACH_TRANSPORT_FILENAME:
        current().set("TransportFilename", rtrimNul(block.data));
        break;
      case ATT_ATTACH_DATA:
        current().set("Data", block.data);
        current().set("DataSize", block.length);
        break;
    }
  }
  return message;
}

function rtrimNul(data: Buffer): Buffer {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  return data.subarray(0, end);
}

/**
 * TnefAttributeStreamReader iterated by AbstractTnefObject::_setProperties: a 32-bit count, then that many
 * properties; each is read, all but the last are applied (the iterator's validity test looks at the count
 * left after reading).
 */
function readProperties(data: Buffer, into: TnefProperties): void {
  const cursor = new Cursor(data);
  const count = cursor.u32() ?? 0;
  for (let left = count; left > 0; left--) {
    // Past the end every further read is empty and sets nothing.
    if (cursor.left <= 0) break;
    const property = readProperty(cursor);
    if (left === 1) break;
    const name = PROPERTY_NAMES.get(property.id);
    if (name) into.set(name, property.value);
    else if (property.id === NAMED_STRING) into.set(propertyName(property.namedId), property.value);
  }
}

function propertyName(namedId: TnefValue | undefined): string {
  if (Buffer.isBuffer(namedId)) return namedId.toString("utf8");
  return namedId == null ? "" : String(namedId);
}

interface Property {
  readonly id: number;
  readonly namedId: TnefValue | undefined;
  readonly value: TnefValue;
}

/** TnefAttributeStreamReader::next. */
function readProperty(cursor: Cursor): Property {
  const type = cursor.u16() ?? 0;
  let id = cursor.u16() ?? 0;
  const dataType = type & ~MV_FLAG;
  const multiValued = (type & MV_FLAG) !== 0 || SINGLE_VALUED_LISTS.includes(type);
  let namedId: TnefValue | undefined;
  if (id >= 0x8000 && id < 0xfffe) {
    cursor.take(16); // property set GUID
    const kind = cursor.u32();
    if (kind === 0) namedId = cursor.u32();
    else if (kind === 1) {
      id = NAMED_STRING;
      namedId = readValue(cursor, TYPE.unicode);
    }
  }
  if (!multiValued) return { id, namedId, value: readValue(cursor, dataType) };
  const values: TnefValue[] = [];
  const count = cursor.u32() ?? 0;
  for (let i = 0; i < count; i++) {
    values.push(readValue(cursor, dataType));
    if (cursor.left <= 0) break;
  }
  return { id, namedId, value: (type & MV_FLAG) !== 0 ? values : (values[0] ?? null) };
}

/** TnefAttributeStreamReader::readPhpValue: values padded to 4 bytes, read as osTicket's PHP reads them. */
function readValue(cursor: Cursor, type: number): TnefValue {
  switch (type) {
    case TYPE.unspecified:
    case TYPE.null:
    case TYPE.error:
      return null;
    case TYPE.int16:
      // osTicket applies `&` to the array unpack() returns: a PHP TypeError, not a TnefException.
      throw new TnefError("16-bit integer property");
    case TYPE.int32:
      return cursor.u32();
    case TYPE.boolean:
      cursor.take(4);
      return false;
    case TYPE.flt32:
      cursor.take(4);
      return null;
    case TYPE.flt64:
    case TYPE.int64:
      cursor.take(8);
      return null;
    case TYPE.currency:
      return cursor.take(8);
    case TYPE.appTime:
      cursor.take(8);
      return (0 - 25569) * 86400;
    case TYPE.systime: {
      const low = cursor.u32() ?? 0;
      const high = cursor.u32() ?? 0;
      return low / 10000000 + high * 429.4967296 - 11644473600;
    }
    case TYPE.string8:
    case TYPE.unicode:
    case TYPE.binary: {
      const declared = cursor.u32() ?? 0;
      const padded = declared + ((4 - (declared % 4)) % 4);
      const kept = type === TYPE.string8 ? declared - 1 : type === TYPE.unicode ? declared - 2 : declared;
      const raw = cursor.take(padded);
      // PHP substr with a negative length leaves that many bytes off the end.
      const text = raw.subarray(0, kept >= 0 ? kept : Math.max(0, raw.length + kept));
      return type === TYPE.unicode ? utf16leToUtf8(text) : text;
    }
    case TYPE.object: {
      const length = cursor.u32() ?? 0;
      cursor.take(16);
      cursor.take(length - 16);
      cursor.take((4 - (length % 4)) % 4);
      return null;
    }
    case TYPE.clsid:
      return cursor.take(16);
    default:
      throw new TnefError(`0x${hex(type, 4)}: Bad data type`);
  }
}

/** Charset::utf8($text, 'UTF-16LE'): an odd trailing byte is dropped (iconv //IGNORE). */
function utf16leToUtf8(text: Buffer): Buffer {
  const converted = Buffer.from(
    text.subarray(0, text.length - (text.length % 2)).toString("utf16le"),
    "utf8",
  );
  return !converted.length && text.length ? text : converted;
}

/** PHP's string value of a property ('' for null), as `?:` and string functions see it. */
function bytesOf(value: TnefValue | undefined): Buffer | undefined {
  if (value == null) return undefined;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === "number") return Buffer.from(String(value));
  if (typeof value === "boolean") return Buffer.from(value ? "1" : "");
  return undefined;
}

/**
 * TnefMessage::getBody('text/html', 'UTF-8'): PR_BODY_HTML transcoded from the OEM code page (attOemCodepage),
 * else from PR_INTERNET_CPID, as `cp<number>`; undefined when it is empty or "0" (PHP false), as Mail_Parse
 * then looks at the mail's own parts. PR_BODY and PR_RTF_COMPRESSED are never used.
 */
export function tnefHtmlBody(message: TnefMessage): string | undefined {
  const body = bytesOf(message.properties.get("BodyHtml"));
  if (!body) return undefined;
  const oem = message.properties.get("OemCodepage");
  const internet = message.properties.get("InternetCodepage");
  const codepage = truthy(oem) ? oem : truthy(internet) ? internet : undefined;
  const text = (codepage === undefined ? body : transcodeToUtf8(body, `cp${String(codepage)}`)).toString(
    "utf8",
  );
  return phpTruthyString(text) ? text : undefined;
}

function truthy(value: TnefValue | undefined): boolean {
  if (value == null || value === false || value === 0) return false;
  if (Buffer.isBuffer(value)) return phpTruthyString(value.toString("latin1"));
  return !Array.isArray(value) || value.length > 0;
}

/** PR_IMPORTANCE when the message sets it (0 low, 1 normal, 2 high); Mail_Parse asks for urgency 4 − it. */
export function tnefImportance(message: TnefMessage): number | undefined {
  const value = message.properties.get("Importance");
  return typeof value === "number" ? value : undefined;
}

/** One attachment as Mail_Parse::getAttachments hands it on. */
export interface TnefFile {
  /** TnefAttachment::getName: basename of PR_ATTACH_LONG_FILENAME, else PR_ATTACH_FILENAME, PR_ATTACH_TRANSPORT_NAME, attAttachTransportFilename. */
  readonly name: string;
  /** PR_ATTACH_MIME_TAG, '' when unset. */
  readonly type: string;
  /** attAttachData, else PR_ATTACH_DATA_BIN; undefined when neither is there. */
  readonly data: Buffer | undefined;
  /** PR_ATTACH_CONTENT_ID. */
  readonly cid: string | undefined;
  /** The attAttachData length when set and not 0: osTicket then looks for an identical stored file. */
  readonly size: number | undefined;
}

export function tnefFiles(message: TnefMessage): TnefFile[] {
  return message.attachments.map((attachment) => {
    const text = (name: string) => bytesOf(attachment.get(name))?.toString("utf8");
    const long = text("AttachLongFilename");
    const name =
      long !== undefined
        ? phpBasename(long)
        : (text("AttachFilename") ?? text("AttachTransportName") ?? text("TransportFilename") ?? "");
    const type = text("AttachMimeTag");
    const cid = text("AttachContentId");
    const size = attachment.get("DataSize");
    return {
      name,
      type: type && phpTruthyString(type) ? type : "",
      data: bytesOf(attachment.get("Data")) ?? bytesOf(attachment.get("AttachDataBinary")),
      cid: cid && phpTruthyString(cid) ? cid : undefined,
      size: typeof size === "number" && size ? size : undefined,
    };
  });
}

/** PHP basename() on Linux: the part after the last `/`, trailing slashes ignored. */
function phpBasename(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}
