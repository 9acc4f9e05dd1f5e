/**
 * Reference data for clients building forms. The lists are small admin-edited tables read from the
 * reference snapshot; paging still follows the contract (page_size, opaque keyset page_token).
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import {
  type GetHelpTopicFormRequest,
  type GetHelpTopicFormResponse,
  GetHelpTopicFormResponseSchema,
  type ListDepartmentsRequest,
  type ListDepartmentsResponse,
  ListDepartmentsResponseSchema,
  type ListHelpTopicsRequest,
  type ListHelpTopicsResponse,
  ListHelpTopicsResponseSchema,
  type ListPrioritiesRequest,
  type ListPrioritiesResponse,
  ListPrioritiesResponseSchema,
  type ListSlasRequest,
  type ListSlasResponse,
  ListSlasResponseSchema,
  type ListStatusesRequest,
  type ListStatusesResponse,
  ListStatusesResponseSchema,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { callerOf, kindOf } from "../access.ts";
import { notFound } from "../errors.ts";
import { type KeyValue, pageSize, queryHash } from "../paging.ts";
import { topicForms } from "../reference.ts";
import type { Runtime } from "../runtime.ts";

/** Callers that see only what osTicket's client portal shows. */
function isPortalCaller(ctx: HandlerContext): boolean {
  const kind = kindOf(callerOf(ctx));
  return (
    kind === PrincipalKind.END_USER || kind === PrincipalKind.ANONYMOUS || kind === PrincipalKind.UNSPECIFIED
  );
}

function agentsOnly(field: string): ConnectError {
  return new ConnectError(`${field} is for agents`, Code.PermissionDenied);
}

function compareKeys(a: readonly KeyValue[], b: readonly KeyValue[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null) return -1;
    if (y === null) return 1;
    if (typeof x === "number" && typeof y === "number") return x - y;
    const sx = String(x);
    const sy = String(y);
    return sx < sy ? -1 : sx > sy ? 1 : 0;
  }
  return 0;
}

/**
 * One page of an in-memory list sorted by (keys, id): the token holds the last item's keys and id, so a
 * page is found again even when items before it were added or removed meanwhile.
 */
function pageOf<T>(
  rt: Runtime,
  rpc: string,
  bound: unknown,
  items: readonly T[],
  keysOf: (item: T) => KeyValue[],
  idOf: (item: T) => number,
  req: { pageSize: number; pageToken: string },
  keyCount: number,
): { items: T[]; nextPageToken: string } {
  const size = pageSize(req.pageSize);
  const hash = queryHash(bound);
  const cursor = rt.pageTokens.decode(rpc, hash, req.pageToken, keyCount);
  const order = (a: T, b: T) => compareKeys(keysOf(a), keysOf(b)) || idOf(a) - idOf(b);
  const sorted = [...items].sort(order);
  const start = cursor
    ? sorted.findIndex((item) => (compareKeys(keysOf(item), cursor.keys) || idOf(item) - cursor.id) > 0)
    : 0;
  const rest = start === -1 ? [] : sorted.slice(start);
  const page = rest.slice(0, size);
  const last = page[page.length - 1];
  return {
    items: page,
    nextPageToken:
      rest.length > size && last
        ? rt.pageTokens.encode(rpc, hash, { keys: keysOf(last), id: idOf(last) })
        : "",
  };
}

export async function handleListDepartments(
  rt: Runtime,
  req: ListDepartmentsRequest,
  ctx: HandlerContext,
): Promise<ListDepartmentsResponse> {
  const portal = isPortalCaller(ctx);
  if (req.includeInactive && portal) throw agentsOnly("include_inactive");
  const ref = await rt.refs.get(rt.em());
  const all = [...ref.departments.values()].filter(
    (d) => (req.includeInactive || (d.isActive && !d.isArchived)) && (!portal || d.isPublic),
  );
  const page = pageOf(
    rt,
    "ListDepartments",
    { inactive: req.includeInactive, portal },
    all,
    (d) => [d.fullName.toLowerCase()],
    (d) => d.id,
    req,
    1,
  );
  return create(ListDepartmentsResponseSchema, {
    departments: page.items,
    nextPageToken: page.nextPageToken,
  });
}

