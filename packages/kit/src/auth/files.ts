import {
  ApiKeyKind,
  type Principal,
  PrincipalKind,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { idOf, kindOf } from "./principal.ts";
import type { SqlQuery } from "./sql.ts";
import {
  END_USER_ENTRY_TYPES,
  type EndUserOrgFacts,
  loadEndUserOrgFacts,
  THREAD_ENTRY_HIDDEN,
  ticketThreadSql,
  ticketVisibilityFilter,
} from "./tickets.ts";

/** What a caller may know of a stored file: see fileVisibility. */
export type FileVisibility = "visible" | "uploaded" | "unattached" | "hidden";

/** How ostmesh_upload names an uploader: a kind (`agent`, `user`, `apikey:ostmesh`, ...) and a row id. */
export interface Uploader {
  readonly kind: string;
  readonly id: number;
}

/**
 * The uploader a principal is recorded as. Two principals are the same uploader exactly when they are the
 * same party: the same agent, end user or key (an API key's table is part of its kind), whatever token they
 * came with. Services and the system are recorded too, but never need it (they may link any file).
 */
export function uploaderOf(principal: Principal): Uploader {
  const actor = principal.actor;
  switch (actor?.kind) {
    case PrincipalKind.AGENT:
      return { kind: "agent", id: actor.id };
    case PrincipalKind.END_USER:
      return { kind: "user", id: actor.id };
    case PrincipalKind.API_KEY:
      return {
        kind: actor.apiKeyKind === ApiKeyKind.OSTICKET ? "apikey:osticket" : "apikey:ostmesh",
        id: actor.id,
      };
    case PrincipalKind.SERVICE:
      return { kind: "service", id: 0 };
    case PrincipalKind.SYSTEM:
      return { kind: "system", id: 0 };
    default:
      return { kind: "anonymous", id: 0 };
  }
}

/**
 * What a caller may know of a stored file (ost_file), for the services that read files or link them to
 * thread entries:
 *  - `visible`: attached (ost_attachment type H) to at least one entry of a ticket the caller may see —
 *    one is enough, since identical bytes are stored once and may be attached to many tickets; end users
 *    count messages and responses only, never internal notes or hidden entries;
 *  - `uploaded`: attached to nothing at all (a fresh upload in osTicket's orphan window) and uploaded by
 *    this caller (an ostmesh_upload row of theirs, for the file's current key): the caller may link it but
 *    not read it;
 *  - `unattached`: attached to nothing, and not uploaded by this caller — another caller's fresh upload, or
 *    one osTicket's PHP stored (ostmesh has no uploader for it); only services may link it, for everyone
 *    else it is NOT_FOUND like a file they may not see (a guessed id of someone else's upload must not
 *    become theirs by linking it first);
 *  - `hidden`: everything else — attached only to tickets the caller may not see, or to other objects
 *    (FAQs, canned responses, tasks); callers answer NOT_FOUND, as for a file that does not exist.
 * A file id that does not exist comes out `unattached`: whether it exists is the caller's own check.
 *
 * Meant for agents, end users and API keys (whose ticket filter lets every ticket through); services and
 * the system are decided by scope (see mayLinkFile). `endUser` is loaded when an end user's facts are not
 * given.
 */
export async function fileVisibility(
  q: SqlQuery,
  principal: Principal,
  fileId: number,
  endUser?: EndUserOrgFacts,
): Promise<FileVisibility> {
  const isEndUser = kindOf(principal) === PrincipalKind.END_USER;
  const orgFacts = isEndUser ? (endUser ?? (await loadEndUserOrgFacts(q, idOf(principal)))) : undefined;
  // The tickets the caller may open one by one (their entries and files included), not only those listed.
  const tickets = ticketVisibilityFilter(principal, orgFacts, "t", "view");
  const entries = isEndUser
    ? ` AND e.type IN (${END_USER_ENTRY_TYPES.map(() => "?").join(", ")}) AND (e.flags & ?) = 0`
    : "";
  const seen = await q(
    "SELECT 1 AS ok FROM ost_attachment a JOIN ost_thread_entry e ON e.id = a.object_id" +
      // The ticket's thread as Ticket::getThread finds it ('T', else a merged child's 'C'): the thread its
      // view renders, with the entries and the files that view links.
      " JOIN ost_thread th ON th.id = e.thread_id AND th.object_type IN ('T', 'C')" +
      ` JOIN ost_ticket t ON t.ticket_id = th.object_id AND th.id = ${ticketThreadSql("t")}` +
      ` WHERE a.file_id = ? AND a.type = 'H' AND ${tickets.sql}${entries} LIMIT 1`,
    [fileId, ...tickets.params, ...(isEndUser ? [...END_USER_ENTRY_TYPES, THREAD_ENTRY_HIDDEN] : [])],
  );
  if (seen.length > 0) return "visible";
  const attached = await q("SELECT 1 AS ok FROM ost_attachment WHERE file_id = ? LIMIT 1", [fileId]);
  if (attached.length > 0) return "hidden";
  const uploader = uploaderOf(principal);
  // The key binds the row to the file it was written for: osTicket's own cron deletes orphans without
  // knowing ostmesh_upload, and a later file may get the same id.
  const uploaded = await q(
    "SELECT 1 AS ok FROM ostmesh_upload u JOIN ost_file f ON f.id = u.file_id AND f.`key` = u.file_key" +
      " WHERE u.file_id = ? AND u.principal_kind = ? AND u.principal_id = ? LIMIT 1",
    [fileId, uploader.kind, uploader.id],
  );
  return uploaded.length > 0 ? "uploaded" : "unattached";
}

/**
 * May this caller link this stored file to a thread entry (AttachFiles, attachments[].file_id)? The one rule
 * both services apply:
 *  - agents and end users: a file `visible` to them, or their own fresh upload (`uploaded`);
 *  - API keys: any file attached somewhere (by scope, as before), or their own fresh upload — not another
 *    caller's fresh upload, nor an unattached file osTicket's PHP stored;
 *  - services and the system: any file (they link on behalf of someone, e.g. the gateway's legacy API
 *    storing and linking a request's files in one call, and check that someone's access themselves);
 *  - anyone else: nothing.
 * A refusal must look exactly like a missing file (NOT_FOUND, same message).
 */
export async function mayLinkFile(
  q: SqlQuery,
  principal: Principal,
  fileId: number,
  endUser?: EndUserOrgFacts,
): Promise<boolean> {
  switch (kindOf(principal)) {
    case PrincipalKind.SERVICE:
    case PrincipalKind.SYSTEM:
      return true;
    case PrincipalKind.API_KEY:
      return (await fileVisibility(q, principal, fileId)) !== "unattached";
    case PrincipalKind.AGENT:
    case PrincipalKind.END_USER: {
      const visibility = await fileVisibility(q, principal, fileId, endUser);
      return visibility === "visible" || visibility === "uploaded";
    }
    default:
      return false;
  }
}
