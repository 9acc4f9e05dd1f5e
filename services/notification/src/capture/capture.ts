import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MikroORM } from "@mikro-orm/mysql";
import {
  describeError,
  type EventStreamDefinition,
  eventSubject,
  type Logger,
  writeOutbox,
} from "@ostmesh/bus";
import { type EntityManager, execute, query, type Row } from "@ostmesh/db";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import type { ThreadEntry } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { ENTRY_COLUMNS, entryFromRow, loadTicketRow, num, str, ticketState } from "../osticket/reads.ts";
import { type Claim, claimsOf } from "./claims.ts";
import { TailCursor } from "./cursor.ts";
import {
  eventFromEntry,
  eventFromThreadEvent,
  type StatusInfo,
  threadEntryEventId,
  threadEventId,
} from "./mapping.ts";
import { type OstmeshTicketState, ostmeshTicketValues, TicketChangeTail } from "./tickets.ts";

/**
 * Change capture of osTicket's PHP side. Every cycle it reads new ost_thread_event and ost_thread_entry rows
 * (tailing their AUTO_INCREMENT ids with a durable cursor per table in ostmesh_capture_cursor), tells
 * ostmesh's own writes apart, and publishes one event per osTicket change, origin OSTICKET, through the
 * outbox (so the relay is the only path to the bus).
 *
 * Telling ostmesh's writes apart: ostmesh commits every change together with its outbox event, and that
 * event names the thread rows it wrote (Event.thread_event_id, the entry ids in its payload) or the ticket
 * it created. Capture reads the outbox (its own cursor) *after* reading the candidate rows: a candidate that
 * is visible was committed, and the outbox row committed in the same transaction is then visible too. The
 * claims are recorded in ostmesh_capture_claim; candidates they cover are ostmesh's. The ticket service names
 * every thread event of a change (thread_event_id, related_thread_event_ids), so claims are exact and an
 * osTicket change made a moment after an ostmesh change of the same ticket is still published. Only as a
 * fallback, ticket events that name no thread event at all (older outbox rows, a writer that leaves them
 * empty) claim thread events of their ticket within `touchWindowMs`, and a created ticket claims the rows
 * written with its creation.
 *
 * Changes osTicket makes to ost_ticket without any thread row (a reply's auto-claim, an unassign, a due date
 * set in the staff panel, ...) are found by the ticket tail (tickets.ts), which compares ost_ticket with a
 * snapshot of the published fields.
 *
 * Exactly once: the decision on each row is an INSERT into ostmesh_capture_published (primary key = source
 * table + row id) in the same transaction as its outbox row. A row read twice (a restart, two replicas, a
 * cursor held at a gap) is decided once; the cursor only saves re-reading.
 */

export interface ChangeCaptureOptions {
  orm: MikroORM;
  stream: Pick<EventStreamDefinition, "subjectPrefix">;
  logger: Logger;
  /** Called after a cycle wrote outbox rows (wake the relay). */
  onPublished?: () => void;
  /** Idle poll interval (default 500 ms). */
  pollIntervalMs?: number;
  /** Rows read per table and cycle (default 500). */
  batchSize?: number;
  /** How long a missing id (a transaction in flight) holds a cursor (default 60 s). */
  gapTimeoutMs?: number;
  /** How long a new ticket's `created` event waits for its first message (default 10 s). */
  createdWaitMs?: number;
  /** A created ticket's `created` thread event within this much of its creation is ostmesh's (default 2 s). */
  creationWindowMs?: number;
  /** See `touch` claims (default 2 s). */
  touchWindowMs?: number;
  /** A first start reads from the current end of each table ("now", default) or from the beginning. */
  startFrom?: "now" | "beginning";
  /** How far back the outbox is re-read at start-up, for transactions that were in flight (default 10 min). */
  outboxLookbackMs?: number;
  /** Decisions and claims older than this are deleted (default 7 days). */
  retentionMs?: number;
  /** ost_ticket changes without a thread event (tickets.ts): how often the ticket table is read (default 2 s). */
  ticketPollMs?: number;
  /** A ticket change is judged once its `updated` is this old (default 5 s). */
  ticketSettleMs?: number;
  /** How far behind the ticket cursor a sweep re-reads rows (default 60 s). */
  ticketOverlapMs?: number;
  /** How far behind the ticket cursor the polls between sweeps re-read rows (default 10 s). */
  ticketRecentOverlapMs?: number;
  /** How often a ticket poll is a sweep of the whole overlap (default 30 s; the first one always is). */
  ticketSweepMs?: number;
}

