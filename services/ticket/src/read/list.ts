/**
 * ListTickets and SearchTickets: the contract's filters as SQL over ost_ticket, a stable order (sort key,
 * then ticket id in the same direction) and keyset pagination — the page token carries the last row's sort
 * key and id, the next page starts right after it, so a page costs the same on page 1 and page 10,000 and
 * tickets created meanwhile neither shift nor repeat what is already listed. No OFFSET anywhere.
 *
 * Search (SearchTickets) is osTicket's staff search: one FULLTEXT lookup over ost__search
 * (MATCH (title, content) AGAINST (... IN NATURAL LANGUAGE or BOOLEAN MODE), see search-text.ts) whose T
 * rows are tickets, H rows thread entries mapped to their ticket, U rows end users mapped to their tickets;
 * a ticket's relevance is its best row's. A numeric text searches ticket numbers containing it instead, an
 * e-mail-like text the requester's addresses.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { EntityManager } from "@ostmesh/db";
import { query, queryBatch } from "@ostmesh/db";
import { BoundedMap } from "@ostmesh/kit/cache/bounded-map.ts";
import { SortDirection } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import {
  type TicketFilter,
  TicketSortField,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { sourceColumn } from "../mapping.ts";
import type { Cursor, KeyValue } from "../paging.ts";
import { type ReferenceSnapshot, statusIdsOfStates } from "../reference.ts";
import { marks, num, type Row } from "../rows.ts";
import { BudgetHints } from "./budget-hints.ts";
import type { SearchText } from "./search-text.ts";

/** One component of the order: an SQL expression, its direction and whether it can be NULL. */
interface SortPart {
  readonly expr: string;
  readonly desc: boolean;
  readonly nullable: boolean;
}

export interface SortSpec {
  readonly field: TicketSortField;
  readonly desc: boolean;
  readonly parts: readonly SortPart[];
}

/** Urgency of the ticket's priority answer (1 = most urgent), NULL without one. */
const PRIORITY_URGENCY =
  "(SELECT p.priority_urgency FROM ost_form_entry pfe JOIN ost_form_entry_values pv ON pv.entry_id = pfe.id" +
  " JOIN ost_form_field pf ON pf.id = pv.field_id AND (pf.type = 'priority' OR pf.name = 'priority')" +
  " JOIN ost_ticket_priority p ON p.priority_id = pv.value_id" +
  " WHERE pfe.object_type = 'T' AND pfe.object_id = t.ticket_id ORDER BY pfe.sort, pfe.id LIMIT 1)";
const DUE = "COALESCE(t.duedate, t.est_duedate)";

/** The order of a request (defaults: ListTickets last update, SearchTickets relevance; DESC). */
export function sortSpec(field: TicketSortField, direction: SortDirection, search: boolean): SortSpec {
  const chosen =
    field === TicketSortField.UNSPECIFIED
      ? search
        ? TicketSortField.RELEVANCE
        : TicketSortField.LAST_UPDATE_AT
      : field;
  const desc = direction !== SortDirection.ASC;
  const col = (expr: string, nullable: boolean): SortPart[] => [{ expr, desc, nullable }];
  // "Without one last" in both directions: a leading (x IS NULL) ASC groups them at the end.
  const nullsLast = (expr: string): SortPart[] => [
    { expr: `(${expr} IS NULL)`, desc: false, nullable: false },
    { expr, desc, nullable: true },
  ];
  let parts: SortPart[];
  switch (chosen) {
    case TicketSortField.CREATED_AT:
      parts = col("t.created", false);
      break;
    case TicketSortField.UPDATED_AT:
      parts = col("t.updated", false);
      break;
    case TicketSortField.DUE_DATE:
      parts = nullsLast(DUE);
      break;
    case TicketSortField.NUMBER:
      parts = col("t.number", true);
      break;
    case TicketSortField.PRIORITY:
      parts = nullsLast(PRIORITY_URGENCY);
      break;
    case TicketSortField.RELEVANCE:
      parts = col("m.relevance", false);
      break;
    default:
      parts = col("t.lastupdate", true);
  }
  return { field: chosen, desc, parts };
}