export async function handleListHelpTopics(
  rt: Runtime,
  req: ListHelpTopicsRequest,
  ctx: HandlerContext,
): Promise<ListHelpTopicsResponse> {
  const portal = isPortalCaller(ctx);
  if (req.includeInactive && portal) throw agentsOnly("include_inactive");
  const ref = await rt.refs.get(rt.em());
  const publicOnly = req.publicOnly || portal;
  const all = [...ref.topics.values()].filter(
    (t) => (req.includeInactive || (t.isActive && !t.isArchived)) && (!publicOnly || t.isPublic),
  );
  // help_topic_sort_mode: manual (the admin's order) or alphabetical by full name.
  const manual = ref.topicSortMode === "m";
  const page = pageOf(
    rt,
    "ListHelpTopics",
    { inactive: req.includeInactive, publicOnly, manual },
    all,
    (t) => (manual ? [t.sort, t.fullName.toLowerCase()] : [t.fullName.toLowerCase()]),
    (t) => t.id,
    req,
    manual ? 2 : 1,
  );
  return create(ListHelpTopicsResponseSchema, { helpTopics: page.items, nextPageToken: page.nextPageToken });
}

export async function handleListPriorities(
  rt: Runtime,
  req: ListPrioritiesRequest,
  ctx: HandlerContext,
): Promise<ListPrioritiesResponse> {
  const publicOnly = req.publicOnly || isPortalCaller(ctx);
  const ref = await rt.refs.get(rt.em());
  const all = [...ref.priorities.values()].filter((p) => !publicOnly || p.isPublic);
  const page = pageOf(
    rt,
    "ListPriorities",
    { publicOnly },
    all,
    (p) => [p.urgency],
    (p) => p.id,
    req,
    1,
  );
  return create(ListPrioritiesResponseSchema, { priorities: page.items, nextPageToken: page.nextPageToken });
}

export async function handleListStatuses(
  rt: Runtime,
  req: ListStatusesRequest,
  _ctx: HandlerContext,
): Promise<ListStatusesResponse> {
  const ref = await rt.refs.get(rt.em());
  const states = new Set(req.states);
  const all = [...ref.statuses.values()].filter(
    (s) => (req.includeDisabled || s.isEnabled) && (states.size === 0 || states.has(s.state)),
  );
  const page = pageOf(
    rt,
    "ListStatuses",
    { states: [...states].sort(), disabled: req.includeDisabled },
    all,
    (s) => [s.sort],
    (s) => s.id,
    req,
    1,
  );
  return create(ListStatusesResponseSchema, { statuses: page.items, nextPageToken: page.nextPageToken });
}

export async function handleListSlas(
  rt: Runtime,
  req: ListSlasRequest,
  _ctx: HandlerContext,
): Promise<ListSlasResponse> {
  const ref = await rt.refs.get(rt.em());
  const all = [...ref.slas.values()].filter((s) => req.includeInactive || s.isActive);
  const page = pageOf(
    rt,
    "ListSlas",
    { inactive: req.includeInactive },
    all,
    (s) => [s.name.toLowerCase()],
    (s) => s.id,
    req,
    1,
  );
  return create(ListSlasResponseSchema, { slas: page.items, nextPageToken: page.nextPageToken });
}

export async function handleGetHelpTopicForm(
  rt: Runtime,
  req: GetHelpTopicFormRequest,
  ctx: HandlerContext,
): Promise<GetHelpTopicFormResponse> {
  const portal = isPortalCaller(ctx);
  const em = rt.em();
  const ref = await rt.refs.get(em);
  const topic = req.topicId ? ref.topics.get(req.topicId) : undefined;
  // Unknown topics, and for the portal also private, inactive or archived ones, do not exist.
  if (req.topicId && (!topic || (portal && (!topic.isPublic || !topic.isActive || topic.isArchived))))
    throw notFound("help topic not found");
  const forms = await topicForms(em, ref, req.topicId, { endUserView: portal });
  return create(GetHelpTopicFormResponseSchema, { helpTopic: topic, forms });
}
