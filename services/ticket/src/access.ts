/**
 * The ticket service's one door to authorization: who is calling (the principal the auth interceptor put
 * into the context), what the domain calls them (its Actor), and osTicket's ticket access rules from
 * @ostmesh/kit's auth module (agent department access, end-user ownership and organization sharing,
 * NOT_FOUND rather than PERMISSION_DENIED when a ticket must not be revealed, notes hidden from end users).
 * Nothing else in the service imports the auth module, so a change of its API lands here only.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { EntityManager } from "@ostmesh/db";
import { type BatchRead, bothReads, noRead, runBatchRead, sqlReader } from "@ostmesh/db";
import {
  assertAllowed,
  type ClientVisibleFields,
  decideTicketAccess,
  type EndUserOrgFacts,
  endUserOrgFactsRead,
  loadClientVisibleFields,
  loadEndUserOrgFacts,
  loadMergedChildren,
  mayLinkFile,
  principalOf,
  redactThreadForEndUser,
  redactTicketForEndUser,
  settleTicketFacts,
  systemPrincipal,
  type TicketAccessFacts,
  type TicketPermission,
  threadEntryType,
  ticketAndEndUserFactsRead,
  ticketReferralsRead,
  ticketThreadSql,
  ticketVisibilityFilter,
} from "@ostmesh/kit/auth/index.ts";
import {
  ActorSchema,
  type Principal,
  PrincipalKind,
  type Actor as ProtoActor,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import type { ThreadEntry, Ticket } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import type { Actor } from "./domain/index.ts";

export type { Principal };
// threadEntryType: ost_thread_entry.type letter → ThreadEntryType, which mapping.ts uses as entryTypeOf.
export { systemPrincipal, threadEntryType };

/** The caller of the RPC being handled (ANONYMOUS when no auth interceptor ran). */
export function callerOf(ctx: Pick<HandlerContext, "values">): Principal {
  return principalOf(ctx);
}

export function kindOf(principal: Principal): PrincipalKind {
  return principal.actor?.kind ?? PrincipalKind.UNSPECIFIED;
}

export function idOf(principal: Principal): number {
  return principal.actor?.id ?? 0;
}

export const isAgent = (p: Principal): boolean => kindOf(p) === PrincipalKind.AGENT;
export const isEndUser = (p: Principal): boolean => kindOf(p) === PrincipalKind.END_USER;

/** The actor recorded on events (identity only). */
export function eventActor(principal: Principal): ProtoActor {
  return (
    principal.actor ??
    create(ActorSchema, { kind: PrincipalKind.SYSTEM, displayName: "SYSTEM", username: "SYSTEM" })
  );
}

/**
 * The domain's actor for a principal: agents act as themselves (`$thisstaff`), end users as themselves
 * (`$thisclient`), everyone else (API keys, services, the system) as osTicket's SYSTEM — unless a key or
 * service names the agent it acts for (PostReply / PostNote `staff_id`).
 */
export function domainActor(principal: Principal, actsAsStaffId = 0): Actor {
  switch (kindOf(principal)) {
    case PrincipalKind.AGENT:
      return { kind: "staff", staffId: idOf(principal) };
    case PrincipalKind.END_USER:
      return { kind: "user", userId: idOf(principal) };
    default:
      return actsAsStaffId ? { kind: "staff", staffId: actsAsStaffId } : { kind: "system" };
  }
}

/** Scope and idempotency-record owner: `agent:1`, `user:5`, `apikey:3`, `service:gateway`, `system`. */
export function subjectOf(principal: Principal): string {
  const actor = principal.actor;
  switch (actor?.kind) {
    case PrincipalKind.AGENT:
      return `agent:${actor.id}`;
    case PrincipalKind.END_USER:
      return `user:${actor.id}`;
    case PrincipalKind.API_KEY:
      return `apikey:${actor.apiKeyKind}:${actor.id}`;
    case PrincipalKind.SERVICE:
      return `service:${actor.username}`;
    case PrincipalKind.SYSTEM:
      return "system";
    default:
      return "anonymous";
  }
}

/**
 * API keys, services and the system see every ticket their scope allows (osTicket's API has no notion of
 * departments); agents and end users are checked ticket by ticket.
 */
export function seesEveryTicket(principal: Principal): boolean {
  const kind = kindOf(principal);
  return kind === PrincipalKind.API_KEY || kind === PrincipalKind.SERVICE || kind === PrincipalKind.SYSTEM;
}