/** An SQL condition with its parameters. */
export interface Condition {
  readonly sql: string;
  readonly params: readonly unknown[];
}

const NOTHING: Condition = { sql: "0", params: [] };

/**
 * osTicket's staff queues leave merged children out (include/staff/templates/queue-tickets.tmpl.php: no
 * ticket_pid, or the LINKED flag); its searches and the client portal's ticket list keep them.
 */
export const NOT_MERGED_CHILD: Condition = {
  sql: "(t.ticket_pid IS NULL OR (t.flags & 8) <> 0)",
  params: [],
};

function inList(column: string, values: readonly (number | string)[]): Condition {
  return values.length === 0 ? NOTHING : { sql: `${column} IN (${marks(values.length)})`, params: values };
}

/** The filter's conditions on `t` (all must hold; values of one repeated filter are alternatives). */
export function filterConditions(filter: TicketFilter | undefined, ref: ReferenceSnapshot): Condition[] {
  if (!filter) return [];
  const out: Condition[] = [];
  if (filter.statusIds.length) out.push(inList("t.status_id", filter.statusIds));
  if (filter.states.length) out.push(inList("t.status_id", statusIdsOfStates(ref, filter.states)));
  if (filter.deptIds.length) out.push(inList("t.dept_id", filter.deptIds));
  if (filter.topicIds.length) out.push(inList("t.topic_id", filter.topicIds));
  if (filter.assigneeStaffId !== undefined)
    out.push({ sql: "t.staff_id = ?", params: [filter.assigneeStaffId] });
  if (filter.assigneeTeamId !== undefined)
    out.push({ sql: "t.team_id = ?", params: [filter.assigneeTeamId] });
  if (filter.priorityIds.length)
    out.push({
      sql:
        "EXISTS (SELECT 1 FROM ost_form_entry qfe JOIN ost_form_entry_values qv ON qv.entry_id = qfe.id" +
        " JOIN ost_form_field qf ON qf.id = qv.field_id AND (qf.type = 'priority' OR qf.name = 'priority')" +
        ` WHERE qfe.object_type = 'T' AND qfe.object_id = t.ticket_id AND qv.value_id IN (${marks(filter.priorityIds.length)}))`,
      params: filter.priorityIds,
    });
  if (filter.requesterUserId !== undefined)
    out.push({ sql: "t.user_id = ?", params: [filter.requesterUserId] });
  if (filter.orgId !== undefined)
    out.push({
      sql: "t.user_id IN (SELECT ou.id FROM ost_user ou WHERE ou.org_id = ?)",
      params: [filter.orgId],
    });
  // Bounds are instants; FROM_UNIXTIME gives them in the session (SYSTEM) zone the columns are written in.
  for (const [column, range] of [
    ["t.created", filter.created],
    ["t.updated", filter.updated],
  ] as const) {
    if (range?.start) out.push({ sql: `${column} >= FROM_UNIXTIME(?)`, params: [seconds(range.start)] });
    if (range?.end) out.push({ sql: `${column} < FROM_UNIXTIME(?)`, params: [seconds(range.end)] });
  }
  if (filter.overdue !== undefined) out.push({ sql: "t.isoverdue = ?", params: [filter.overdue ? 1 : 0] });
  if (filter.answered !== undefined) out.push({ sql: "t.isanswered = ?", params: [filter.answered ? 1 : 0] });
  if (filter.sources.length)
    out.push(
      inList(
        "t.source",
        filter.sources.map(sourceColumn).filter((s) => s !== ""),
      ),
    );
  return out;
}

function seconds(ts: Parameters<typeof timestampMs>[0]): number {
  return timestampMs(ts) / 1000;
}

