/**
 * The attachment service's one door to authorization. Who is calling comes from the principal the auth
 * interceptor put into the context; what they may reach follows osTicket's ticket rules from
 * @ostmesh/kit's auth module: agents see files of tickets in their departments (or assigned or referred to
 * them), end users files of their own, collaborated or organization-shared tickets — and only on
 * messages and responses, never internal notes. API keys and services are decided by scope (the
 * interceptor checked it already); the system sees everything. What may not be seen is NOT_FOUND, so
 * existence is not revealed. Nothing else in the service imports the auth module.
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { type EntityManager, sqlReader } from "@ostmesh/db";
import {
  assertAllowed,
  assertAuthorized,
  decideThreadEntryAccess,
  END_USER_ENTRY_TYPES,
  type EndUserOrgFacts,
  fileVisibility,
  idOf,
  kindOf,
  loadEndUserOrgFacts,
  loadTicketAccessFacts,
  mayLinkFile,
  principalOf,
  type SqlQuery,
  subjectOf,
  THREAD_ENTRY_HIDDEN,
  threadEntryType,
  authorizeTicket as ticketRules,
  type Uploader,
  uploaderOf,
} from "@ostmesh/kit/auth/index.ts";
import { type Principal, PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";

type Ctx = Pick<HandlerContext, "values">;

/** Which thread entries a caller's listings may include. */
export interface EntryFilter {
  entryTypes?: readonly string[];
  excludeEntryFlags?: number;
}

const EVERY_ENTRY: EntryFilter = {};
const END_USER_ENTRIES: EntryFilter = {
  entryTypes: END_USER_ENTRY_TYPES,
  excludeEntryFlags: THREAD_ENTRY_HIDDEN,
};

/** Whether the rules limit this caller to certain tickets (agents and end users) or not. */
function isTicketBound(principal: Principal): boolean {
  const kind = kindOf(principal);
  return kind === PrincipalKind.AGENT || kind === PrincipalKind.END_USER;
}

function requireCaller(principal: Principal): void {
  const kind = kindOf(principal);
  if (kind === PrincipalKind.ANONYMOUS || kind === PrincipalKind.UNSPECIFIED)
    throw new ConnectError("authentication required", Code.Unauthenticated);
}

async function endUserFacts(principal: Principal, q: SqlQuery): Promise<EndUserOrgFacts | undefined> {
  return kindOf(principal) === PrincipalKind.END_USER ? loadEndUserOrgFacts(q, idOf(principal)) : undefined;
}

/**
 * Every handler's first step: the auth interceptor must have run (a process wired without it fails closed
 * with INTERNAL rather than serving files to anyone), and the caller must be someone.
 */
export function assertCaller(ctx: Ctx): void {
  assertAuthorized(ctx);
  requireCaller(principalOf(ctx));
}

/** The caller as idempotency records and logs name it: `agent:1`, `user:5`, `service:ticket`, ... */
export function callerSubject(ctx: Ctx): string {
  return subjectOf(principalOf(ctx));
}

/**
 * May the caller read this file (metadata, bytes, a download link)? Agents and end users only through an
 * attachment of it (`ost_attachment` type H) on an entry of a ticket they may see — one is enough, since
 * identical bytes are stored once and may be attached to many tickets.
 */
export async function assertCanReadFile(ctx: Ctx, em: EntityManager, fileId: number): Promise<void> {
  const principal = principalOf(ctx);
  requireCaller(principal);
  if (!isTicketBound(principal)) return;
  if ((await fileVisibility(sqlReader(em), principal, fileId)) !== "visible")
    throw new ConnectError("file not found", Code.NotFound);
}

/**
 * May the caller link this file to an entry (AttachFiles)? The auth module's mayLinkFile: agents a file they
 * may read (see assertCanReadFile) or their own fresh upload — one attached to nothing yet, in osTicket's
 * orphan window until PurgeOrphanFiles, that they uploaded themselves; API keys any attached file (by scope)
 * or their own fresh upload; services anything. A file attached only elsewhere, someone else's fresh upload,
 * or an unattached file osTicket's PHP stored is NOT_FOUND, exactly like a missing one: otherwise a guessed id
 * would hand any file to whoever links it to an entry of their own. `field` names the request field.
 */
export async function assertCanLinkFile(
  ctx: Ctx,
  em: EntityManager,
  fileId: number,
  field: string,
): Promise<void> {
  const principal = principalOf(ctx);
  requireCaller(principal);
  if (!(await mayLinkFile(sqlReader(em), principal, fileId)))
    throw new ConnectError(`${field}: file ${fileId} not found`, Code.NotFound);
}

/** Who is uploading, as ostmesh_upload records it (kind and id, and the credential for audits). */
export function uploaderOfCall(ctx: Ctx): Uploader & { credentialId: string } {
  const principal = principalOf(ctx);
  return { ...uploaderOf(principal), credentialId: principal.credentialId };
}

/** May the caller list a ticket's attachments? Returns which of its entries the listing may show. */
export async function assertCanReadTicket(
  ctx: Ctx,
  em: EntityManager,
  ticketId: number,
): Promise<EntryFilter> {
  const principal = principalOf(ctx);
  requireCaller(principal);
  await ticketRules(ctx, sqlReader(em), ticketId);
  return kindOf(principal) === PrincipalKind.END_USER ? END_USER_ENTRIES : EVERY_ENTRY;
}

interface EntryFacts {
  type: string;
  flags: number;
  /** The ticket whose thread holds the entry, 0 when it is another object's thread (a task, ...). */
  ticketId: number;
}

async function loadEntry(q: SqlQuery, entryId: number): Promise<EntryFacts | undefined> {
  const [row] = await q(
    "SELECT e.`type`, e.`flags`, th.`object_type`, th.`object_id` FROM `ost_thread_entry` e" +
      " LEFT JOIN `ost_thread` th ON th.`id` = e.`thread_id` WHERE e.`id` = ?",
    [entryId],
  );
  if (!row) return undefined;
  return {
    type: String(row.type ?? ""),
    flags: Number(row.flags ?? 0),
    ticketId: String(row.object_type ?? "") === "T" ? Number(row.object_id ?? 0) : 0,
  };
}

/**
 * May the caller see this thread entry (its attachments; or, with `forWriting`, attach files to it)?
 * End users: messages and responses of their tickets only. Entries of other objects' threads (tasks)
 * are reachable by API keys, services and the system only.
 */
export async function assertCanReachEntry(
  ctx: Ctx,
  em: EntityManager,
  entryId: number,
): Promise<EntryFilter> {
  const principal = principalOf(ctx);
  requireCaller(principal);
  const q = sqlReader(em);
  const entry = await loadEntry(q, entryId);
  const notFound = () => new ConnectError(`thread entry ${entryId} not found`, Code.NotFound);
  if (!entry) throw notFound();
  if (!isTicketBound(principal)) return EVERY_ENTRY;
  if (entry.ticketId === 0) throw notFound();
  const facts = await loadTicketAccessFacts(q, entry.ticketId);
  const decision = decideThreadEntryAccess(
    principal,
    facts,
    { type: threadEntryType(entry.type), flags: entry.flags },
    { endUser: await endUserFacts(principal, q) },
  );
  if (!decision.allowed && decision.code === Code.NotFound) throw notFound();
  assertAllowed(decision);
  return kindOf(principal) === PrincipalKind.END_USER ? END_USER_ENTRIES : EVERY_ENTRY;
}