type Source = "event" | "entry";

interface Candidate {
  readonly source: Source;
  readonly id: number;
  /** UNIX time of the change (seconds). */
  readonly ts: number;
  readonly row: Row;
}

export interface CycleResult {
  /** Rows read this cycle. */
  read: number;
  /** Events written to the outbox. */
  published: number;
  /** Rows recognised as ostmesh's own writes. */
  ostmesh: number;
  ignored: number;
  /** Rows waiting (a new ticket's first message not written yet). */
  deferred: number;
  /** Ticket rows read for changes without a thread event, and the events published for them. */
  tickets: { read: number; published: number };
}

const CURSOR_EVENT = "ost_thread_event";
const CURSOR_ENTRY = "ost_thread_entry";
const CURSOR_OUTBOX = "ostmesh_outbox";
/** ost_thread_entry.flags ORIGINAL_MESSAGE. */
const ORIGINAL_MESSAGE = 0x1;

const EVENTS_SQL =
  "SELECT te.id, te.thread_id, te.thread_type, te.event_id, te.staff_id, te.team_id, te.dept_id, te.topic_id," +
  " te.data, te.username, te.uid, te.uid_type, UNIX_TIMESTAMP(te.timestamp) AS ts, ev.name AS event_name," +
  " th.object_id, th.object_type, UNIX_TIMESTAMP(t.created) AS ticket_created" +
  " FROM ost_thread_event te LEFT JOIN ost_event ev ON ev.id = te.event_id" +
  " LEFT JOIN ost_thread th ON th.id = te.thread_id" +
  " LEFT JOIN ost_ticket t ON t.ticket_id = th.object_id AND th.object_type IN ('T', 'C')" +
  " WHERE ";

/**
 * A ticket's thread: its own (`T`), or the child thread (`C`) osTicket's merge makes of a merged child's,
 * whose events still carry thread_type `T` and whose object is still the child ticket.
 */
function isTicketThread(row: Row): boolean {
  const type = str(row.object_type);
  return type === "T" || type === "C";
}

const ENTRIES_SQL =
  `SELECT ${ENTRY_COLUMNS}, th.object_id, th.object_type, UNIX_TIMESTAMP(t.created) AS ticket_created` +
  " FROM ost_thread_entry e LEFT JOIN ost_thread th ON th.id = e.thread_id" +
  " LEFT JOIN ost_ticket t ON t.ticket_id = th.object_id AND th.object_type IN ('T', 'C')" +
  " WHERE ";

export class ChangeCapture {
  readonly #o: Required<Omit<ChangeCaptureOptions, "onPublished">> &
    Pick<ChangeCaptureOptions, "onPublished">;
  #cursors: Record<string, TailCursor> | undefined;
  /** Ticket id -> UNIX times (s) of ostmesh events that named no thread row. */
  readonly #touches = new Map<number, number[]>();
  /** Row key -> when it was first deferred. */
  readonly #deferredSince = new Map<string, number>();
  /** Ticket id -> what ostmesh's recent events said its fields are (see tickets.ts). */
  readonly #ostmeshStates = new Map<number, OstmeshTicketState[]>();
  readonly #tickets: TicketChangeTail;
  #lastTicketRead = 0;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;
  #lastHousekeeping = 0;