/**
 * The keyset condition "comes after the cursor" for an order. MySQL sorts NULL lowest: first in ASC, last
 * in DESC, and so does this condition, so it agrees with ORDER BY on nullable keys (t.lastupdate, number).
 */
export function afterCursor(spec: SortSpec, cursor: Cursor): Condition {
  const params: unknown[] = [];
  const after = (part: SortPart, value: KeyValue): string => {
    if (value === null) {
      if (part.desc) return "0";
      return `${part.expr} IS NOT NULL`;
    }
    params.push(value);
    const cmp = `${part.expr} ${part.desc ? "<" : ">"} ?`;
    return part.desc && part.nullable ? `(${cmp} OR ${part.expr} IS NULL)` : cmp;
  };
  const equal = (part: SortPart, value: KeyValue): string => {
    if (value === null) return `${part.expr} IS NULL`;
    params.push(value);
    return `${part.expr} = ?`;
  };
  // after(k1) OR (k1 = v1 AND (after(k2) OR (k2 = v2 AND ... id after i)))
  const build = (i: number): string => {
    const part = spec.parts[i];
    if (!part) {
      params.push(cursor.id);
      return `t.ticket_id ${spec.desc ? "<" : ">"} ?`;
    }
    const value = cursor.keys[i] ?? null;
    const a = after(part, value);
    const e = equal(part, value);
    const rest = build(i + 1);
    return `(${a} OR (${e} AND ${rest}))`;
  };
  const sql = build(0);
  return { sql, params };
}

export function orderBy(spec: SortSpec): string {
  return [
    ...spec.parts.map((p) => `${p.expr} ${p.desc ? "DESC" : "ASC"}`),
    `t.ticket_id ${spec.desc ? "DESC" : "ASC"}`,
  ].join(", ");
}

export interface TicketPageQuery {
  readonly visibility: Condition;
  readonly filters: readonly Condition[];
  readonly spec: SortSpec;
  readonly cursor: Cursor | undefined;
  /** Rows to fetch (page size + 1, to know whether there is a next page). */
  readonly limit: number;
  /** SearchTickets: the boolean-mode query, phrase checks and the raw text (for an exact ticket number). */
  readonly search?: SearchText;
}

/** MATCH over an index row (alias s) in the search's mode. */
function against(search: SearchText): string {
  return `MATCH (s.title, s.content) AGAINST (? IN ${search.mode === "boolean" ? "BOOLEAN" : "NATURAL LANGUAGE"} MODE)`;
}

/** The conditions an index row (alias s) must meet besides MATCH: each phrase InnoDB is not asked for. */
function phraseChecks(search: SearchText): Condition {
  return {
    sql: search.phrases.map(() => " AND (s.title REGEXP ? OR s.content REGEXP ?)").join(""),
    params: search.phrases.flatMap((p) => [p, p]),
  };
}

