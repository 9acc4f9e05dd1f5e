/** GetTicket, ListTickets, SearchTickets, ListThreadEntries. */

import { create, toJson } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { bothReads, runBatchRead } from "@ostmesh/db";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import type { SortDirection } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import {
  type GetTicketRequest,
  type GetTicketResponse,
  GetTicketResponseSchema,
  type ListThreadEntriesRequest,
  type ListThreadEntriesResponse,
  ListThreadEntriesResponseSchema,
  type ListTicketsRequest,
  type ListTicketsResponse,
  ListTicketsResponseSchema,
  type SearchTicketsRequest,
  type SearchTicketsResponse,
  SearchTicketsResponseSchema,
  type TicketFilter,
  TicketFilterSchema,
  type TicketSortField,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import {
  authorizeLoadedTicket,
  authorizeTicket,
  callerOf,
  EndUserView,
  kindOf,
  loadedTicketAccessRead,
  visibleTickets,
} from "../access.ts";
import { dnsMailDomainVerifier } from "../domain/index.ts";
import { emailHost } from "../domain/users/email.ts";
import { invalidArgument, notFound } from "../errors.ts";
import { pageSize, queryHash } from "../paging.ts";
import { countTickets, filterConditions, NOT_MERGED_CHILD, sortSpec, ticketPage } from "../read/list.ts";
import { isEmailish, searchRefusal, searchText } from "../read/search-text.ts";
import { listEntries } from "../read/thread.ts";
import { loadTickets, ticketIdByNumber, ticketsRead } from "../read/tickets.ts";
import type { ReferenceSnapshot } from "../reference.ts";
import type { Runtime } from "../runtime.ts";

export async function handleGetTicket(
  rt: Runtime,
  req: GetTicketRequest,
  ctx: HandlerContext,
): Promise<GetTicketResponse> {
  const em = rt.em();
  let ticketId: number;
  switch (req.lookup.case) {
    case "ticketId":
      if (!req.lookup.value) throw invalidArgument("ticket_id", "ticket_id must not be 0");
      ticketId = req.lookup.value;
      break;
    case "number": {
      const number = req.lookup.value.trim();
      if (!number) throw invalidArgument("number", "number must not be empty");
      const found = await ticketIdByNumber(em, number);
      if (found === undefined) throw notFound();
      ticketId = found;
      break;
    }
    default:
      throw invalidArgument("lookup", "ticket_id or number is required");
  }
  const ref = await rt.refs.get(em);
  // The access facts come from the ticket, read with its referrals (a ticket the caller may not see is
  // NOT_FOUND too).
  const [tickets, access] = await runBatchRead(
    em,
    bothReads(ticketsRead(ref, [ticketId], { full: true }), loadedTicketAccessRead(ctx, ticketId)),
  );
  const ticket = tickets.get(ticketId);
  if (!ticket) throw notFound();
  await authorizeLoadedTicket(ctx, em, ticket, access);
  const view = await EndUserView.for(callerOf(ctx), em);
  return create(GetTicketResponseSchema, { ticket: view.ticket(ticket) });
}

interface ListArgs {
  readonly rpc: "ListTickets" | "SearchTickets";
  readonly filter: TicketFilter | undefined;
  readonly sortField: TicketSortField;
  readonly sortDirection: SortDirection;
  readonly pageSize: number;
  readonly pageToken: string;
  readonly includeTotalSize: boolean;
  readonly search?: string;
  /** ListTickets: leave merged children out (osTicket's staff queues). */
  readonly queue?: boolean;
}

/**
 * Validator::is_valid_email of an e-mail-like search text: one address, not at localhost, its domain able to
 * receive mail when verify_email_addrs is on.
 */
async function validAddress(rt: Runtime, ref: ReferenceSnapshot, text: string): Promise<boolean> {
  if (!isEmailish(text)) return false;
  const host = emailHost(text);
  if (!host) return false;
  if (!ref.verifyEmailAddresses) return true;
  return (rt.deps.verifyMailDomain ?? dnsMailDomainVerifier())(host);
}

async function listPage(rt: Runtime, ctx: HandlerContext, args: ListArgs) {
  const size = pageSize(args.pageSize);
  const search = args.search !== undefined;
  const spec = sortSpec(args.sortField, args.sortDirection, search);
  if (!search && spec.parts.some((p) => p.expr.startsWith("m.")))
    throw invalidArgument("sort_field", "relevance is a sort of SearchTickets only");
  const em = rt.em();
  const ref = await rt.refs.get(em);
  const searchQuery =
    args.search === undefined
      ? undefined
      : searchText(args.search, await rt.fulltextRules(em), await validAddress(rt, ref, args.search));
  // The token is bound to everything that decides the result set and its order.
  const bound = queryHash({
    filter: args.filter ? toJson(TicketFilterSchema, args.filter) : null,
    sort: spec.field,
    desc: spec.desc,
    search: searchQuery ?? null,
    queue: args.queue ?? false,
  });
  const cursor = rt.pageTokens.decode(args.rpc, bound, args.pageToken, spec.parts.length);
  const visibility = await visibleTickets(ctx, em);
  const filters = filterConditions(args.filter, ref);
  if (args.queue && kindOf(callerOf(ctx)) !== PrincipalKind.END_USER) filters.push(NOT_MERGED_CHILD);
  const rows = await ticketPage(em, {
    visibility,
    filters,
    spec,
    cursor,
    limit: size + 1,
    search: searchQuery,
  });
  const page = rows.slice(0, size);
  const last = page[page.length - 1];
  const nextPageToken =
    rows.length > size && last ? rt.pageTokens.encode(args.rpc, bound, { keys: last.keys, id: last.id }) : "";
  const [loaded, total] = await Promise.all([
    loadTickets(
      em,
      ref,
      page.map((r) => r.id),
      { full: false },
    ),
    args.includeTotalSize
      ? countTickets(em, { visibility, filters, search: searchQuery })
      : Promise.resolve(0),
  ]);
  const view = await EndUserView.for(callerOf(ctx), em);
  const tickets = page.flatMap((r) => {
    const t = loaded.get(r.id);
    return t ? [view.ticket(t)] : [];
  });
  return { tickets, nextPageToken, totalSize: BigInt(total) };
}

export async function handleListTickets(
  rt: Runtime,
  req: ListTicketsRequest,
  ctx: HandlerContext,
): Promise<ListTicketsResponse> {
  const page = await listPage(rt, ctx, {
    rpc: "ListTickets",
    filter: req.filter,
    sortField: req.sortField,
    sortDirection: req.sortDirection,
    pageSize: req.pageSize,
    pageToken: req.pageToken,
    includeTotalSize: req.includeTotalSize,
    queue: !req.includeMergedChildren,
  });
  return create(ListTicketsResponseSchema, page);
}

export async function handleSearchTickets(
  rt: Runtime,
  req: SearchTicketsRequest,
  ctx: HandlerContext,
): Promise<SearchTicketsResponse> {
  if (!req.query.trim()) throw invalidArgument("query", "query is required");
  if (req.query.length > 1000) throw invalidArgument("query", "query must be at most 1000 characters");
  const refusal = searchRefusal(req.query);
  if (refusal) throw invalidArgument("query", refusal);
  const page = await listPage(rt, ctx, {
    rpc: "SearchTickets",
    filter: req.filter,
    sortField: req.sortField,
    sortDirection: req.sortDirection,
    pageSize: req.pageSize,
    pageToken: req.pageToken,
    includeTotalSize: req.includeTotalSize,
    search: req.query,
  });
  return create(SearchTicketsResponseSchema, page);
}

export async function handleListThreadEntries(
  rt: Runtime,
  req: ListThreadEntriesRequest,
  ctx: HandlerContext,
): Promise<ListThreadEntriesResponse> {
  if (!req.ticketId) throw invalidArgument("ticket_id", "ticket_id is required");
  const size = pageSize(req.pageSize);
  const principal = callerOf(ctx);
  const endUser = kindOf(principal) === PrincipalKind.END_USER;
  if (req.includeHidden && endUser) throw invalidArgument("include_hidden", "include_hidden is for agents");
  if (req.types.includes(ThreadEntryType.UNSPECIFIED))
    throw invalidArgument("types", "THREAD_ENTRY_TYPE_UNSPECIFIED is not an entry type");
  const bound = queryHash({ ticket: req.ticketId, types: [...req.types].sort(), hidden: req.includeHidden });
  const cursor = rt.pageTokens.decode("ListThreadEntries", bound, req.pageToken, 2);
  const em = rt.em();
  const access = await authorizeTicket(ctx, em, req.ticketId);
  // End users never see internal notes (nor entries hidden by edits).
  const types = endUser
    ? (req.types.length ? req.types : [ThreadEntryType.MESSAGE, ThreadEntryType.RESPONSE]).filter(
        (t) => t !== ThreadEntryType.NOTE,
      )
    : req.types;
  if (endUser && types.length === 0) return create(ListThreadEntriesResponseSchema, {});
  const entries = await listEntries(em, {
    threadId: access.threadId,
    types,
    includeHidden: req.includeHidden,
    after: cursor
      ? { group: Number(cursor.keys[0] ?? 0), created: String(cursor.keys[1] ?? ""), id: cursor.id }
      : undefined,
    limit: size + 1,
  });
  const page = entries.slice(0, size);
  const last = page[page.length - 1]?.position;
  const view = await EndUserView.for(principal, em);
  return create(ListThreadEntriesResponseSchema, {
    entries: view.entries(page.map((p) => p.entry)),
    nextPageToken:
      entries.length > size && last
        ? rt.pageTokens.encode("ListThreadEntries", bound, { keys: [last.group, last.created], id: last.id })
        : "",
  });
}