  constructor(options: ChangeCaptureOptions) {
    this.#o = {
      pollIntervalMs: 500,
      batchSize: 500,
      gapTimeoutMs: 60_000,
      createdWaitMs: 10_000,
      creationWindowMs: 2_000,
      touchWindowMs: 2_000,
      startFrom: "now",
      outboxLookbackMs: 10 * 60_000,
      retentionMs: 7 * 24 * 3_600_000,
      ticketPollMs: 2_000,
      ticketSettleMs: 5_000,
      ticketOverlapMs: 60_000,
      ticketRecentOverlapMs: 10_000,
      ticketSweepMs: 30_000,
      ...options,
    };
    this.#tickets = new TicketChangeTail({
      stream: this.#o.stream,
      logger: this.#o.logger,
      settleMs: this.#o.ticketSettleMs,
      overlapMs: this.#o.ticketOverlapMs,
      recentOverlapMs: this.#o.ticketRecentOverlapMs,
      sweepMs: this.#o.ticketSweepMs,
      batchSize: this.#o.batchSize,
      ostmeshStates: (ticketId) => this.#ostmeshStates.get(ticketId) ?? [],
      statuses: (em) => this.#statuses(em),
      outboxEventOf: (event) => outboxEventOf(event, this.#o.stream),
    });
  }

  /** Starts polling. */
  start(): this {
    this.#loop ??= this.#run();
    return this;
  }

  /** Polls now instead of at the next interval. */
  notify(): void {
    this.#wake?.();
  }

  /** Finishes the cycle in flight, then stops. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let delay = this.#o.pollIntervalMs;
    while (!this.#stopping) {
      try {
        const result = await this.runCycle();
        delay = this.#o.pollIntervalMs;
        if (result.read >= this.#o.batchSize || this.#tickets.scanning) continue;
      } catch (error) {
        this.#o.logger.error({ error: describeError(error) }, "change capture cycle failed");
        delay = Math.min(delay * 2, 10_000);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
  }

  /** One cycle: read new rows, learn ostmesh's claims, decide and publish. Exposed for tests and tools. */
  async runCycle(): Promise<CycleResult> {
    const em = this.#o.orm.em.fork();
    const cursors = await this.#loadCursors(em);
    const eventCursor = cursors[CURSOR_EVENT];
    const entryCursor = cursors[CURSOR_ENTRY];
    if (!eventCursor || !entryCursor) throw new Error("capture cursors missing");
    const events = await this.#tail(em, eventCursor, EVENTS_SQL, "te.id");
    const entries = await this.#tail(em, entryCursor, ENTRIES_SQL, "e.id");
    const ticketsDue = this.#tickets.scanning || Date.now() - this.#lastTicketRead >= this.#o.ticketPollMs;
    if (ticketsDue) this.#lastTicketRead = Date.now();
    const ticketRows = ticketsDue ? await this.#tickets.read(em) : [];
    // After the candidates: every outbox row committed with one of them is visible now.
    await this.#scanOutbox(em);

    const candidates: Candidate[] = [
      ...entries.map((row) => ({ source: "entry" as const, id: num(row.id), ts: num(row.created_ts), row })),
      ...events.map((row) => ({ source: "event" as const, id: num(row.id), ts: num(row.ts), row })),
    ];
    // Oldest change first; on the same second a comment note goes before the status event it explains.
    candidates.sort(
      (a, b) => a.ts - b.ts || (a.source === b.source ? a.id - b.id : a.source === "entry" ? -1 : 1),
    );

    const decided = await this.#decidedIds(em, candidates);
    const claims = await this.#claimsFor(em, candidates);
    const cursorOf = { event: eventCursor, entry: entryCursor };
    const result: CycleResult = {
      read: candidates.length,
      published: 0,
      ostmesh: 0,
      ignored: 0,
      deferred: 0,
      tickets: { read: ticketRows.length, published: 0 },
    };
    let statuses: Map<number, StatusInfo> | undefined;

    const decisions: { candidate: Candidate; outcome: "published" | "ostmesh" | "ignored"; event?: Event }[] =
      [];
    for (const candidate of candidates) {
      const key = `${candidate.source}:${candidate.id}`;
      if (decided.has(key)) {
        cursorOf[candidate.source].handle(candidate.id);
        continue;
      }
      if (await this.#isOstmesh(em, candidate, claims)) {
        decisions.push({ candidate, outcome: "ostmesh" });
        continue;
      }
      const row = candidate.row;
      if (!isTicketThread(row) || (candidate.source === "event" && str(row.thread_type) !== "T")) {
        decisions.push({ candidate, outcome: "ignored" });
        continue;
      }
      const ticket = await loadTicketRow(em, num(row.object_id));
      if (!ticket) {
        this.#o.logger.warn(
          { source: candidate.source, id: candidate.id },
          "change capture: ticket not found",
        );
        decisions.push({ candidate, outcome: "ignored" });
        continue;
      }
      if (candidate.source === "entry") {
        if (await this.#isFirstMessage(em, row)) {
          // Part of ticket.created (published from the thread event).
          decisions.push({ candidate, outcome: "ignored" });
          continue;
        }
        decisions.push({ candidate, outcome: "published", event: eventFromEntry(row, ticket) });
        continue;
      }
      let firstMessage: ThreadEntry | undefined;
      if (str(row.event_name) === "created") {
        firstMessage = await this.#firstMessage(em, num(row.thread_id));
        if (!firstMessage && !this.#waitedLongEnough(key)) {
          result.deferred++;
          continue;
        }
      }
      statuses ??= await this.#statuses(em);
      const status = statuses;
      const event = eventFromThreadEvent({ row, ticket, firstMessage, status: (id) => status.get(id) });
      decisions.push(event ? { candidate, outcome: "published", event } : { candidate, outcome: "ignored" });
    }

    if (decisions.length > 0) {
      // Publishes go row by row: each needs its own affectedRows to write its outbox row exactly once. The
      // other decisions write nothing else, so they go in a few multi-row statements, and a cycle with no
      // publish needs no transaction (every row's decision stands on its own primary key).
      const publishes = decisions.filter((d) => d.event !== undefined);
      const others = decisions.filter((d) => d.event === undefined);
      let published = 0;
      if (publishes.length === 0) await recordDecisions(em, others);
      else
        published = await em.fork().transactional(async (tx) => {
          await recordDecisions(tx, others);
          let count = 0;
          for (const { candidate, outcome, event } of publishes) {
            if (!event) continue;
            const inserted = await execute(
              tx,
              "INSERT IGNORE INTO ostmesh_capture_published (source, row_id, outcome, event_id) VALUES (?, ?, ?, ?)",
              [candidate.source, candidate.id, outcome, event.id],
            );
            if (inserted.affectedRows === 0) continue;
            const { id } = await writeOutbox(tx, outboxEventOf(event, this.#o.stream));
            await execute(
              tx,
              "UPDATE ostmesh_capture_published SET outbox_id = ? WHERE source = ? AND row_id = ?",
              [id, candidate.source, candidate.id],
            );
            count++;
          }
          return count;
        });
      result.published = published;
      for (const { candidate, outcome } of decisions) {
        cursorOf[candidate.source].handle(candidate.id);
        this.#deferredSince.delete(`${candidate.source}:${candidate.id}`);
        if (outcome === "ostmesh") result.ostmesh++;
        else if (outcome === "ignored") result.ignored++;
      }
      if (published > 0) this.#o.onPublished?.();
    }

    if (ticketsDue) {
      result.tickets.published = await this.#tickets.judge(em, ticketRows);
      if (result.tickets.published > 0) this.#o.onPublished?.();
    }

    const before = [eventCursor.position, entryCursor.position];
    eventCursor.advance();
    entryCursor.advance();
    if (eventCursor.position !== before[0] || entryCursor.position !== before[1]) await this.#saveCursors(em);
    await this.#housekeeping(em);
    return result;
  }

  #waitedLongEnough(key: string): boolean {
    const now = Date.now();
    const since = this.#deferredSince.get(key) ?? now;
    this.#deferredSince.set(key, since);
    return now - since >= this.#o.createdWaitMs;
  }

  async #loadCursors(em: EntityManager): Promise<Record<string, TailCursor>> {
    if (this.#cursors) return this.#cursors;
    const rows = await query(em, "SELECT source, position FROM ostmesh_capture_cursor");
    const stored = new Map(rows.map((r) => [str(r.source), num(r.position)]));
    const start = async (table: string, idColumn: string) => {
      const known = stored.get(table);
      if (known !== undefined) return known;
      if (this.#o.startFrom === "beginning") return 0;
      const [row] = await query(em, `SELECT COALESCE(MAX(${idColumn}), 0) AS id FROM ${table}`);
      return num(row?.id);
    };
    const eventPos = await start(CURSOR_EVENT, "id");
    const entryPos = await start(CURSOR_ENTRY, "id");
    // Outbox: re-read what was written recently, so claims of transactions in flight at the last stop count.
    const [recent] = await query(
      em,
      "SELECT COALESCE(MIN(id), (SELECT COALESCE(MAX(id), 0) + 1 FROM ostmesh_outbox)) - 1 AS id" +
        " FROM ostmesh_outbox WHERE created_at >= NOW(6) - INTERVAL ? MICROSECOND",
      [this.#o.outboxLookbackMs * 1000],
    );
    const outboxStored = stored.get(CURSOR_OUTBOX);
    const outboxPos = Math.min(outboxStored ?? Number.MAX_SAFE_INTEGER, num(recent?.id));
    this.#cursors = {
      [CURSOR_EVENT]: new TailCursor(eventPos, this.#o.gapTimeoutMs),
      [CURSOR_ENTRY]: new TailCursor(entryPos, this.#o.gapTimeoutMs),
      [CURSOR_OUTBOX]: new TailCursor(outboxPos, this.#o.gapTimeoutMs),
    };
    await this.#saveCursors(em);
    return this.#cursors;
  }

  async #saveCursors(em: EntityManager): Promise<void> {
    if (!this.#cursors) return;
    const cursors = Object.entries(this.#cursors);
    if (cursors.length === 0) return;
    // Every cursor in one statement.
    await execute(
      em,
      `INSERT INTO ostmesh_capture_cursor (source, position) VALUES ${cursors.map(() => "(?, ?)").join(", ")}` +
        " ON DUPLICATE KEY UPDATE position = VALUES(position), updated_at = NOW(6)",
      cursors.flatMap(([source, cursor]) => [source, cursor.position]),
    );
  }

  /**
   * Rows of a tailed table: unhandled ids below the highest read (late commits, deferred rows), then new
   * rows after it. `sql` ends in "WHERE ".
   */
  async #tail(em: EntityManager, cursor: TailCursor, sql: string, idColumn: string): Promise<Row[]> {
    const missing = cursor.missing();
    const late =
      missing.length > 0
        ? await query(
            em,
            `${sql}${idColumn} IN (${missing.map(() => "?").join(",")}) ORDER BY ${idColumn}`,
            missing,
          )
        : [];
    const fresh = await query(em, `${sql}${idColumn} > ? ORDER BY ${idColumn} LIMIT ?`, [
      cursor.highest,
      this.#o.batchSize,
    ]);
    cursor.read(fresh.map((r) => num(r.id)));
    return [...late, ...fresh];
  }

  /** Reads outbox rows not read yet and records what they claim. */
  async #scanOutbox(em: EntityManager): Promise<void> {
    const cursor = this.#cursors?.[CURSOR_OUTBOX];
    if (!cursor) return;
    const sql = "SELECT id, payload, UNIX_TIMESTAMP(created_at) AS ts FROM ostmesh_outbox WHERE ";
    for (;;) {
      const rows = await this.#tail(em, cursor, sql, "id");
      const claims: (Claim & { outboxId: number })[] = [];
      for (const row of rows) {
        const id = num(row.id);
        cursor.handle(id);
        const event = decodeOutboxPayload(row.payload);
        if (!event) continue;
        if (event.origin !== EventOrigin.OSTICKET && event.ticket?.ticketId)
          this.#ostmeshState(event.ticket.ticketId, num(row.ts), event);
        for (const claim of claimsOf(event)) {
          if (claim.kind === "touch") this.#touch(claim.rowId, num(row.ts));
          else claims.push({ ...claim, outboxId: id });
        }
      }
      if (claims.length > 0) {
        await execute(
          em,
          `INSERT IGNORE INTO ostmesh_capture_claim (kind, row_id, outbox_id) VALUES ${claims.map(() => "(?, ?, ?)").join(", ")}`,
          claims.flatMap((c) => [c.kind, c.rowId, c.outboxId]),
        );
      }
      cursor.advance();
      if (rows.length < this.#o.batchSize) break;
    }
  }

  #touch(ticketId: number, ts: number): void {
    const list = this.#touches.get(ticketId) ?? [];
    list.push(ts);
    const horizon = Date.now() / 1000 - this.#o.outboxLookbackMs / 1000;
    this.#touches.set(
      ticketId,
      list.filter((t) => t >= horizon),
    );
  }

  #ostmeshState(ticketId: number, ts: number, event: Event): void {
    const horizon = Date.now() / 1000 - this.#o.outboxLookbackMs / 1000;
    const list = (this.#ostmeshStates.get(ticketId) ?? []).filter((s) => s.ts >= horizon);
    list.push({ ts, values: ostmeshTicketValues(event) });
    this.#ostmeshStates.set(ticketId, list);
  }

  async #decidedIds(em: EntityManager, candidates: readonly Candidate[]): Promise<Set<string>> {
    const decided = new Set<string>();
    for (const source of ["event", "entry"] as const) {
      const ids = candidates.filter((c) => c.source === source).map((c) => c.id);
      if (ids.length === 0) continue;
      const rows = await query(
        em,
        `SELECT row_id FROM ostmesh_capture_published WHERE source = ? AND row_id IN (${ids.map(() => "?").join(",")})`,
        [source, ...ids],
      );
      for (const r of rows) decided.add(`${source}:${num(r.row_id)}`);
    }
    return decided;
  }

  async #claimsFor(em: EntityManager, candidates: readonly Candidate[]): Promise<Set<string>> {
    const wanted: [string, number][] = [];
    for (const c of candidates) {
      wanted.push([c.source, c.id]);
      if (isTicketThread(c.row)) wanted.push(["created", num(c.row.object_id)]);
    }
    const claims = new Set<string>();
    for (let i = 0; i < wanted.length; i += 500) {
      const chunk = wanted.slice(i, i + 500);
      const rows = await query(
        em,
        `SELECT kind, row_id FROM ostmesh_capture_claim WHERE (kind, row_id) IN (${chunk.map(() => "(?, ?)").join(", ")})`,
        chunk.flat(),
      );
      for (const r of rows) claims.add(`${str(r.kind)}:${num(r.row_id)}`);
    }
    return claims;
  }

  async #isOstmesh(em: EntityManager, candidate: Candidate, claims: ReadonlySet<string>): Promise<boolean> {
    if (claims.has(`${candidate.source}:${candidate.id}`)) return true;
    const row = candidate.row;
    if (!isTicketThread(row)) return false;
    const ticketId = num(row.object_id);
    if (claims.has(`created:${ticketId}`)) {
      // A ticket ostmesh created: its `created` thread event, and entries written before its first message
      // (osTicket's "File Import Error" notes) belong to the creation; later rows are judged on their own.
      if (candidate.source === "event" && str(row.event_name) === "created") {
        const created = num(row.ticket_created);
        if (created > 0 && candidate.ts - created <= this.#o.creationWindowMs / 1000) return true;
      }
      if (candidate.source === "entry") {
        const [first] = await query(
          em,
          "SELECT MIN(id) AS id FROM ost_thread_entry WHERE thread_id = ? AND type = 'M'",
          [num(row.thread_id)],
        );
        if (num(first?.id) > candidate.id) return true;
      }
    }
    if (candidate.source === "event") {
      const window = this.#o.touchWindowMs / 1000;
      return (this.#touches.get(ticketId) ?? []).some((t) => Math.abs(t - candidate.ts) <= window);
    }
    return false;
  }

  /** Whether an entry is its ticket's first message (ORIGINAL_MESSAGE, or the lowest message id). */
  async #isFirstMessage(em: EntityManager, row: Row): Promise<boolean> {
    if (str(row.type) !== "M") return false;
    if ((num(row.flags) & ORIGINAL_MESSAGE) !== 0) return true;
    const [first] = await query(
      em,
      "SELECT MIN(id) AS id FROM ost_thread_entry WHERE thread_id = ? AND type = 'M' AND pid = 0",
      [num(row.thread_id)],
    );
    return num(first?.id) === num(row.id) && num(row.pid) === 0;
  }

  async #firstMessage(em: EntityManager, threadId: number): Promise<ThreadEntry | undefined> {
    const [row] = await query(
      em,
      `SELECT ${ENTRY_COLUMNS} FROM ost_thread_entry e WHERE e.thread_id = ? AND e.type = 'M' AND e.pid = 0 ORDER BY e.id LIMIT 1`,
      [threadId],
    );
    return row ? entryFromRow(row) : undefined;
  }

  async #statuses(em: EntityManager): Promise<Map<number, StatusInfo>> {
    const rows = await query(em, "SELECT id, name, state FROM ost_ticket_status");
    return new Map(
      rows.map((r) => [num(r.id), { id: num(r.id), name: str(r.name), state: ticketState(r.state) }]),
    );
  }

  async #housekeeping(em: EntityManager): Promise<void> {
    const now = Date.now();
    if (now - this.#lastHousekeeping < 60_000) return;
    this.#lastHousekeeping = now;
    const age = this.#o.retentionMs * 1000;
    await execute(
      em,
      "DELETE FROM ostmesh_capture_published WHERE created_at < NOW(6) - INTERVAL ? MICROSECOND LIMIT 10000",
      [age],
    );
    await execute(
      em,
      "DELETE FROM ostmesh_capture_claim WHERE created_at < NOW(6) - INTERVAL ? MICROSECOND LIMIT 10000",
      [age],
    );
    await this.#tickets.housekeeping(em);
    await this.#saveCursors(em);
  }
}