/** The derived table of matching tickets with their relevance (alias m). */
function searchTable(search: SearchText): Condition {
  const matches = against(search);
  const branches: string[] = [];
  const params: unknown[] = [];
  if (search.match) {
    const phrases = phraseChecks(search);
    branches.push(
      "SELECT COALESCE(IF(s.object_type = 'T', s.object_id, NULL), th.object_id, tu.ticket_id) AS ticket_id," +
        ` ${matches} AS relevance FROM ost__search s` +
        " LEFT JOIN ost_thread_entry se ON s.object_type = 'H' AND se.id = s.object_id" +
        " LEFT JOIN ost_thread th ON th.id = se.thread_id AND th.object_type = 'T'" +
        " LEFT JOIN ost_ticket tu ON s.object_type = 'U' AND tu.user_id = s.object_id" +
        ` WHERE ${matches} AND s.object_type IN ('T', 'H', 'U')${phrases.sql}`,
    );
    params.push(search.match, search.match, ...phrases.params);
  }
  if (search.requesterAddress) {
    // osTicket's quick search of an e-mail-like text: the requester's addresses (any of the user's), equal
    // (the address index, then tickets by user) or containing it (a scan of the addresses); all tied.
    const { text, exact } = search.requesterAddress;
    branches.push(
      "SELECT rt.ticket_id, 1 AS relevance FROM ost_user_email ue JOIN ost_ticket rt ON rt.user_id = ue.user_id" +
        ` WHERE ue.address ${exact ? "= ?" : "LIKE ?"}`,
    );
    params.push(exact ? text : `%${text.replace(/[\\%_]/g, "\\$&")}%`);
  }
  if (search.numberContains) {
    // osTicket's quick search of a number: `number contains` (LIKE, a scan of the number index); the exact
    // number first, the others tied (newest first).
    branches.push(
      "SELECT ticket_id, IF(number = ?, 1000000, 1) AS relevance FROM ost_ticket WHERE number LIKE ?",
    );
    params.push(search.numberContains, `%${search.numberContains.replace(/[\\%_]/g, "\\$&")}%`);
  } else if (search.number) {
    // An exact ticket number outranks every text match.
    branches.push("SELECT ticket_id, 1000000 AS relevance FROM ost_ticket WHERE number = ?");
    params.push(search.number);
  }
  if (branches.length === 0)
    return { sql: "(SELECT 0 AS ticket_id, 0 AS relevance FROM DUAL WHERE 0)", params: [] };
  return {
    sql:
      "(SELECT x.ticket_id, CAST(ROUND(MAX(x.relevance), 6) AS DECIMAL(20,6)) AS relevance" +
      ` FROM (${branches.join(" UNION ALL ")}) x WHERE x.ticket_id IS NOT NULL GROUP BY x.ticket_id)`,
    params,
  };
}

/** How many index rows the relevance fast path first looks at per row it needs, and at most in all. */
const FAST_PATH_ROWS_PER_TICKET = 8;
const FAST_PATH_MAX_ROWS = 32_768;

/**
 * The first page of a relevance-ordered search without mapping every matching index row to its ticket:
 * the top rows by relevance come from the FULLTEXT index alone (one sort over the index's own scores), only
 * those are mapped to tickets, filtered and checked for visibility. Any ticket whose best row is above the
 * lowest score read has that row among them, so its relevance is exact and every ticket left out ranks
 * below; the page is only returned when all of it (and the row telling whether there is a next one) ranks
 * strictly above that score — otherwise, or when filters leave too few tickets, undefined sends the
 * caller to the complete query. Scores are the same DECIMAL values the complete query computes, so page
 * tokens from either path continue in the other.
 */
async function relevanceFirstPage(
  em: EntityManager,
  q: TicketPageQuery,
): Promise<{ id: number; keys: KeyValue[] }[] | undefined> {
  const search = q.search;
  if (!search?.match || q.cursor || q.spec.field !== TicketSortField.RELEVANCE || !q.spec.desc)
    return undefined;
  // Scores of the same quality tie (InnoDB ranks by term counts), so a page may end inside a run of equal
  // scores that continues past the rows read: then the bound is read at once (every read ranks all of
  // the term's matches again, so a few big reads cost less than many growing ones). A search that needed
  // more rows than the first read before starts with about what it needed (see budgetHints).
  const hintKey = JSON.stringify([
    search.match,
    search.mode,
    search.phrases,
    q.limit,
    q.visibility,
    q.filters,
  ]);
  const usual = q.limit * FAST_PATH_ROWS_PER_TICKET;
  const first = Math.min(Math.max(usual, budgetHints.get(hintKey) ?? 0), FAST_PATH_MAX_ROWS);
  for (const budget of first < FAST_PATH_MAX_ROWS ? [first, FAST_PATH_MAX_ROWS] : [first]) {
    const attempt = await bestRowsPage(em, q, search, budget, hintKey);
    if (attempt === "incomplete") continue;
    if (attempt) budgetHints.remember(hintKey, attempt.rowsNeeded > usual ? attempt.rowsNeeded : undefined);
    return attempt?.page;
  }
  return undefined;
}

