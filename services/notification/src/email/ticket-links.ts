import { createHash } from "node:crypto";
import { type EntityManager, query } from "@ostmesh/db";
import { num, str } from "../osticket/reads.ts";

/** The links an end user's %{recipient.ticket_link} can be, as osTicket words them. */
export interface TicketLinks {
  /** TicketOwner's `ticket_link`: signed while the ticket has no collaborators, else the plain link. */
  readonly owner: string;
  /** TicketOwner::getTicketLink(): signed whenever it can be (Ticket::postReply's lone recipient). */
  readonly ownerSigned: string;
  /** Collaborator's `ticket_link`: the portal's ticket page (a collaborator's thread always has one). */
  readonly collaborator: string;
  /** Whether the ticket's thread has collaborators (active or not: Thread::getNumCollaborators). */
  readonly hasCollaborators: boolean;
}

/**
 * TicketOwner::getTicketLink / Collaborator::getVar('ticket_link'). The owner's link carries the auth token
 * (`view.php?auth=…`, Ticket::getAuthToken) when auth tokens are allowed (`allow_auth_tokens`) and osTicket's
 * SECRET_SALT is known, else it is `view.php?id=<ticket id>`; a collaborator's is `tickets.php?id=<ticket id>`.
 */
export async function loadTicketLinks(
  em: EntityManager,
  ticketId: number,
  baseUrl: string,
  allowAuthTokens: boolean,
  salt: string | undefined,
): Promise<TicketLinks> {
  const [row] = await query(
    em,
    "SELECT t.user_id, DATE_FORMAT(t.created, '%Y-%m-%d %H:%i:%s') AS created," +
      " (SELECT COUNT(*) FROM ost_thread_collaborator c JOIN ost_thread th ON th.id = c.thread_id" +
      " WHERE th.object_type IN ('T', 'C') AND th.object_id = t.ticket_id) AS collaborators" +
      " FROM ost_ticket t WHERE t.ticket_id = ?",
    [ticketId],
  );
  const base = baseUrl.replace(/\/+$/, "");
  const plain = `${base}/view.php?id=${ticketId}`;
  const signed =
    row && allowAuthTokens && salt
      ? `${base}/view.php?auth=${encodeURIComponent(authToken(num(row.user_id), ticketId, str(row.created), salt))}`
      : plain;
  const hasCollaborators = num(row?.collaborators) > 0;
  return {
    owner: hasCollaborators ? plain : signed,
    ownerSigned: signed,
    collaborator: `${base}/tickets.php?id=${ticketId}`,
    hasCollaborators,
  };
}

/**
 * Ticket::getAuthToken($user, 1) for the ticket's owner: `o1x`, osTicket's base32 of pack('VV', user id,
 * ticket id), then base64(md5(user id . created . ticket id . SECRET_SALT, raw)) from its 9th character.
 */
export function authToken(userId: number, ticketId: number, created: string, salt: string): string {
  const ids = Buffer.alloc(8);
  ids.writeUInt32LE(userId >>> 0, 0);
  ids.writeUInt32LE(ticketId >>> 0, 4);
  const hash = createHash("md5").update(`${userId}${created}${ticketId}${salt}`).digest("base64");
  return `o1x${base32(ids)}${hash.slice(8)}`;
}

/** osTicket's Base32::encode: five bits at a time over `a`–`z`, `0`–`5`, zero-padded, no `=` padding. */
function base32(bytes: Buffer): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz012345";
  let bits = "";
  for (const byte of bytes) bits += byte.toString(2).padStart(8, "0");
  if (bits.length % 5) bits = bits.padEnd(bits.length + 5 - (bits.length % 5), "0");
  let out = "";
  for (let i = 0; i < bits.length; i += 5) out += alphabet[Number.parseInt(bits.slice(i, i + 5), 2)];
  return out;
}
