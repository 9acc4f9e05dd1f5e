import { clone } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { kindOf } from "@ostmesh/kit/auth/principal.ts";
import type { SqlQuery } from "@ostmesh/kit/auth/sql.ts";
import {
  agentTicketView,
  assertAllowed,
  type ClientVisibleFields,
  decideTicketAccess,
  isEntryVisibleToEndUser,
  loadClientVisibleFields,
  loadTicketAccessFacts,
  loadTicketAndEndUserFacts,
  redactTicketForEndUser,
  type TicketAccessFacts,
} from "@ostmesh/kit/auth/tickets.ts";
import { type Principal, PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";

/**
 * What one caller of WatchEvents may see, decided with the identity rules every service shares
 * (@ostmesh/kit/auth/tickets.ts): agents see events of tickets they may see (department access, assignment,
 * referral) and non-ticket events only as administrators; end users must name a ticket they may see and
 * get its events without internal notes and with agent-only ticket fields removed; API keys and services
 * (scope events:read, checked by the interceptor) and SYSTEM see everything.
 */
export interface WatchScope {
  /** The event as this caller may receive it, or undefined when it is not for them. */
  filter(event: Event): Promise<Event | undefined>;
}

const FACTS_TTL_MS = 5_000;

export async function watchScope(principal: Principal, ticketId: number, q: SqlQuery): Promise<WatchScope> {
  const kind = kindOf(principal);
  switch (kind) {
    case PrincipalKind.SYSTEM:
    case PrincipalKind.SERVICE:
    case PrincipalKind.API_KEY:
      return { filter: async (event) => (ticketId && ticketOf(event) !== ticketId ? undefined : event) };
    case PrincipalKind.AGENT:
      return agentScope(principal, ticketId, q);
    case PrincipalKind.END_USER:
      return endUserScope(principal, ticketId, q);
    case PrincipalKind.ANONYMOUS:
    case PrincipalKind.UNSPECIFIED:
      throw new ConnectError("authentication required", Code.Unauthenticated);
    default:
      throw new ConnectError("permission denied", Code.PermissionDenied);
  }
}

function ticketOf(event: Event): number {
  if (event.ticket?.ticketId) return event.ticket.ticketId;
  return event.aggregate?.type === AggregateType.TICKET ? event.aggregate.id : 0;
}

async function agentScope(principal: Principal, ticketId: number, q: SqlQuery): Promise<WatchScope> {
  const agent = principal.agent;
  if (!agent) throw new ConnectError("permission denied", Code.PermissionDenied);
  if (ticketId) assertAllowed(decideTicketAccess(principal, await loadTicketAccessFacts(q, ticketId)));
  const staffId = principal.actor?.id ?? 0;
  const cache = new Map<number, { facts: TicketAccessFacts | undefined; at: number }>();
  const factsOf = async (id: number) => {
    const hit = cache.get(id);
    if (hit && Date.now() - hit.at < FACTS_TTL_MS) return hit.facts;
    const facts = await loadTicketAccessFacts(q, id);
    if (cache.size > 1_000) cache.clear();
    cache.set(id, { facts, at: Date.now() });
    return facts;
  };
  return {
    async filter(event) {
      const id = ticketOf(event);
      if (ticketId && id !== ticketId) return undefined;
      if (!id) return agent.isAdmin ? event : undefined;
      const context = event.ticket;
      // Fast path: the routing snapshot the event carries says the agent sees the ticket.
      if (context && context.state !== TicketState.UNSPECIFIED) {
        const fromEvent: TicketAccessFacts = {
          ticketId: id,
          threadId: 0,
          deptId: context.deptId,
          staffId: context.staffId,
          teamId: context.teamId,
          userId: context.userId,
          ownerOrgId: 0,
          isOpen: context.state === TicketState.OPEN,
          collaboratorUserIds: [],
          referrals: { staffIds: [], teamIds: [], deptIds: [] },
        };
        if (agentTicketView(staffId, agent, fromEvent).visible) return event;
      }
      // Otherwise the ticket as it is now (referrals, a snapshot without state, a deleted ticket's last facts).
      const facts = await factsOf(id);
      if (facts) return agentTicketView(staffId, agent, facts).visible ? event : undefined;
      return context &&
        agentTicketView(staffId, agent, {
          ticketId: id,
          threadId: 0,
          deptId: context.deptId,
          staffId: context.staffId,
          teamId: context.teamId,
          userId: context.userId,
          ownerOrgId: 0,
          isOpen: false,
          collaboratorUserIds: [],
          referrals: { staffIds: [], teamIds: [], deptIds: [] },
        }).visible
        ? event
        : undefined;
    },
  };
}

async function endUserScope(principal: Principal, ticketId: number, q: SqlQuery): Promise<WatchScope> {
  if (!ticketId)
    throw new ConnectError("end users must name the ticket_id of a ticket of theirs", Code.InvalidArgument);
  const [facts, endUser] = await loadTicketAndEndUserFacts(q, ticketId, principal.actor?.id ?? 0);
  assertAllowed(decideTicketAccess(principal, facts, { endUser }));
  let fields: ClientVisibleFields | undefined;
  return {
    async filter(event) {
      if (ticketOf(event) !== ticketId) return undefined;
      const p = event.payload;
      if (p.case === "threadEntryAdded" && !(p.value.entry && isEntryVisibleToEndUser(p.value.entry)))
        return undefined;
      const copy = clone(EventSchema, event);
      const c = copy.payload;
      if (c.case === "threadEntryAdded" && c.value.entry) {
        c.value.entry.ipAddress = "";
        c.value.entry.editor = undefined;
      }
      if (c.case === "ticketCreated" || c.case === "ticketUpdated") {
        fields ??= await loadClientVisibleFields(q);
        if (c.value.ticket) redactTicketForEndUser(c.value.ticket, fields);
        if (c.case === "ticketCreated" && c.value.message) c.value.message.ipAddress = "";
      }
      if (c.case === "ticketAssigned") {
        c.value.staff = undefined;
        c.value.previousStaff = undefined;
        c.value.team = undefined;
        c.value.previousTeam = undefined;
      }
      if (copy.ticket) {
        copy.ticket.staffId = 0;
        copy.ticket.teamId = 0;
      }
      return copy;
    },
  };
}