/** See BudgetHints: per process, shared by every search. */
const budgetHints = new BudgetHints();
/**
 * Whether newestAtLevel settled the last search with a hint key (false: it did not, so later ones go
 * straight to the larger read), per process.
 */
const levelScans = new BoundedMap<string, boolean>({ limit: 1000 });
const levelScanOutcomes = { settled: 0, failed: 0 };

/** How often newestAtLevel settled a first page and how often it did not, in this process (tests read it). */
export function levelScanCounts(): { readonly settled: number; readonly failed: number } {
  return { ...levelScanOutcomes };
}

/** One attempt of the fast path with `budget` index rows; "incomplete" when they do not settle the page. */
async function bestRowsPage(
  em: EntityManager,
  q: TicketPageQuery,
  search: SearchText,
  budget: number,
  hintKey: string,
): Promise<{ page: { id: number; keys: KeyValue[] }[]; rowsNeeded: number } | "incomplete" | undefined> {
  let threshold = Number.NEGATIVE_INFINITY;
  let above: Row[] = [];
  let all: Row[] = [];
  if (search.match) {
    // No ORDER BY: InnoDB's FULLTEXT search hands its matches over best first and stops at the LIMIT,
    // without reading every matching row (with ORDER BY it would sort them all); phrase checks only drop
    // rows from that stream. The order is checked below rather than trusted: rows out of order send the
    // caller to the complete query.
    const phrases = phraseChecks(search);
    all = await query(
      em,
      "SELECT s.object_type, s.object_id," +
        ` CAST(ROUND(${against(search)}, 6) AS DECIMAL(20,6)) AS relevance` +
        ` FROM ost__search s WHERE ${against(search)}${phrases.sql} LIMIT ?`,
      [search.match, search.match, ...phrases.params, budget],
    );
    for (let i = 1; i < all.length; i++)
      if (Number(all[i]?.relevance) > Number(all[i - 1]?.relevance)) return undefined;
    // Fewer rows than asked for: every matching row is here, nothing ranks below unseen.
    if (all.length === budget) threshold = Number(all[all.length - 1]?.relevance ?? 0);
    // A ticket whose best row scores only the threshold ranks below every page this attempt can settle,
    // so rows at the threshold (often most of them: scores of one term tie) need not be mapped to tickets.
    above = all.filter((r) => Number(r.relevance) > threshold);
  }
  const everything = threshold === Number.NEGATIVE_INFINITY;
  // Rows are mapped to tickets in at most two steps: first the best rows down to the end of the score level
  // holding the (limit × FAST_PATH_ROWS_PER_TICKET)-th row, which usually settles the page; then the rest.
  // A prefix that ends where the score changes holds every row of its lowest score L, so every ticket
  // outside it ranks below L and a full page from it is exact, ties at L included.
  let cut = Math.min(q.limit * FAST_PATH_ROWS_PER_TICKET, above.length);
  while (cut > 0 && cut < above.length && above[cut]?.relevance === above[cut - 1]?.relevance) cut++;
  const steps = cut > 0 && cut < above.length ? [cut, above.length] : [above.length];
  const scores = new Map<number, number>();
  const checked = new Set<number>();
  const kept: number[] = [];
  let mapped = 0;
  if (search.number) {
    const exact = await query(em, "SELECT ticket_id FROM ost_ticket WHERE number = ?", [search.number]);
    for (const r of exact) scores.set(num(r, "ticket_id"), 1_000_000);
  }
  const rank = (a: number, b: number) => (scores.get(b) ?? 0) - (scores.get(a) ?? 0) || b - a;
  for (const end of steps) {
    for (const [ticketId, score] of await ticketsOfRows(em, above.slice(mapped, end)))
      if (score > (scores.get(ticketId) ?? Number.NEGATIVE_INFINITY)) scores.set(ticketId, score);
    mapped = end;
    // Visibility and filters are checked best first, in chunks that double, until the page is full: a
    // ticket not checked then ranks below every one kept. (A later step's rows score lower than every row
    // of an earlier one, so they never raise a ticket already seen.)
    const unchecked = [...scores.keys()].filter((id) => !checked.has(id)).sort(rank);
    for (let at = 0; at < unchecked.length && kept.length < q.limit; ) {
      const chunk = unchecked.slice(at, at + Math.max(at, q.limit * 4));
      at += chunk.length;
      for (const id of chunk) checked.add(id);
      const where: Condition[] = [
        q.visibility,
        ...q.filters,
        { sql: `t.ticket_id IN (${marks(chunk.length)})`, params: chunk },
      ];
      const rows = await query(
        em,
        `SELECT t.ticket_id FROM ost_ticket t WHERE ${where.map((c) => `(${c.sql})`).join(" AND ")}`,
        where.flatMap((c) => c.params),
      );
      const visible = new Set(rows.map((r) => num(r, "ticket_id")));
      kept.push(...chunk.filter((id) => visible.has(id)));
    }
    const ranked = kept
      .sort(rank)
      .slice(0, q.limit)
      .map((id) => ({ id, score: scores.get(id) ?? 0 }));
    const last = ranked[ranked.length - 1];
    const full = ranked.length === q.limit;
    // A full page from a prefix is exact (see above); from all the rows read, it must rank above the
    // threshold, and a short one is the whole answer only when every matching row was read.
    const complete = end < above.length ? full : full ? (last?.score ?? 0) > threshold : everything;
    if (complete) {
      // A read of every row scoring at least the page's lowest score, and one more, settles this page.
      const lowest = full ? (last?.score ?? 0) : Number.NEGATIVE_INFINITY;
      const rowsNeeded = all.filter((r) => Number(r.relevance) >= lowest).length + 1;
      return { page: ranked.map((r) => ({ id: r.id, keys: [r.score.toFixed(6)] })), rowsNeeded };
    }
  }
  // Every visible ticket scoring above the threshold is kept and the page is still short: it goes on with
  // tickets whose best row scores exactly the threshold, newest first, from a run of equal scores the read
  // ended inside. When that run is dense among the newest tickets (a run of identical tickets a monitoring
  // tool opened, say), scoring the newest tickets' own rows finds them at once, where reading the whole run
  // in the index's order (oldest first) costs a read of every row in it.
  if (search.match && threshold > 0 && kept.length < q.limit && levelScans.get(hintKey) !== false) {
    const level = await newestAtLevel(em, q, search, threshold, scores, q.limit - kept.length);
    levelScans.set(hintKey, level !== undefined);
    levelScanOutcomes[level ? "settled" : "failed"]++;
    if (level) {
      const page = [...kept.sort(rank), ...level].map((id) => ({
        id,
        keys: [(scores.get(id) ?? threshold).toFixed(6)],
      }));
      return { page, rowsNeeded: 0 };
    }
  }
  return "incomplete";
}

