import { createHash, createHmac } from "node:crypto";

/**
 * The Message-IDs osTicket's PHP mailer gives its mails (Mailer::getMessageId, version B):
 * `<B{system code}-{random}-{tag}-{sending mailbox}>`, where the tag packs who the mail went to (user or staff
 * id and class), the thread entry and the thread it is about, signed with the installation's SECRET_SALT.
 * osTicket's incoming side (ThreadEntry::lookupByEmailHeaders) trusts such an id in a reply's In-Reply-To or
 * References to find the entry and the poster, so ostmesh's mails carry ids of this kind when it knows the salt.
 */

/** Who a mail was addressed to, as the tag records it: S staff, U ticket owner, C collaborator, M a list, ? other. */
export type RecipientClass = "S" | "U" | "C" | "M" | "?";

export interface MessageIdParts {
  /** The staff or user id of the recipient (0 for a list or a bare address). */
  readonly uid: number;
  /** The thread entry the mail is about (0: none). */
  readonly entryId: number;
  /** That entry's thread, or the thread the mail is about (0: none). */
  readonly threadId: number;
  readonly userClass: RecipientClass;
  /** The unique part: five characters of RANDOM_ALPHABET in osTicket's own ids. */
  readonly random: string;
  /** The sending mailbox's address (osTicket writes `@osTicketMailer` when it sends without one). */
  readonly sender: string;
}

/** Misc::randCode's characters for the unique part: none of RFC 822's specials, no '-' (the separator), no '+'. */
const RANDOM_ALPHABET = "abcdefghiklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_=";

/** Mailer::getSystemMessageIdCode: six characters derived from the salt, the same on every mail. */
export function systemMessageIdCode(salt: string): string {
  return createHash("md5").update(`mail${salt}`).digest("base64").replaceAll("+", "=").slice(0, 6);
}

/**
 * The unique part for a mail, derived from `seed` instead of drawn at random: the same mail planned again gets
 * the same Message-ID. Five characters, as osTicket's.
 */
export function stableRandomPart(seed: string): string {
  const digest = createHash("sha256").update(seed).digest();
  let out = "";
  for (let i = 0; i < 5; i++)
    out += RANDOM_ALPHABET.charAt(digest.readUInt16BE(i * 2) % RANDOM_ALPHABET.length);
  return out;
}

/** Mailer::getMessageId's id (with its angle brackets), which osTicket's decodeMessageId accepts as its own. */
export function osTicketMessageId(salt: string, parts: MessageIdParts): string {
  const code = systemMessageIdCode(salt);
  // pack('VVVa'): three little-endian 32-bit numbers and the class letter.
  const packed = Buffer.alloc(13);
  packed.writeUInt32LE(parts.uid >>> 0, 0);
  packed.writeUInt32LE(parts.entryId >>> 0, 4);
  packed.writeUInt32LE(parts.threadId >>> 0, 8);
  packed.write(parts.userClass, 12, "latin1");
  const signature = createHmac("sha1", salt)
    .update(Buffer.concat([packed, Buffer.from(parts.random + code, "latin1")]))
    .digest()
    .subarray(-5);
  const tag = Buffer.concat([packed, signature]).toString("base64").replaceAll("=", "");
  return `<B${code}-${parts.random}-${tag}-${parts.sender}>`;
}

/** A Message-ID in Mailer::getMessageId's version B shape (ostmesh's own ids, `<ostmesh.…>`, are not). */
export function isOsTicketMessageId(messageId: string): boolean {
  return /^<B[^-<>\s]{6}-[^-<>\s]{5}-[A-Za-z0-9+/]+-[^<>\s]*>$/.test(messageId);
}

/**
 * Mailer::send's hidden marker at the top of an html body, for a mail about a thread entry: a hidden div whose
 * class is `mid-` and the mail's Message-ID (no angle brackets), holding the reply separator when quoted
 * replies are stripped. A reply quoting it threads even when its client dropped In-Reply-To and References
 * (ThreadEntry::lookupByEmailHeaders reads it from the body); the stripped reply still ends inside the div.
 */
export function withMessageIdMarker(html: string, messageId: string, replyTag: string): string {
  // osTicket's sprintf, whitespace and all.
  return `<div style="display:none"\n                        class="mid-${bareMessageId(messageId)}">${replyTag}</div>${html}`;
}

/** Mailer::send's last line of every text body: `Ref-Mid: <Message-ID without brackets>`. */
export function withRefMidLine(text: string, messageId: string): string {
  return `${text}\nRef-Mid: ${bareMessageId(messageId)}\n`;
}

function bareMessageId(messageId: string): string {
  return messageId.replace(/^<|>$/g, "");
}
