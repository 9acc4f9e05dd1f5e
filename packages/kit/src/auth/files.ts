import { type Principal, PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { idOf, kindOf } from "./principal.ts";
import type { SqlQuery } from "./sql.ts";
import {
  END_USER_ENTRY_TYPES,
  type EndUserOrgFacts,
  loadEndUserOrgFacts,
  THREAD_ENTRY_HIDDEN,
  ticketVisibilityFilter,
} from "./tickets.ts";

/** What a caller may know of a stored file: see fileVisibility. */
export type FileVisibility = "visible" | "unattached" | "hidden";

/**
 * What a caller may know of a stored file (ost_file), for the services that read files or link them to
 * thread entries:
 *  - `visible`: attached (ost_attachment type H) to at least one entry of a ticket the caller may see —
 *    one is enough, since identical bytes are stored once and may be attached to many tickets; end users
 *    count messages and responses only, never internal notes or hidden entries;
 *  - `unattached`: attached to nothing at all (a fresh upload in osTicket's orphan window), which the
 *    caller may link but not read;
 *  - `hidden`: everything else — attached only to tickets the caller may not see, or to other objects
 *    (FAQs, canned responses, tasks); callers answer NOT_FOUND, as for a file that does not exist.
 * A file id that does not exist comes out `unattached`: whether it exists is the caller's own check.
 *
 * Meant for agents and end users; API keys, services and the system are decided by scope before this is
 * asked (their ticket filter lets every ticket through). `endUser` is loaded when an end user's facts are
 * not given.
 */
export async function fileVisibility(
  q: SqlQuery,
  principal: Principal,
  fileId: number,
  endUser?: EndUserOrgFacts,
): Promise<FileVisibility> {
  const isEndUser = kindOf(principal) === PrincipalKind.END_USER;
  const orgFacts = isEndUser ? (endUser ?? (await loadEndUserOrgFacts(q, idOf(principal)))) : undefined;
  const tickets = ticketVisibilityFilter(principal, orgFacts, "t");
  const entries = isEndUser
    ? ` AND e.type IN (${END_USER_ENTRY_TYPES.map(() => "?").join(", ")}) AND (e.flags & ?) = 0`
    : "";
  const seen = await q(
    "SELECT 1 AS ok FROM ost_attachment a JOIN ost_thread_entry e ON e.id = a.object_id" +
      " JOIN ost_thread th ON th.id = e.thread_id AND th.object_type = 'T'" +
      " JOIN ost_ticket t ON t.ticket_id = th.object_id" +
      ` WHERE a.file_id = ? AND a.type = 'H' AND ${tickets.sql}${entries} LIMIT 1`,
    [fileId, ...tickets.params, ...(isEndUser ? [...END_USER_ENTRY_TYPES, THREAD_ENTRY_HIDDEN] : [])],
  );
  if (seen.length > 0) return "visible";
  const attached = await q("SELECT 1 AS ok FROM ost_attachment WHERE file_id = ? LIMIT 1", [fileId]);
  return attached.length > 0 ? "hidden" : "unattached";
}