/** How many of the newest visible tickets newestAtLevel scores per ticket it needs (at least LEVEL_SCAN_MIN). */
const LEVEL_SCAN_PER_TICKET = 4;
const LEVEL_SCAN_MIN = 200;

/**
 * The `need` newest visible tickets (filters applied) whose best index row scores exactly `level`, or
 * undefined when the newest tickets scanned (LEVEL_SCAN_PER_TICKET per ticket needed) do not hold that
 * many. `scored` holds every ticket with a row above `level`: they are not at the level, and one found
 * above it that is not there means the index changed under the search (undefined too). A ticket's rows
 * are scored by the same MATCH as the index read, evaluated on those rows only (InnoDB ranks the query's
 * matches once without fetching them), so each ticket gets the score the complete query gives it: the best
 * of its T row, its thread entries' H rows and its requester's U row that match (score above zero) and
 * pass the phrase checks.
 */
async function newestAtLevel(
  em: EntityManager,
  q: TicketPageQuery,
  search: SearchText,
  level: number,
  scored: ReadonlyMap<number, number>,
  need: number,
): Promise<number[] | undefined> {
  const batch = Math.max(LEVEL_SCAN_MIN, need * LEVEL_SCAN_PER_TICKET);
  const where: Condition[] = [q.visibility, ...q.filters];
  const candidates = await query(
    em,
    "SELECT c.ticket_id, c.user_id, e.id AS entry_id FROM (SELECT t.ticket_id, t.user_id FROM ost_ticket t" +
      ` WHERE ${where.map((c) => `(${c.sql})`).join(" AND ")} ORDER BY t.ticket_id DESC LIMIT ?) c` +
      " LEFT JOIN ost_thread th ON th.object_type = 'T' AND th.object_id = c.ticket_id" +
      " LEFT JOIN ost_thread_entry e ON e.thread_id = th.id",
    [...where.flatMap((c) => c.params), batch],
  );
  const userOf = new Map<number, number>();
  const ticketOfEntry = new Map<number, number>();
  for (const r of candidates) {
    const ticketId = num(r, "ticket_id");
    userOf.set(ticketId, num(r, "user_id"));
    if (r.entry_id !== null && r.entry_id !== undefined) ticketOfEntry.set(num(r, "entry_id"), ticketId);
  }
  if (userOf.size === 0) return undefined;
  const ids = [...userOf.keys()];
  const entries = [...ticketOfEntry.keys()];
  const users = [...new Set(userOf.values())];
  const phrases = phraseChecks(search);
  const rows = await query(
    em,
    "SELECT s.object_type, s.object_id," +
      ` CAST(ROUND(${against(search)}, 6) AS DECIMAL(20,6)) AS relevance` +
      ` FROM ost__search s WHERE ((s.object_type = 'T' AND s.object_id IN (${marks(ids.length)}))` +
      ` OR (s.object_type = 'H' AND s.object_id IN (${marks(entries.length)}))` +
      ` OR (s.object_type = 'U' AND s.object_id IN (${marks(users.length)})))${phrases.sql}`,
    [
      search.match,
      ...ids,
      ...(entries.length ? entries : [null]),
      ...(users.length ? users : [null]),
      ...phrases.params,
    ],
  );
  const best = new Map<number, number>();
  const better = (ticketId: number | undefined, score: number) => {
    if (ticketId !== undefined && score > (best.get(ticketId) ?? 0)) best.set(ticketId, score);
  };
  const userScores = new Map<number, number>();
  for (const r of rows) {
    const score = Number(r.relevance);
    if (!(score > 0)) continue;
    const objectId = num(r, "object_id");
    if (r.object_type === "T") better(objectId, score);
    else if (r.object_type === "H") better(ticketOfEntry.get(objectId), score);
    else userScores.set(objectId, score);
  }
  for (const [ticketId, userId] of userOf) better(ticketId, userScores.get(userId) ?? 0);
  const found: number[] = [];
  for (const ticketId of ids.sort((a, b) => b - a)) {
    const score = best.get(ticketId) ?? 0;
    if (score > level && !scored.has(ticketId)) return undefined;
    if (score !== level || scored.has(ticketId)) continue;
    found.push(ticketId);
    if (found.length === need) return found;
  }
  return undefined;
}