/** The facts the service keeps after a successful check (thread id, for instance). */
export interface TicketAccess {
  readonly ticketId: number;
  readonly threadId: number;
  readonly deptId: number;
}

/**
 * Checks that the caller may act on a ticket, with the permission the action needs (agents: the role
 * permission in the ticket's department). Throws NOT_FOUND for unknown tickets and for tickets the caller
 * must not know about, PERMISSION_DENIED for a visible ticket without the permission.
 */
export async function authorizeTicket(
  ctx: Pick<HandlerContext, "values">,
  em: EntityManager,
  ticketId: number,
  permission?: string,
): Promise<TicketAccess> {
  const [access] = await authorizeTicketWith(ctx, em, ticketId, permission, noRead(undefined));
  return access;
}

/**
 * authorizeTicket, with `alongside` read in the same round trip (e.g. the ticket as it is before a change):
 * its value is returned only when the caller may act on the ticket.
 */
export async function authorizeTicketWith<T>(
  ctx: Pick<HandlerContext, "values">,
  em: EntityManager,
  ticketId: number,
  permission: TicketPermission | undefined,
  alongside: BatchRead<T>,
): Promise<[TicketAccess, T]> {
  const principal = callerOf(ctx);
  if (seesEveryTicket(principal)) {
    // Decided by scope, which the interceptor checked: only the ticket's existence is left to check.
    const [[row], value] = await runBatchRead(
      em,
      bothReads(
        {
          statements: [
            {
              sql: `SELECT t.ticket_id, t.dept_id, ${ticketThreadSql("t")} AS thread_id FROM ost_ticket t WHERE t.ticket_id = ?`,
              params: [ticketId],
            },
          ],
          read: ([rows = []]) => rows,
        },
        alongside,
      ),
    );
    if (!row) throw new ConnectError("ticket not found", Code.NotFound);
    return [{ ticketId, threadId: Number(row.thread_id ?? 0), deptId: Number(row.dept_id ?? 0) }, value];
  }
  const [pending, value] = await runBatchRead(
    em,
    bothReads(ticketAndEndUserFactsRead(ticketId, isEndUser(principal) ? idOf(principal) : 0), alongside),
  );
  const [facts, endUser] = await settleTicketFacts(sqlReader(em), pending);
  assertAllowed(decideTicketAccess(principal, facts, { permission, endUser }));
  if (!facts) throw new ConnectError("ticket not found", Code.NotFound);
  return [{ ticketId: facts.ticketId, threadId: facts.threadId, deptId: facts.deptId }, value];
}

/** What authorizeLoadedTicket needs besides the ticket: its thread's referrals, an end user's organization. */
export interface LoadedTicketAccess {
  readonly referrals: TicketAccessFacts["referrals"];
  readonly endUser: EndUserOrgFacts | undefined;
}

/**
 * The reads authorizeLoadedTicket needs, for the round trip that reads the ticket (by its id, so they need
 * not wait for it); none for callers that see every ticket.
 */
export function loadedTicketAccessRead(
  ctx: Pick<HandlerContext, "values">,
  ticketId: number,
): BatchRead<LoadedTicketAccess | undefined> {
  const principal = callerOf(ctx);
  if (seesEveryTicket(principal)) return noRead(undefined);
  const referrals = ticketReferralsRead(ticketId);
  const endUser = isEndUser(principal) ? endUserOrgFactsRead(idOf(principal)) : noRead(undefined);
  const both = bothReads(referrals, endUser);
  return {
    statements: both.statements,
    read: (results) => {
      const [found, org] = both.read(results);
      return { referrals: found, endUser: org };
    },
  };
}

/**
 * The same check for a ticket already read in full (GetTicket): the facts come from the ticket itself and
 * from `access` (loadedTicketAccessRead, read with it: its thread's referrals whatever the ticket's state,
 * Ticket::checkStaffPerm's Thread::isReferred).
 */
