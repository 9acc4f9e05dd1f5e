import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import type { EventStreamDefinition, Logger } from "@ostmesh/bus";
import { writeOutbox } from "@ostmesh/bus";
import { type EntityManager, execute, query, type Row } from "@ostmesh/db";
import { EventTypes } from "@ostmesh/proto";
import { ActorSchema, PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin, TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import {
  agentName,
  loadTicketRow,
  num,
  str,
  ticketContext,
  ticketFromRow,
  timestampOf,
} from "../osticket/reads.ts";
import type { StatusInfo } from "./mapping.ts";

/**
 * Changes osTicket's PHP side makes to ost_ticket without a thread event (a reply's auto-claim, an unassign,
 * a due date, SLA, help topic or priority set in the staff panel, ...). The thread tails (capture.ts) see
 * only changes that log a thread event or entry; this tail reads ost_ticket by `updated` (a durable cursor:
 * time + ticket id, re-reading rows behind it for writes of the same second and transactions that were in
 * flight: `recentOverlapMs` on most polls, the whole `overlapMs` on a sweep every `sweepMs`) and compares each ticket with ostmesh's snapshot of the fields it publishes
 * (ostmesh_capture_ticket). A difference is explained, and not published, when
 * - a thread event of the ticket written since the snapshot names it (the thread tails publish that event,
 *   or know it as ostmesh's), or
 * - an ostmesh outbox event of the ticket written since the snapshot says the field has its current value
 *   (ostmesh's own writes without a thread event, e.g. a reply's auto-claim).
 * What is left is published once, origin OSTICKET: TicketStatusChanged, TicketAssigned, TicketTransferred,
 * and TicketUpdated with the changed paths for the rest.
 *
 * osTicket's PHP writes a change's ost_ticket UPDATE and its thread event as separate autocommit statements,
 * so a ticket is judged only once its `updated` is `settleMs` old: by then the event is there.
 *
 * Exactly once: the new snapshot replaces the old one only if its `version` is still the one the difference
 * was computed from (compare-and-set), in the transaction that writes the events and records the decision in
 * ostmesh_capture_published (source `ticket`, row id = ticket id << 32 | version). A second replica, a
 * restart or a re-read of the same row finds the snapshot moved on and publishes nothing.
 *
 * Known limits: two changes of one field within `settleMs`, the second without a thread event, read as one;
 * a change stamped with the same `updated` second as one already judged but committed after that (a
 * transaction open across the judging read) is not seen until the ticket's next `updated`; the actor of a
 * change without a thread event is unknown (SYSTEM); a change whose transaction committed more than
 * `recentOverlapMs` after its `updated` waits for the next sweep.
 */

/**
 * The `updated` second a snapshot taken from `row` covers (its `ticket_updated`; later polls leave a ticket
 * whose `updated` it covers out): the row's own, once the read that found it ran in a later second, so every
 * write stamped with that second had committed (short transactions assumed); otherwise the second before,
 * and the ticket is read again.
 */
function coveredUpdate(row: Row): number {
  const updated = num(row.updated);
  return updated < num(row.read_at) ? updated : updated - 1;
}

/** The ost_ticket fields watched, in snapshot order. */
const FIELDS = [
  "status_id",
  "dept_id",
  "staff_id",
  "team_id",
  "topic_id",
  "sla_id",
  "user_id",
  "duedate",
  "priority_id",
] as const;
export type TicketField = (typeof FIELDS)[number];
type Values = Readonly<Record<TicketField, number>>;

/** What an ostmesh outbox event said a ticket's fields were after its change. */
export interface OstmeshTicketState {
  /** UNIX time (s) the outbox row was written. */
  readonly ts: number;
  readonly values: Readonly<Partial<Record<TicketField, number>>>;
}

export interface TicketTailOptions {
  readonly stream: Pick<EventStreamDefinition, "subjectPrefix">;
  readonly logger: Logger;
  /** A ticket is judged once its `updated` is this old (default 5 s). */
  readonly settleMs: number;
  /** How far behind the cursor a sweep re-reads rows (default 60 s). */
  readonly overlapMs: number;
  /** How far behind the cursor the polls between sweeps re-read rows (default 10 s; at most `overlapMs`). */
  readonly recentOverlapMs: number;
  /** How often a poll is a sweep (default 30 s; the first poll always is). */
  readonly sweepMs: number;
  readonly batchSize: number;
  /** What ostmesh's outbox said about a ticket recently (capture.ts reads the outbox). */
  readonly ostmeshStates: (ticketId: number) => readonly OstmeshTicketState[];
  readonly statuses: (em: EntityManager) => Promise<Map<number, StatusInfo>>;
  readonly outboxEventOf: (event: Event) => Parameters<typeof writeOutbox>[1];
}

const CURSOR_TIME = "ost_ticket.updated";
const CURSOR_ID = "ost_ticket.ticket_id";

function valuesSql(cdata: boolean): string {
  const priority = cdata ? "CAST(COALESCE(NULLIF(cd.priority, ''), '0') AS UNSIGNED)" : "0";
  return (
    "t.status_id, t.dept_id, t.staff_id, t.team_id, t.topic_id, t.sla_id, t.user_id," +
    ` COALESCE(UNIX_TIMESTAMP(t.duedate), 0) AS duedate, ${priority} AS priority_id`
  );
}

function hashSql(cdata: boolean): string {
  const priority = cdata ? "CAST(COALESCE(NULLIF(cd.priority, ''), '0') AS UNSIGNED)" : "0";
  return (
    "SHA2(CONCAT_WS(',', t.status_id, t.dept_id, t.staff_id, t.team_id, t.topic_id, t.sla_id, t.user_id," +
    ` COALESCE(UNIX_TIMESTAMP(t.duedate), 0), ${priority}), 256)`
  );
}

const fromClause = (cdata: boolean) =>
  " FROM ost_ticket t LEFT JOIN ost_thread th ON th.object_id = t.ticket_id AND th.object_type IN ('T', 'C')" +
  (cdata ? " LEFT JOIN ost_ticket__cdata cd ON cd.ticket_id = t.ticket_id" : "");

/** The highest thread event of the ticket's thread at or before the ticket's `updated`. */
const COVERED_SQL =
  "COALESCE((SELECT MAX(te.id) FROM ost_thread_event te WHERE te.thread_id = th.id AND te.timestamp <= t.updated), 0)";

/** Fields a thread event of each kind may change (osTicket's Ticket methods that log it). */
const EXPLAINED_BY: Readonly<Record<string, readonly TicketField[]>> = {
  created: FIELDS,
  deleted: FIELDS,
  assigned: ["staff_id", "team_id"],
  released: ["staff_id", "team_id"],
  transferred: ["dept_id", "staff_id", "sla_id"],
  closed: ["status_id", "staff_id", "duedate"],
  reopened: ["status_id", "staff_id", "duedate"],
};

/** Keys of an `edited` event's data -> the fields they change. */
const EDITED_KEYS: Readonly<Record<string, readonly TicketField[]>> = {
  status: ["status_id"],
  topic_id: ["topic_id"],
  topic: ["topic_id"],
  sla_id: ["sla_id"],
  sla: ["sla_id"],
  duedate: ["duedate"],
  priority: ["priority_id"],
  priority_id: ["priority_id"],
  fields: ["priority_id"],
  user_id: ["user_id"],
  dept_id: ["dept_id"],
};

/** TicketPatch paths of the fields TicketUpdated reports. */
const PATHS: Readonly<Partial<Record<TicketField, string>>> = {
  topic_id: "help_topic_id",
  sla_id: "sla_id",
  duedate: "due_date",
  priority_id: "priority_id",
  user_id: "user_id",
};

function explainedBy(eventName: string, data: unknown): readonly TicketField[] {
  if (eventName !== "edited") return EXPLAINED_BY[eventName] ?? [];
  let parsed: unknown;
  try {
    parsed = typeof data === "string" && data !== "" ? JSON.parse(data) : {};
  } catch {
    parsed = {};
  }
  if (!parsed || typeof parsed !== "object") return [];
  return Object.keys(parsed).flatMap((k) => EDITED_KEYS[k] ?? []);
}

function valuesOf(row: Row): Values {
  return {
    status_id: num(row.status_id),
    dept_id: num(row.dept_id),
    staff_id: num(row.staff_id),
    team_id: num(row.team_id),
    topic_id: num(row.topic_id),
    sla_id: num(row.sla_id),
    user_id: num(row.user_id),
    duedate: num(row.duedate),
    priority_id: num(row.priority_id),
  };
}

export class TicketChangeTail {
  readonly #o: TicketTailOptions;
  #cursor: { time: number; id: number } | undefined;
  /** Where the next page starts while a scan spans several cycles. */
  #scanFrom: { time: number; id: number } | undefined;
  #cdata: boolean | undefined;
  /** When the last sweep (a read of the whole overlap) that was judged to its end started; 0 before. */
  #lastSweep = 0;
  /** When the sweep being read and judged started (it counts once judged: a failed one is read again). */
  #sweepStarted: number | undefined;

  constructor(options: TicketTailOptions) {
    this.#o = options;
  }

  /** A scan is part-way through more rows than one page (read the next page without waiting). */
  get scanning(): boolean {
    return this.#scanFrom !== undefined;
  }

  /**
   * One page of settled ticket rows, from `overlapMs` behind the cursor on (read before the outbox, so the
   * ostmesh events committed with them are known when they are judged).
   */
  async read(em: EntityManager): Promise<Row[]> {
    const cdata = await this.#hasCdata(em);
    const cursor = await this.#loadCursor(em, cdata);
    let from = this.#scanFrom;
    if (!from) {
      // Most polls re-read only the recent past (writes of the last seconds, short transactions); a sweep
      // every `sweepMs` re-reads the whole overlap for the rare transaction that committed later than that.
      // The overlap is the cost that grows with the write rate: every ticket updated in it is read again.
      const now = Date.now();
      const sweep = now - this.#lastSweep >= this.#o.sweepMs;
      this.#sweepStarted = sweep ? now : undefined;
      const overlapMs = sweep ? this.#o.overlapMs : Math.min(this.#o.recentOverlapMs, this.#o.overlapMs);
      from = { time: Math.max(0, cursor.time - Math.ceil(overlapMs / 1000)), id: 0 };
    }
    // The overlap re-reads the tickets updated in it on each poll. A ticket whose snapshot
    // already covers its current `updated` was judged before and is left out (one PK lookup, nothing sent);
    // one updated since whose fields still match (a reply's lastupdate) brings the snapshot's hash along and
    // is neither judged nor given its covered-event subquery.
    const hash = hashSql(cdata);
    return query(
      em,
      `SELECT t.ticket_id, UNIX_TIMESTAMP(t.updated) AS updated, UNIX_TIMESTAMP(NOW()) AS read_at,` +
        ` th.id AS thread_id, ${valuesSql(cdata)},` +
        ` ${hash} AS hash, sn.hash AS snapshot_hash, IF(sn.hash <=> ${hash}, 0, ${COVERED_SQL}) AS covered` +
        `${fromClause(cdata)} LEFT JOIN ostmesh_capture_ticket sn ON sn.ticket_id = t.ticket_id` +
        " WHERE t.updated >= FROM_UNIXTIME(?) AND (t.updated > FROM_UNIXTIME(?) OR t.ticket_id > ?)" +
        " AND t.updated <= NOW() - INTERVAL ? MICROSECOND" +
        " AND (sn.ticket_id IS NULL OR sn.ticket_updated <> UNIX_TIMESTAMP(t.updated))" +
        " ORDER BY t.updated, t.ticket_id LIMIT ?",
      [from.time, from.time, from.id, this.#o.settleMs * 1000, this.#o.batchSize],
    );
  }

  /**
   * Judges the rows `read` returned (publishing unexplained changes); only then moves the cursor over them
   * and saves it, so a failed cycle reads the same page again.
   */
  async judge(em: EntityManager, rows: readonly Row[]): Promise<number> {
    const published = rows.length > 0 ? await this.#judge(em, rows) : 0;
    const last = rows.at(-1);
    this.#scanFrom =
      last && rows.length >= this.#o.batchSize
        ? { time: num(last.updated), id: num(last.ticket_id) }
        : undefined;
    const cursor = this.#cursor;
    if (!cursor) return published;
    if (last) {
      const time = num(last.updated);
      const id = num(last.ticket_id);
      if (time > cursor.time || (time === cursor.time && id > cursor.id)) {
        cursor.time = time;
        cursor.id = id;
      }
    }
    await this.#saveCursor(em, cursor);
    if (this.#sweepStarted !== undefined && this.#scanFrom === undefined) {
      this.#lastSweep = this.#sweepStarted;
      this.#sweepStarted = undefined;
    }
    return published;
  }

  /** Drops snapshots of tickets that no longer exist (deleted: their `deleted` thread event said so). */
  async housekeeping(em: EntityManager): Promise<void> {
    await execute(
      em,
      "DELETE s FROM ostmesh_capture_ticket s LEFT JOIN ost_ticket t ON t.ticket_id = s.ticket_id" +
        " WHERE t.ticket_id IS NULL",
    );
  }

  async #hasCdata(em: EntityManager): Promise<boolean> {
    if (this.#cdata !== undefined) return this.#cdata;
    const rows = await query(
      em,
      "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ost_ticket__cdata'",
    );
    this.#cdata = rows.length > 0;
    return this.#cdata;
  }

  /**
   * The cursor; on the very first start every ticket's current fields become the snapshot (the baseline:
   * changes before it are not known) and the cursor starts now.
   */
  async #loadCursor(em: EntityManager, cdata: boolean): Promise<{ time: number; id: number }> {
    if (this.#cursor) return this.#cursor;
    const rows = await query(
      em,
      "SELECT source, position FROM ostmesh_capture_cursor WHERE source IN (?, ?)",
      [CURSOR_TIME, CURSOR_ID],
    );
    const stored = new Map(rows.map((r) => [str(r.source), num(r.position)]));
    const time = stored.get(CURSOR_TIME);
    if (time !== undefined) {
      this.#cursor = { time, id: stored.get(CURSOR_ID) ?? 0 };
      return this.#cursor;
    }
    const [now] = await query(em, "SELECT UNIX_TIMESTAMP(NOW()) AS now");
    await this.#baseline(em, cdata);
    this.#cursor = { time: num(now?.now), id: 0 };
    await this.#saveCursor(em, this.#cursor);
    return this.#cursor;
  }

  /** Snapshots every ticket that has none, version 0 (never overwrites one). */
  async #baseline(em: EntityManager, cdata: boolean): Promise<void> {
    await execute(
      em,
      "INSERT IGNORE INTO ostmesh_capture_ticket (ticket_id, status_id, dept_id, staff_id, team_id, topic_id," +
        " sla_id, user_id, duedate, priority_id, hash, version, ticket_updated, thread_event_id)" +
        ` SELECT t.ticket_id, ${valuesSql(cdata)}, ${hashSql(cdata)}, 0,` +
        ` LEAST(UNIX_TIMESTAMP(t.updated), UNIX_TIMESTAMP(NOW()) - 1), ${COVERED_SQL}` +
        fromClause(cdata),
    );
  }

  async #saveCursor(em: EntityManager, cursor: { time: number; id: number }): Promise<void> {
    await execute(
      em,
      "INSERT INTO ostmesh_capture_cursor (source, position) VALUES (?, ?), (?, ?)" +
        " ON DUPLICATE KEY UPDATE position = VALUES(position), updated_at = NOW(6)",
      [CURSOR_TIME, cursor.time, CURSOR_ID, cursor.id],
    );
  }

  async #judge(em: EntityManager, page: readonly Row[]): Promise<number> {
    let published = 0;
    // Fields unchanged since the snapshot read with the row: nothing to judge (the check below would skip it
    // too); the snapshot now covers this `updated`, so later polls leave the row out.
    const unchanged = page.filter((r) => r.snapshot_hash !== null && str(r.snapshot_hash) === str(r.hash));
    if (unchanged.length > 0) {
      await execute(
        em,
        "UPDATE ostmesh_capture_ticket SET ticket_updated = CASE ticket_id" +
          ` ${unchanged.map(() => "WHEN ? THEN ?").join(" ")} END` +
          ` WHERE (ticket_id, hash) IN (${unchanged.map(() => "(?, ?)").join(", ")})`,
        [
          ...unchanged.flatMap((r) => [num(r.ticket_id), coveredUpdate(r)]),
          ...unchanged.flatMap((r) => [num(r.ticket_id), str(r.hash)]),
        ],
      );
    }
    const rows = page.filter((r) => r.snapshot_hash === null || str(r.snapshot_hash) !== str(r.hash));
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => num(r.ticket_id));
    const shadows = new Map(
      (
        await query(
          em,
          `SELECT * FROM ostmesh_capture_ticket WHERE ticket_id IN (${ids.map(() => "?").join(",")})`,
          ids,
        )
      ).map((s) => [num(s.ticket_id), s]),
    );
    const fresh: Row[] = [];
    for (const row of rows) {
      const ticketId = num(row.ticket_id);
      const shadow = shadows.get(ticketId);
      if (!shadow) {
        // A ticket created since the baseline: its `created` thread event is its event.
        fresh.push(row);
        continue;
      }
      if (str(shadow.hash) === str(row.hash)) continue;
      const before = valuesOf(shadow);
      const after = valuesOf(row);
      const changed = FIELDS.filter((f) => before[f] !== after[f]);
      const explained = await this.#explained(em, row, shadow, after);
      const unexplained = changed.filter((f) => !explained.has(f));
      const events = unexplained.length > 0 ? await this.#events(em, row, shadow, before, unexplained) : [];
      if (await this.#commit(em, row, shadow, events)) published += events.length;
    }
    if (fresh.length > 0) {
      const columns = ["ticket_id", ...FIELDS, "hash", "ticket_updated", "thread_event_id"];
      await execute(
        em,
        `INSERT IGNORE INTO ostmesh_capture_ticket (${columns.join(", ")}) VALUES ` +
          fresh.map(() => `(${columns.map(() => "?").join(", ")})`).join(", "),
        fresh.flatMap((row) => {
          const values = valuesOf(row);
          return [
            num(row.ticket_id),
            ...FIELDS.map((f) => values[f]),
            str(row.hash),
            coveredUpdate(row),
            num(row.covered),
          ];
        }),
      );
    }
    return published;
  }

  /** Fields a thread event since the snapshot, or an ostmesh event, accounts for. */
  async #explained(em: EntityManager, row: Row, shadow: Row, after: Values): Promise<Set<TicketField>> {
    const explained = new Set<TicketField>();
    const threadId = num(row.thread_id);
    if (threadId) {
      const events = await query(
        em,
        "SELECT ev.name, te.data FROM ost_thread_event te JOIN ost_event ev ON ev.id = te.event_id" +
          " WHERE te.thread_id = ? AND te.id > ?",
        [threadId, num(shadow.thread_event_id)],
      );
      for (const e of events) for (const f of explainedBy(str(e.name), e.data)) explained.add(f);
    }
    // ostmesh's events since the snapshot (a second of slack: `updated` has no fractions).
    const since = num(shadow.ticket_updated) - 1;
    for (const state of this.#o.ostmeshStates(num(row.ticket_id))) {
      if (state.ts < since) continue;
      for (const f of FIELDS)
        if (state.values[f] !== undefined && state.values[f] === after[f]) explained.add(f);
    }
    return explained;
  }

  /**
   * Moves the snapshot to the row (compare-and-set on its version) and, for unexplained changes, records the
   * decision and writes the events, all in one transaction. False when another reader got there first.
   */
  async #commit(em: EntityManager, row: Row, shadow: Row, events: readonly Event[]): Promise<boolean> {
    const ticketId = num(row.ticket_id);
    const version = num(shadow.version);
    const values = valuesOf(row);
    return em.fork().transactional(async (tx) => {
      const moved = await execute(
        tx,
        `UPDATE ostmesh_capture_ticket SET ${FIELDS.map((f) => `${f} = ?`).join(", ")}, hash = ?,` +
          " version = version + 1, ticket_updated = ?, thread_event_id = GREATEST(thread_event_id, ?)," +
          " updated_at = NOW(6) WHERE ticket_id = ? AND version = ?",
        [
          ...FIELDS.map((f) => values[f]),
          str(row.hash),
          coveredUpdate(row),
          num(row.covered),
          ticketId,
          version,
        ],
      );
      if (moved.affectedRows === 0 || events.length === 0) return false;
      const decided = await execute(
        tx,
        "INSERT IGNORE INTO ostmesh_capture_published (source, row_id, outcome, event_id)" +
          " VALUES ('ticket', (? << 32) | ?, 'published', ?)",
        [ticketId, version + 1, events[0]?.id ?? ""],
      );
      if (decided.affectedRows === 0) return false;
      const ids: string[] = [];
      for (const event of events) ids.push((await writeOutbox(tx, this.#o.outboxEventOf(event))).id);
      const [outboxId] = ids;
      await execute(
        tx,
        "UPDATE ostmesh_capture_published SET outbox_id = ? WHERE source = 'ticket' AND row_id = (? << 32) | ?",
        [outboxId, ticketId, version + 1],
      );
      return true;
    });
  }

  /** The events of a ticket's unexplained changes (one per kind of change). */
  async #events(
    em: EntityManager,
    row: Row,
    shadow: Row,
    before: Values,
    fields: readonly TicketField[],
  ): Promise<Event[]> {
    const ticket = await loadTicketRow(em, num(row.ticket_id));
    if (!ticket) return [];
    const key = `osticket-ticket-${num(row.ticket_id)}-${num(shadow.version) + 1}`;
    const base = {
      occurredAt: timestampOf(row.updated),
      origin: EventOrigin.OSTICKET,
      // osTicket records who made a change only in its thread events; these changes have none.
      actor: create(ActorSchema, { kind: PrincipalKind.SYSTEM, displayName: "SYSTEM", username: "SYSTEM" }),
      aggregate: { type: AggregateType.TICKET, id: num(ticket.ticket_id) },
      ticket: ticketContext(ticket),
    };
    const has = (f: TicketField) => fields.includes(f);
    const events: Event[] = [];
    if (has("status_id")) {
      const statuses = await this.#o.statuses(em);
      const previous = statuses.get(before.status_id);
      const current = statuses.get(num(ticket.status_id));
      events.push(
        create(EventSchema, {
          ...base,
          id: `${key}-status`,
          type: EventTypes.TICKET_STATUS_CHANGED,
          payload: {
            case: "ticketStatusChanged",
            value: {
              previous: previous ? { ...previous } : { id: before.status_id },
              current: current ? { ...current } : { id: num(ticket.status_id) },
              closed: current?.state === TicketState.CLOSED && previous?.state !== TicketState.CLOSED,
              reopened: previous?.state === TicketState.CLOSED && current?.state === TicketState.OPEN,
            },
          },
        }),
      );
    }
    if (has("staff_id") || has("team_id")) {
      const [previousStaff] = await query(
        em,
        "SELECT firstname, lastname FROM ost_staff WHERE staff_id = ?",
        [before.staff_id],
      );
      const [previousTeam] = await query(em, "SELECT name FROM ost_team WHERE team_id = ?", [before.team_id]);
      const staffId = num(ticket.staff_id);
      const teamId = num(ticket.team_id);
      events.push(
        create(EventSchema, {
          ...base,
          id: `${key}-assignment`,
          type: EventTypes.TICKET_ASSIGNED,
          payload: {
            case: "ticketAssigned",
            value: {
              previousStaff: before.staff_id
                ? { id: before.staff_id, name: agentName(previousStaff?.firstname, previousStaff?.lastname) }
                : undefined,
              previousTeam: before.team_id
                ? { id: before.team_id, name: str(previousTeam?.name) }
                : undefined,
              staff: staffId
                ? { id: staffId, name: agentName(ticket.staff_first, ticket.staff_last) }
                : undefined,
              team: teamId ? { id: teamId, name: str(ticket.team_name) } : undefined,
              released: !staffId && !teamId,
            },
          },
        }),
      );
    }
    if (has("dept_id")) {
      const [previous] = await query(em, "SELECT name FROM ost_department WHERE id = ?", [before.dept_id]);
      events.push(
        create(EventSchema, {
          ...base,
          id: `${key}-transfer`,
          type: EventTypes.TICKET_TRANSFERRED,
          payload: {
            case: "ticketTransferred",
            value: {
              previous: { id: before.dept_id, name: str(previous?.name) },
              current: { id: num(ticket.dept_id), name: str(ticket.dept_name) },
            },
          },
        }),
      );
    }
    const paths = fields.flatMap((f) => PATHS[f] ?? []);
    if (paths.length > 0) {
      events.push(
        create(EventSchema, {
          ...base,
          id: `${key}-update`,
          type: EventTypes.TICKET_UPDATED,
          payload: {
            case: "ticketUpdated",
            value: { changed: create(FieldMaskSchema, { paths }), ticket: ticketFromRow(ticket) },
          },
        }),
      );
    }
    return events;
  }
}

/** The ticket fields an ostmesh event says the ticket has after its change. */
export function ostmeshTicketValues(event: Event): Partial<Record<TicketField, number>> {
  const c = event.ticket;
  const values: Partial<Record<TicketField, number>> = {};
  if (c?.ticketId) {
    values.status_id = c.statusId;
    values.dept_id = c.deptId;
    values.staff_id = c.staffId;
    values.team_id = c.teamId;
    values.topic_id = c.topicId;
    values.user_id = c.userId;
  }
  const p = event.payload;
  const ticket = p.case === "ticketUpdated" || p.case === "ticketCreated" ? p.value.ticket : undefined;
  if (ticket) {
    values.sla_id = ticket.sla?.id ?? 0;
    values.priority_id = ticket.priority?.id ?? 0;
    values.duedate = Number(ticket.dueDate?.seconds ?? 0n);
  }
  return values;
}