/** The tickets of FULLTEXT index rows (T: the ticket, H: its thread entry's, U: every ticket of the user), best score each. */
async function ticketsOfRows(em: EntityManager, rows: readonly Row[]): Promise<Map<number, number>> {
  const scores = new Map<number, number>();
  const better = (ticketId: number, score: number) => {
    if (score > (scores.get(ticketId) ?? Number.NEGATIVE_INFINITY)) scores.set(ticketId, score);
  };
  const byType = (type: string) => rows.filter((r) => r.object_type === type);
  for (const r of byType("T")) better(num(r, "object_id"), Number(r.relevance));
  const entries = byType("H");
  const users = byType("U");
  // Both lookups in one round trip (an empty list is written as IN (NULL), which matches nothing).
  const ids = (list: readonly Row[]) => (list.length ? list.map((r) => num(r, "object_id")) : [null]);
  const [mapped = [], owned = []] =
    entries.length || users.length
      ? await queryBatch(em, [
          {
            sql:
              "SELECT e.id, th.object_id AS ticket_id FROM ost_thread_entry e JOIN ost_thread th" +
              ` ON th.id = e.thread_id AND th.object_type = 'T' WHERE e.id IN (${marks(Math.max(entries.length, 1))})`,
            params: ids(entries),
          },
          {
            sql: `SELECT user_id, ticket_id FROM ost_ticket WHERE user_id IN (${marks(Math.max(users.length, 1))})`,
            params: ids(users),
          },
        ])
      : [];
  const ticketOf = new Map(mapped.map((r) => [num(r, "id"), num(r, "ticket_id")]));
  for (const r of entries) {
    const ticketId = ticketOf.get(num(r, "object_id"));
    if (ticketId) better(ticketId, Number(r.relevance));
  }
  const score = new Map(users.map((r) => [num(r, "object_id"), Number(r.relevance)]));
  for (const r of owned) better(num(r, "ticket_id"), score.get(num(r, "user_id")) ?? 0);
  return scores;
}