export async function authorizeLoadedTicket(
  ctx: Pick<HandlerContext, "values">,
  em: EntityManager,
  ticket: Ticket,
  access: LoadedTicketAccess | undefined,
  permission?: string,
): Promise<void> {
  const principal = callerOf(ctx);
  if (seesEveryTicket(principal)) return;
  if (!access) throw new Error("authorizeLoadedTicket: the caller's access reads were not made");
  const q = sqlReader(em);
  const facts: TicketAccessFacts = {
    ticketId: ticket.id,
    threadId: ticket.threadId,
    deptId: ticket.department?.id ?? 0,
    staffId: ticket.assigneeStaff?.id ?? 0,
    teamId: ticket.assigneeTeam?.id ?? 0,
    userId: ticket.requester?.id ?? 0,
    ownerOrgId: ticket.requester?.orgId ?? 0,
    isOpen: ticket.status?.state === TicketState.OPEN,
    collaboratorUserIds: ticket.collaborators.map((c) => c.user?.id ?? 0),
    referrals: access.referrals,
    mergedChildren: [],
  };
  const endUser = access.endUser;
  let decision = decideTicketAccess(principal, facts, { permission, endUser });
  // A merge parent's children only ever add access (end users only): read them when it is not yet allowed.
  if (!decision.allowed && endUser) {
    facts.mergedChildren = await loadMergedChildren(q, ticket.id);
    decision = decideTicketAccess(principal, facts, { permission, endUser });
  }
  assertAllowed(decision);
}

/**
 * A WHERE condition on `ost_ticket` (alias `t`) limiting list and search results to the tickets the caller
 * may see; `{ sql: "1" }` for callers that see all of them.
 */
export async function visibleTickets(
  ctx: Pick<HandlerContext, "values">,
  em: EntityManager,
): Promise<{ sql: string; params: unknown[] }> {
  const principal = callerOf(ctx);
  let endUser: EndUserOrgFacts | undefined;
  if (isEndUser(principal)) endUser = await loadEndUserOrgFacts(sqlReader(em), idOf(principal));
  return ticketVisibilityFilter(principal, endUser, "t");
}

/**
 * May the caller link these stored files (`attachments[].file_id`) to a new entry? The auth module's
 * mayLinkFile, the rule AttachFiles applies too (services/attachment/README.md): agents and end users files
 * attached to at least one entry of a ticket they may see (end users: messages and responses, never internal
 * notes), API keys files attached anywhere (by scope); and each of them their own fresh uploads, attached
 * nowhere yet (osTicket's orphan window) — never another caller's fresh upload, nor an unattached file
 * osTicket's PHP stored. Services and the system link any file. Anything else is NOT_FOUND naming the field,
 * as if the file did not exist.
 *
 * Why here and not in the attachment service: the ticket service writes the ost_attachment rows itself,
 * inside the entry's transaction (see files.ts), and checks the files' existence beforehand with its own
 * service credential, which may see every file. So the caller's own access is checked here, against the
 * caller's principal, in the same transaction (one snapshot with the link) and after the ticket's own check.
 */
export async function assertMayLinkFiles(
  ctx: Pick<HandlerContext, "values">,
  em: EntityManager,
  files: readonly { readonly fileId: number; readonly field: string }[],
): Promise<void> {
  const principal = callerOf(ctx);
  if (files.length === 0) return;
  const q = sqlReader(em);
  const endUser = isEndUser(principal) ? await loadEndUserOrgFacts(q, idOf(principal)) : undefined;
  for (const { fileId, field } of files) {
    if (!(await mayLinkFile(q, principal, fileId, endUser)))
      throw new ConnectError(`${field}: file ${fileId} not found`, Code.NotFound);
  }
}

/** What end users may see of tickets and threads; a no-op for every other caller. */
export class EndUserView {
  readonly #fields: ClientVisibleFields | undefined;
  readonly active: boolean;

  private constructor(fields: ClientVisibleFields | undefined) {
    this.#fields = fields;
    this.active = fields !== undefined;
  }

  static async for(principal: Principal, em: EntityManager): Promise<EndUserView> {
    return new EndUserView(isEndUser(principal) ? await loadClientVisibleFields(sqlReader(em)) : undefined);
  }

  ticket(ticket: Ticket): Ticket {
    return this.#fields ? redactTicketForEndUser(ticket, this.#fields) : ticket;
  }

  entries(entries: ThreadEntry[]): ThreadEntry[] {
    return this.#fields ? redactThreadForEndUser(entries) : entries;
  }
}

/** PERMISSION_DENIED unless an agent holds `permission` in the department (other callers pass). */
export async function requireDepartmentPermission(
  ctx: Pick<HandlerContext, "values">,
  em: EntityManager,
  ticketId: number,
  permission: string,
): Promise<void> {
  if (!isAgent(callerOf(ctx))) return;
  await authorizeTicket(ctx, em, ticketId, permission);
}
