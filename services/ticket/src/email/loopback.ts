import { createHash, createHmac } from "node:crypto";

/**
 * Message-IDs osTicket's PHP mailer gives the mails it sends (`B<system code>-<random>-<tag>-<sender>@...`,
 * older `A...`): the tag packs the recipient (user or staff id and class), the thread entry and the thread,
 * signed with the installation's SECRET_SALT (include/ost-config.php). A reply quoting such an id can be
 * threaded exactly, even when it carries no ticket number; the salt is needed to trust it.
 */
export interface OsTicketMessageId {
  /** The id was made by this help desk (its system code matches). */
  readonly loopback: boolean;
  readonly uid?: number;
  readonly entryId?: number;
  readonly threadId?: number;
  /** U ticket owner, C collaborator, S staff, M several recipients, ? other. */
  readonly userClass?: string;
  readonly userId?: number;
  readonly staffId?: number;
}

/** Mailer::getSystemMessageIdCode: six characters derived from the salt. */
export function systemMessageIdCode(salt: string): string {
  return createHash("md5").update(`mail${salt}`).digest("base64").replaceAll("+", "=").slice(0, 6);
}

/** PHP trim($s, '<> '). */
function trimBrackets(text: string): string {
  return text.replace(/^[<> ]+|[<> ]+$/g, "");
}

/**
 * Mailer::decodeMessageId. Undefined for an id with an unknown version letter; `loopback: false` when the
 * id is not one of this help desk's, and also when its tag does not verify: osTicket returns before it
 * compares the system code then, so such a mail is not a loop and is posted like any other.
 */
export function decodeMessageId(mid: string, salt: string): OsTicketMessageId | undefined {
  const bare = trimBrackets(mid);
  const at = bare.indexOf("@");
  const lhs = at === -1 ? bare : bare.slice(0, at);
  const sig = at === -1 ? "" : bare.slice(at + 1);
  const parts = lhs.split("-");
  if (parts.length < 2) return { loopback: false };
  const version = parts[0]?.charAt(0) ?? "";
  if (version !== "A" && version !== "B") return undefined;
  const code = (parts[0] ?? "").slice(1);
  const id = parts[1] ?? "";
  const tag = parts[2] ?? "";
  const info = version === "B" ? decodeB(id, tag, salt) : decodeA(id, tag, sig, salt);
  if (!info) return { loopback: false };
  const loopback = code === systemMessageIdCode(salt);
  const byClass =
    info.userClass === "S"
      ? { staffId: info.uid }
      : info.userClass === "U" || info.userClass === "C"
        ? { userId: info.uid }
        : {};
  return { loopback, ...info, ...byClass };
}

interface Tag {
  uid: number;
  entryId: number;
  threadId?: number;
  userClass: string;
}

function decodeB(id: string, tag: string, salt: string): Tag | undefined {
  if (!tag) return undefined;
  const bytes = Buffer.from(tag, "base64");
  if (bytes.length < 13) return undefined;
  const expected = createHmac("sha1", salt)
    .update(Buffer.concat([bytes.subarray(0, 13), Buffer.from(id + systemMessageIdCode(salt))]))
    .digest()
    .subarray(-5);
  if (!expected.equals(bytes.subarray(13))) return undefined;
  return {
    uid: bytes.readUInt32LE(0),
    entryId: bytes.readUInt32LE(4),
    threadId: bytes.readUInt32LE(8),
    userClass: bytes.toString("latin1", 12, 13).replace(/\0+$/, ""),
  };
}

function decodeA(id: string, tag: string, sig: string, salt: string): Tag | undefined {
  const expected = createHmac("sha1", salt)
    .update(tag + id)
    .digest("hex")
    .slice(-10);
  if (!tag || sig !== expected) return undefined;
  const bytes = Buffer.from(tag, "base64");
  if (bytes.length < 9) return undefined;
  return {
    uid: bytes.readUInt32LE(0),
    entryId: bytes.readUInt32LE(4),
    userClass: bytes.toString("latin1", 8, 9).replace(/\0+$/, ""),
  };
}

/** Mailer::getMessageId (version B): what osTicket's PHP mailer would put on a mail. For tests and tools. */
export function encodeMessageId(
  salt: string,
  fields: {
    uid: number;
    entryId: number;
    threadId: number;
    userClass: string;
    random: string;
    sender: string;
  },
): string {
  const sysid = systemMessageIdCode(salt);
  const packed = Buffer.alloc(13);
  packed.writeUInt32LE(fields.uid, 0);
  packed.writeUInt32LE(fields.entryId, 4);
  packed.writeUInt32LE(fields.threadId, 8);
  packed.write(fields.userClass.charAt(0) || "?", 12, "latin1");
  const sig = createHmac("sha1", salt)
    .update(Buffer.concat([packed, Buffer.from(fields.random + sysid)]))
    .digest()
    .subarray(-5);
  const tag = Buffer.concat([packed, sig]).toString("base64").replaceAll("=", "");
  return `<B${sysid}-${fields.random}-${tag}-${fields.sender}>`;
}