/** The ids of one page, with the sort keys of each row (for the next page token). */
export async function ticketPage(
  em: EntityManager,
  q: TicketPageQuery,
): Promise<{ id: number; keys: KeyValue[] }[]> {
  const fast = await relevanceFirstPage(em, q);
  if (fast) return fast;
  const params: unknown[] = [];
  let from = "ost_ticket t";
  if (q.search) {
    const table = searchTable(q.search);
    from = `${table.sql} m JOIN ost_ticket t ON t.ticket_id = m.ticket_id`;
    params.push(...table.params);
  }
  const where: Condition[] = [q.visibility, ...q.filters];
  if (q.cursor) where.push(afterCursor(q.spec, q.cursor));
  for (const c of where) params.push(...c.params);
  const keys = q.spec.parts.map((p, i) => `${p.expr} AS k${i}`).join(", ");
  const sql =
    `SELECT t.ticket_id${keys ? `, ${keys}` : ""} FROM ${from}` +
    ` WHERE ${where.map((c) => `(${c.sql})`).join(" AND ") || "1"}` +
    ` ORDER BY ${orderBy(q.spec)} LIMIT ?`;
  params.push(q.limit);
  const rows = await query(em, sql, params);
  return rows.map((r) => ({
    id: num(r, "ticket_id"),
    keys: q.spec.parts.map((_, i) => keyValue(r, `k${i}`)),
  }));
}

/** How many tickets match (include_total_size). */
export async function countTickets(
  em: EntityManager,
  q: Pick<TicketPageQuery, "visibility" | "filters" | "search">,
): Promise<number> {
  const params: unknown[] = [];
  let from = "ost_ticket t";
  if (q.search) {
    const table = searchTable(q.search);
    from = `${table.sql} m JOIN ost_ticket t ON t.ticket_id = m.ticket_id`;
    params.push(...table.params);
  }
  const where = [q.visibility, ...q.filters];
  for (const c of where) params.push(...c.params);
  const [row] = await query(
    em,
    `SELECT COUNT(*) AS n FROM ${from} WHERE ${where.map((c) => `(${c.sql})`).join(" AND ") || "1"}`,
    params,
  );
  return row ? num(row, "n") : 0;
}

function keyValue(row: Row, column: string): KeyValue {
  const value = row[column];
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return String(value);
}