/** Rows per multi-row INSERT of decisions. */
const DECISION_CHUNK = 500;

/** Records decisions that publish nothing (ostmesh's rows, ignored rows): INSERT IGNORE, DECISION_CHUNK rows a statement. */
async function recordDecisions(
  em: EntityManager,
  decisions: readonly { candidate: Candidate; outcome: "published" | "ostmesh" | "ignored" }[],
): Promise<void> {
  for (let i = 0; i < decisions.length; i += DECISION_CHUNK) {
    const chunk = decisions.slice(i, i + DECISION_CHUNK);
    await execute(
      em,
      `INSERT IGNORE INTO ostmesh_capture_published (source, row_id, outcome, event_id) VALUES ${chunk.map(() => "(?, ?, ?, ?)").join(", ")}`,
      chunk.flatMap(({ candidate, outcome }) => [
        candidate.source,
        candidate.id,
        outcome,
        candidate.source === "event" ? threadEventId(candidate.id) : threadEntryEventId(candidate.id),
      ]),
    );
  }
}

function decodeOutboxPayload(payload: unknown): Event | undefined {
  if (!(payload instanceof Uint8Array)) return undefined;
  try {
    return fromBinary(EventSchema, payload);
  } catch {
    return undefined;
  }
}

/** The outbox row of an event: subject `<prefix>.<aggregate>.<event>`, payload the binary Event. */
export function outboxEventOf(event: Event, stream: Pick<EventStreamDefinition, "subjectPrefix">) {
  const payloadType = event.payload.value?.$typeName ?? "osticket.events.v1.Event";
  return {
    subject: eventSubject(stream, ...event.type.split(".")),
    eventType: payloadType,
    aggregateType: event.type.split(".")[0] ?? "ticket",
    aggregateId: event.aggregate?.id ?? 0,
    payload: toBinary(EventSchema, event),
  };
}
