/**
 * A small TNEF writer for tests: valid streams (signature, key, attribute blocks with checksums, MAPI
 * property lists padded to 4 bytes) as Outlook and Exchange write them into winmail.dat.
 */

export const LVL_MESSAGE = 1;
export const LVL_ATTACHMENT = 2;

export const ATT = {
  tnefVersion: 0x89006,
  oemCodepage: 0x69007,
  messageClass: 0x78008,
  subject: 0x18004,
  body: 0x2800c,
  msgProps: 0x69003,
  attachRendData: 0x69002,
  attachTitle: 0x18010,
  attachData: 0x6800f,
  attachment: 0x69005,
} as const;

export const PT = {
  int16: 0x2,
  int32: 0x3,
  boolean: 0xb,
  object: 0xd,
  string8: 0x1e,
  unicode: 0x1f,
  binary: 0x102,
  mvString8: 0x101e,
} as const;

export const PR = {
  importance: 0x0017,
  body: 0x1000,
  rtfCompressed: 0x1009,
  bodyHtml: 0x1013,
  internetCpid: 0x3fde,
  attachDataBin: 0x3701,
  attachFilename: 0x3704,
  attachMethod: 0x3705,
  attachLongFilename: 0x3707,
  renderingPosition: 0x370b,
  attachMimeTag: 0x370e,
  attachContentId: 0x3712,
} as const;

export interface MapiProperty {
  readonly id: number;
  readonly type: number;
  /** Strings are written as String8 (latin1 bytes plus NUL) or Unicode (UTF-16LE plus NUL) by `type`. */
  readonly value: number | string | Buffer | readonly string[];
  /** A named property (id ≥ 0x8000) with a string name. */
  readonly name?: string;
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return b;
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
}

function padded(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
}

function counted(data: Buffer): Buffer {
  return Buffer.concat([u32(data.length), padded(data)]);
}

function stringBytes(type: number, value: string | Buffer): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if ((type & ~0x1000) === PT.unicode) return Buffer.from(`${value}\0`, "utf16le");
  if ((type & ~0x1000) === PT.string8) return Buffer.from(`${value}\0`, "latin1");
  return Buffer.from(value, "utf8");
}

function propertyValue(p: MapiProperty): Buffer {
  const { type, value } = p;
  if (type === PT.int32) return u32(Number(value));
  if (type === PT.int16 || type === PT.boolean) return u32(Number(value) & 0xffff);
  if (Array.isArray(value)) {
    return Buffer.concat([u32(value.length), ...value.map((v: string) => counted(stringBytes(type, v)))]);
  }
  if (typeof value === "number") throw new Error(`type 0x${type.toString(16)} takes bytes or a string`);
  // String8, Unicode and binary values are a one-value list: count, length, padded bytes.
  return Buffer.concat([u32(1), counted(stringBytes(type, value as string | Buffer))]);
}

/** A MAPI property list (attMsgProps / attAttachment data): count, then each tag, name and value. */
export function mapiProperties(properties: readonly MapiProperty[]): Buffer {
  const parts = [u32(properties.length)];
  for (const p of properties) {
    parts.push(u16(p.type), u16(p.id));
    if (p.name !== undefined) {
      parts.push(Buffer.alloc(16, 0x11), u32(1), counted(Buffer.from(`${p.name}\0`, "utf16le")));
    }
    parts.push(propertyValue(p));
  }
  return Buffer.concat(parts);
}

/** One attribute block: level, attribute, length, data, checksum (sum of the data bytes mod 65536). */
export function tnefBlock(level: number, attribute: number, data: Buffer, checksum?: number): Buffer {
  let sum = 0;
  for (const byte of data) sum = (sum + byte) % 65536;
  return Buffer.concat([Buffer.from([level]), u32(attribute), u32(data.length), data, u16(checksum ?? sum)]);
}

/** Signature 0x223E9F78, an attach key, then the blocks. */
export function tnefStream(blocks: readonly Buffer[], key = 0x1234): Buffer {
  return Buffer.concat([u32(0x223e9f78), u16(key), ...blocks]);
}

export interface TnefFileSpec {
  readonly title?: string;
  readonly longName?: string;
  readonly mimeType?: string;
  readonly contentId?: string;
  readonly data: Buffer;
}

export interface TnefMessageSpec {
  readonly oemCodepage?: number;
  readonly htmlBody?: Buffer;
  readonly textBody?: string;
  readonly importance?: number;
  readonly internetCodepage?: number;
  readonly files?: readonly TnefFileSpec[];
}

/**
 * A winmail.dat as Outlook writes one: version, OEM code page, message class, message properties, then per
 * file attAttachRendData, attAttachTitle, attAttachData and its MAPI properties. Each property list ends
 * with a property no reader needs (a rendering position / PR_MESSAGE_FLAGS-like value).
 */
export function outlookTnef(spec: TnefMessageSpec): Buffer {
  const blocks = [tnefBlock(LVL_MESSAGE, ATT.tnefVersion, u32(0x10000))];
  if (spec.oemCodepage !== undefined) {
    blocks.push(tnefBlock(LVL_MESSAGE, ATT.oemCodepage, Buffer.concat([u32(spec.oemCodepage), u32(0)])));
  }
  blocks.push(tnefBlock(LVL_MESSAGE, ATT.messageClass, Buffer.from("IPM.Microsoft Mail.Note\0")));
  const props: MapiProperty[] = [];
  if (spec.textBody !== undefined) props.push({ id: PR.body, type: PT.string8, value: spec.textBody });
  if (spec.htmlBody !== undefined) props.push({ id: PR.bodyHtml, type: PT.binary, value: spec.htmlBody });
  if (spec.importance !== undefined)
    props.push({ id: PR.importance, type: PT.int32, value: spec.importance });
  if (spec.internetCodepage !== undefined) {
    props.push({ id: PR.internetCpid, type: PT.int32, value: spec.internetCodepage });
  }
  props.push({ id: 0x0e07, type: PT.int32, value: 1 });
  blocks.push(tnefBlock(LVL_MESSAGE, ATT.msgProps, mapiProperties(props)));
  for (const file of spec.files ?? []) {
    blocks.push(tnefBlock(LVL_ATTACHMENT, ATT.attachRendData, Buffer.alloc(14)));
    if (file.title !== undefined) {
      blocks.push(tnefBlock(LVL_ATTACHMENT, ATT.attachTitle, Buffer.from(`${file.title}\0`, "latin1")));
    }
    blocks.push(tnefBlock(LVL_ATTACHMENT, ATT.attachData, file.data));
    const attach: MapiProperty[] = [{ id: PR.attachMethod, type: PT.int32, value: 1 }];
    if (file.longName !== undefined) {
      attach.push({ id: PR.attachLongFilename, type: PT.unicode, value: file.longName });
    }
    if (file.mimeType !== undefined)
      attach.push({ id: PR.attachMimeTag, type: PT.string8, value: file.mimeType });
    if (file.contentId !== undefined) {
      attach.push({ id: PR.attachContentId, type: PT.string8, value: file.contentId });
    }
    attach.push({ id: PR.renderingPosition, type: PT.int32, value: 0xffffffff });
    blocks.push(tnefBlock(LVL_ATTACHMENT, ATT.attachment, mapiProperties(attach)));
  }
  return tnefStream(blocks);
}
