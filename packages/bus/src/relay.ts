import { createHash } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import mysql from "mysql2/promise";
import { defaultLogger, describeError, type Logger } from "./log.ts";
import { AGGREGATE_ID_HEADER, AGGREGATE_TYPE_HEADER, EVENT_TYPE_HEADER } from "./outbox.ts";
import { busTracer, headerProblem, toNatsHeaders } from "./trace.ts";

/** Plain callbacks the relay reports through (see `relayPrometheusMetrics` for a prom-client adapter). */
export interface RelayMetricsHooks {
  /** Unpublished rows and the age of the oldest one (0 when none); reported by the leader. */
  backlog?(pending: number, oldestLagSeconds: number): void;
  /** Rows published and marked in one batch. */
  published?(count: number): void;
  /** Rows whose publish failed in one batch (they are retried with backoff). */
  failed?(count: number): void;
  leader?(isLeader: boolean): void;
  /** Duration of one batch (select, publish, mark). */
  batch?(rows: number, seconds: number): void;
}

export interface OutboxRelayOptions {
  /** DATABASE_URL of the osTicket database holding ostmesh_outbox; the relay opens its own connections. */
  databaseUrl: string;
  js: JetStreamClient;
  /** With `wakeSubject`: the relay also wakes on a core NATS message, so writers in other processes can nudge it. */
  nc?: NatsConnection;
  wakeSubject?: string;
  /** Rows per batch (default 100). */
  batchSize?: number;
  /** Idle poll interval (default 250 ms); `notify()` wakes the relay sooner. */
  pollIntervalMs?: number;
  /**
   * How often a standby tries to take the lease (default 1 s). Wake-ups (`notify()`, the wake subject) are
   * for the leader: a standby does not ask for the lease on each of them, which would cost a GET_LOCK per
   * commit in every standby.
   */
  standbyRetryMs?: number;
  /**
   * The lease connection's `wait_timeout`: if the leader's host vanishes without closing its socket, MySQL
   * drops the connection (releasing the lock) after this many idle seconds (default 30).
   */
  leaseTimeoutSeconds?: number;
  /** PubAck timeout (default 5 s). */
  publishTimeoutMs?: number;
  /** Retry backoff: doubling from `initialMs` up to `maxMs` (defaults 500 ms and 30 s), with jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Published rows older than this are deleted (default 7 days). */
  retentionMs?: number;
  housekeepingIntervalMs?: number;
  metricsIntervalMs?: number;
  metrics?: RelayMetricsHooks;
  logger?: Logger;
  /** MySQL named lock; default `ostmesh_outbox_relay_<database>` (hashed if longer than 64 characters). */
  lockName?: string;
  /**
   * The bytes published for a row (default: its payload as stored), e.g. to put the row id into a payload
   * written before the id existed. Called on every publish attempt; must not throw.
   */
  preparePayload?(row: { id: string; eventType: string; payload: Uint8Array }): Uint8Array;
  /** Test hook: runs after the PubAcks of a batch and before the rows are marked published. */
  afterPublish?(ids: readonly string[]): void | Promise<void>;
}

interface OutboxRow {
  id: string;
  subject: string;
  event_type: string;
  aggregate_type: string;
  aggregate_id: string;
  payload: Buffer;
  headers: string | null;
  attempts: number;
  due: number;
}

interface Failure {
  row: OutboxRow;
  error: string;
}

/** How many blocked aggregates the batch query excludes up front (the rest are still skipped in code). */
const MAX_EXCLUDED_AGGREGATES = 200;
const HOUSEKEEPING_CHUNK = 1000;
/** How rows are decoded on both of the relay's connections: ids and dates as strings. */
const ROW_OPTIONS = { supportBigNumbers: true, bigNumberStrings: true, dateStrings: true } as const;

/**
 * Publishes ostmesh_outbox rows to JetStream, in id order, exactly once as far as consumers can tell.
 *
 * - One leader per database: a MySQL named lock (`GET_LOCK(name, 0)`) held on a dedicated connection.
 *   If that connection drops, the lock is released and a standby takes over. The leader re-checks the lock
 *   with every batch, in the round trip that selects the batch's rows on that connection; a brief overlap of
 *   two leaders is absorbed by `Nats-Msg-Id` = outbox id.
 * - Per-aggregate order: rows of one aggregate are published one after the other (the next only after the
 *   previous PubAck), different aggregates concurrently. A row that fails blocks the later rows of its
 *   aggregate until it is published; other aggregates carry on.
 * - The table is the only state: a crash between PubAck and marking republishes the row, and JetStream
 *   drops the duplicate within the stream's duplicate window.
 */
export class OutboxRelay {
  readonly #opts: Required<
    Pick<
      OutboxRelayOptions,
      | "batchSize"
      | "pollIntervalMs"
      | "standbyRetryMs"
      | "leaseTimeoutSeconds"
      | "publishTimeoutMs"
      | "retentionMs"
      | "housekeepingIntervalMs"
      | "metricsIntervalMs"
    >
  >;
  readonly #options: OutboxRelayOptions;
  readonly #logger: Logger;
  readonly #metrics: RelayMetricsHooks;
  readonly #backoffInitial: number;
  readonly #backoffMax: number;
  #pool: mysql.Pool | undefined;
  #lockConn: mysql.Connection | undefined;
  #lockName: string | undefined;
  #leader = false;
  /** Set while rows may be waiting for a retry: batches then look up and skip blocked aggregates. */
  #mayHaveRetries = true;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #woken = false;
  #wakeSub: Subscription | undefined;
  #lastHousekeeping = 0;
  #lastMetrics = 0;

  constructor(options: OutboxRelayOptions) {
    this.#options = options;
    this.#opts = {
      batchSize: options.batchSize ?? 100,
      pollIntervalMs: options.pollIntervalMs ?? 250,
      standbyRetryMs: options.standbyRetryMs ?? 1_000,
      leaseTimeoutSeconds: options.leaseTimeoutSeconds ?? 30,
      publishTimeoutMs: options.publishTimeoutMs ?? 5_000,
      retentionMs: options.retentionMs ?? 7 * 24 * 3_600_000,
      housekeepingIntervalMs: options.housekeepingIntervalMs ?? 60_000,
      metricsIntervalMs: options.metricsIntervalMs ?? 5_000,
    };
    this.#backoffInitial = options.backoff?.initialMs ?? 500;
    this.#backoffMax = options.backoff?.maxMs ?? 30_000;
    this.#logger = options.logger ?? defaultLogger("relay");
    this.#metrics = options.metrics ?? {};
    if (this.#opts.batchSize < 1) throw new Error("batchSize must be at least 1");
  }

  /** Starts the relay loop (standby until it holds the lease). */
  start(): this {
    if (this.#loop) return this;
    const { nc, wakeSubject } = this.#options;
    if (nc && wakeSubject) this.#wakeSub = nc.subscribe(wakeSubject, { callback: () => this.notify() });
    this.#loop = this.#run();
    return this;
  }

  /** Wakes the relay now (call after committing a transaction that wrote outbox rows). */
  notify(): void {
    this.#woken = true;
    this.#wake?.();
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Stops after the batch in flight has been published and marked, then releases the lease. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.notify();
    await this.#loop;
    this.#wakeSub?.unsubscribe();
    await this.#stepDown("stopping");
    await this.#pool?.end().catch(() => {});
    this.#pool = undefined;
  }

  async #run(): Promise<void> {
    let errorDelay = this.#opts.pollIntervalMs;
    while (!this.#stopping) {
      try {
        if (!this.#leader && !(await this.#acquire())) {
          await this.#sleep(this.#opts.standbyRetryMs, false);
          continue;
        }
        const rows = await this.#relayBatch();
        // The batch's selection confirmed the lease, or found it lost (the relay has stepped down).
        if (!this.#leader) continue;
        await this.#periodic();
        errorDelay = this.#opts.pollIntervalMs;
        if (rows < this.#opts.batchSize) await this.#sleep(this.#opts.pollIntervalMs);
      } catch (error) {
        this.#logger.error({ error: describeError(error) }, "outbox relay cycle failed");
        await this.#sleep(errorDelay);
        errorDelay = Math.min(errorDelay * 2, 10_000);
      }
    }
  }

  /**
   * Waits `ms`, or less if `notify()` is called; a notify that came while busy ends the next wait at once.
   * A wait that is not `wakeable` (a standby's) ends early only to stop; the notify is kept for later.
   */
  #sleep(ms: number, wakeable = true): Promise<void> {
    if (this.#stopping || (wakeable && this.#woken)) {
      if (wakeable) this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        if (this.#wake === finish || this.#wake === onWake) this.#wake = undefined;
        if (wakeable) this.#woken = false;
        resolve();
      };
      const onWake = () => {
        if (wakeable || this.#stopping) finish();
      };
      const timer = setTimeout(finish, ms);
      this.#wake = onWake;
    });
  }

  #getPool(): mysql.Pool {
    this.#pool ??= mysql.createPool({
      uri: this.#options.databaseUrl,
      connectionLimit: 2,
      maxIdle: 2,
      ...ROW_OPTIONS,
      enableKeepAlive: true,
    });
    return this.#pool;
  }

  async #resolveLockName(conn: mysql.Connection): Promise<string> {
    if (this.#options.lockName) return this.#options.lockName;
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT DATABASE() AS db");
    const name = `ostmesh_outbox_relay_${String(rows[0]?.db ?? "")}`;
    // MySQL caps lock names at 64 characters.
    return name.length <= 64
      ? name
      : `ostmesh_outbox_relay_${createHash("sha256").update(name).digest("hex").slice(0, 40)}`;
  }

  async #acquire(): Promise<boolean> {
    if (!this.#lockConn) {
      // The batches' rows are read here too, with the lease check (ROW_OPTIONS as the pool's).
      const conn = await mysql.createConnection({
        uri: this.#options.databaseUrl,
        ...ROW_OPTIONS,
        multipleStatements: true,
      });
      conn.on("error", (error: unknown) => {
        if (this.#lockConn !== conn) return;
        this.#logger.warn({ error: describeError(error) }, "outbox relay lease connection lost");
        void this.#stepDown("lease connection lost");
      });
      try {
        await conn.query(
          `SET SESSION wait_timeout = ${Math.max(1, Math.floor(this.#opts.leaseTimeoutSeconds))}`,
        );
        this.#lockName ??= await this.#resolveLockName(conn);
      } catch (error) {
        conn.destroy();
        throw error;
      }
      this.#lockConn = conn;
    }
    try {
      const [rows] = await this.#lockConn.query<mysql.RowDataPacket[]>("SELECT GET_LOCK(?, 0) AS got", [
        this.#lockName,
      ]);
      if (Number(rows[0]?.got) !== 1) return false;
    } catch (error) {
      await this.#dropLockConnection();
      throw error;
    }
    this.#leader = true;
    // Another leader may have left rows waiting for a retry: look before trusting the fast path.
    this.#mayHaveRetries = true;
    this.#lastMetrics = 0;
    this.#metrics.leader?.(true);
    this.#logger.info({ lock: this.#lockName }, "outbox relay is the leader");
    return true;
  }

  /**
   * Runs `sql` on the lease connection in one round trip with the lease check (which also keeps that
   * connection from idling out): its rows while this relay still holds the lock, `undefined` once it has
   * stepped down because the lock is gone or the connection failed. A statement the server refuses on a
   * live connection fails the cycle as any failing read does; the lease stands and is checked again next.
   */
  async #leasedRows<T extends mysql.RowDataPacket>(sql: string, values: unknown[]): Promise<T[] | undefined> {
    const conn = this.#lockConn;
    if (!conn) {
      await this.#stepDown("no lease connection");
      return undefined;
    }
    let lease: mysql.RowDataPacket[];
    let rows: T[];
    try {
      const [results] = await conn.query<[mysql.RowDataPacket[], T[]]>({
        sql: `SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine; ${sql}`,
        values: [this.#lockName, ...values],
        timeout: 5_000,
      });
      [lease, rows] = results;
    } catch (error) {
      if (refusedStatement(error)) throw error;
      this.#logger.warn({ error: describeError(error) }, "outbox relay cannot confirm its lease");
      await this.#stepDown("lease not confirmed");
      return undefined;
    }
    if (Number(lease[0]?.mine) === 1) return rows;
    this.#logger.warn({ lock: this.#lockName }, "outbox relay lost its lease");
    await this.#stepDown("lease not confirmed");
    return undefined;
  }

  async #stepDown(reason: string): Promise<void> {
    const wasLeader = this.#leader;
    this.#leader = false;
    const conn = this.#lockConn;
    if (conn && reason === "stopping") {
      // Release explicitly so a standby can take over at once (closing would release it too).
      await conn.query("SELECT RELEASE_LOCK(?)", [this.#lockName]).catch(() => {});
    }
    await this.#dropLockConnection();
    if (wasLeader) {
      this.#metrics.leader?.(false);
      this.#logger.info({ lock: this.#lockName, reason }, "outbox relay stepped down");
    }
  }

  async #dropLockConnection(): Promise<void> {
    const conn = this.#lockConn;
    this.#lockConn = undefined;
    if (!conn) return;
    await conn.end().catch(() => conn.destroy());
  }

  /** Rows of aggregates that have a row waiting for a retry, from the first waiting row on. */
  async #blockedAggregates(): Promise<{ type: string; id: string; from: string }[]> {
    const [rows] = await this.#getPool().query<mysql.RowDataPacket[]>(
      "SELECT aggregate_type AS type, aggregate_id AS id, MIN(id) AS `from` FROM ostmesh_outbox" +
        " WHERE published_at IS NULL AND next_attempt_at > NOW(6)" +
        " GROUP BY aggregate_type, aggregate_id ORDER BY MIN(id) LIMIT ?",
      [MAX_EXCLUDED_AGGREGATES],
    );
    return rows.map((r) => ({ type: String(r.type), id: String(r.id), from: String(r.from) }));
  }

  /**
   * One batch, while leader: select up to `batchSize` unpublished rows in id order (with the lease check),
   * publish, mark. Returns how many rows the select returned (0 when the lease was lost).
   */
  async #relayBatch(): Promise<number> {
    const started = performance.now();
    const pool = this.#getPool();
    let exclusion = "";
    const params: unknown[] = [];
    if (this.#mayHaveRetries) {
      const blocked = await this.#blockedAggregates();
      if (blocked.length === 0) this.#mayHaveRetries = false;
      else {
        exclusion = ` AND NOT (${blocked.map(() => "(aggregate_type = ? AND aggregate_id = ? AND id >= ?)").join(" OR ")})`;
        for (const b of blocked) params.push(b.type, b.id, b.from);
      }
    }
    const selected = await this.#leasedRows<OutboxRow & mysql.RowDataPacket>(
      "SELECT id, subject, event_type, aggregate_type, aggregate_id, payload, headers, attempts," +
        " (next_attempt_at IS NULL OR next_attempt_at <= NOW(6)) AS due" +
        ` FROM ostmesh_outbox WHERE published_at IS NULL${exclusion} ORDER BY id LIMIT ?`,
      [...params, this.#opts.batchSize],
    );
    if (!selected || selected.length === 0) return 0;

    // Group into per-aggregate chains in id order; a row waiting for its retry blocks the rest of its chain.
    const chains = new Map<string, OutboxRow[]>();
    const blocked = new Set<string>();
    for (const row of selected) {
      const key = `${row.aggregate_type}\u0000${row.aggregate_id}`;
      if (blocked.has(key)) continue;
      if (Number(row.due) !== 1) {
        blocked.add(key);
        this.#mayHaveRetries = true;
        continue;
      }
      const chain = chains.get(key);
      if (chain) chain.push(row);
      else chains.set(key, [row]);
    }

    const published: string[] = [];
    const failures: Failure[] = [];
    await Promise.all(
      [...chains.values()].map(async (chain) => {
        for (const row of chain) {
          try {
            await this.#publish(row);
            published.push(row.id);
          } catch (error) {
            failures.push({ row, error: publishError(row.subject, error) });
            return;
          }
        }
      }),
    );

    if (published.length > 0) {
      await this.#options.afterPublish?.(published);
      await pool.query(
        "UPDATE ostmesh_outbox SET published_at = NOW(6) WHERE id IN (?) AND published_at IS NULL",
        [published],
      );
      this.#metrics.published?.(published.length);
    }
    if (failures.length > 0) {
      this.#mayHaveRetries = true;
      for (const { row, error } of failures) {
        const delayMs = this.retryDelayMs(row.attempts + 1);
        await pool.query(
          "UPDATE ostmesh_outbox SET attempts = attempts + 1," +
            " next_attempt_at = NOW(6) + INTERVAL ? MICROSECOND, last_error = ?" +
            " WHERE id = ? AND published_at IS NULL",
          [delayMs * 1000, error.slice(0, 1024), row.id],
        );
      }
      this.#metrics.failed?.(failures.length);
      const first = failures[0];
      this.#logger.warn(
        { failed: failures.length, id: first?.row.id, subject: first?.row.subject, error: first?.error },
        "outbox publish failed; will retry",
      );
    }
    this.#metrics.batch?.(selected.length, (performance.now() - started) / 1000);
    return selected.length;
  }

  async #publish(row: OutboxRow): Promise<void> {
    const values: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.#storedHeaders(row))) {
      if (headerProblem(k, v) === undefined && typeof v === "string") values[k] = v;
      else this.#logger.warn({ id: row.id, header: k }, "outbox row has an invalid header; dropped");
    }
    values[EVENT_TYPE_HEADER] = row.event_type;
    values[AGGREGATE_TYPE_HEADER] = row.aggregate_type;
    values[AGGREGATE_ID_HEADER] = row.aggregate_id;
    // The PRODUCER span continues the trace of the request that wrote the row (its stored traceparent), and
    // the published headers carry the PRODUCER span's context, so the consumers' spans hang below it.
    const parent = propagation.extract(ROOT_CONTEXT, values);
    const span = busTracer().startSpan(
      `send ${row.subject}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": "nats",
          "messaging.destination.name": row.subject,
          "messaging.operation.type": "send",
          "messaging.operation.name": "send",
          "messaging.message.id": row.id,
          "messaging.message.body.size": row.payload.byteLength,
          "ostmesh.outbox.attempts": row.attempts,
        },
      },
      parent,
    );
    propagation.inject(trace.setSpan(parent, span), values);
    try {
      const data = this.#options.preparePayload
        ? this.#options.preparePayload({ id: row.id, eventType: row.event_type, payload: row.payload })
        : row.payload;
      const ack = await this.#options.js.publish(row.subject, data, {
        msgID: row.id,
        headers: toNatsHeaders(values),
        timeout: this.#opts.publishTimeoutMs,
      });
      span.setAttributes({ "messaging.nats.stream": ack.stream, "messaging.nats.stream_sequence": ack.seq });
      if (ack.duplicate) span.setAttribute("messaging.nats.duplicate", true);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
      if (error instanceof Error) span.recordException(error);
      throw error;
    } finally {
      span.end();
    }
  }

  /** The row's stored headers; unreadable ones are logged and dropped rather than blocking the event. */
  #storedHeaders(row: OutboxRow): object {
    if (!row.headers) return {};
    try {
      const parsed: unknown = JSON.parse(row.headers);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed;
    } catch {
      // fall through
    }
    this.#logger.warn({ id: row.id }, "outbox row has unreadable headers; publishing without them");
    return {};
  }

  /** Backoff before retry number `attempt` (1-based): doubling, capped, with ±20 % jitter. */
  retryDelayMs(attempt: number): number {
    const base = Math.min(this.#backoffMax, this.#backoffInitial * 2 ** Math.max(0, attempt - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  async #periodic(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastMetrics >= this.#opts.metricsIntervalMs) {
      this.#lastMetrics = now;
      await this.reportBacklog();
    }
    if (now - this.#lastHousekeeping >= this.#opts.housekeepingIntervalMs) {
      this.#lastHousekeeping = now;
      await this.housekeep();
    }
  }

  /** Counts unpublished rows and the age of the oldest; reports them through the `backlog` hook. */
  async reportBacklog(): Promise<{ pending: number; oldestLagSeconds: number }> {
    const [rows] = await this.#getPool().query<mysql.RowDataPacket[]>(
      // created_at is written in the writers' session zone, SYSTEM (as osTicket and @ostmesh/db set it).
      "SELECT COUNT(*) AS pending," +
        " TIMESTAMPDIFF(MICROSECOND, MIN(created_at), CONVERT_TZ(NOW(6), @@session.time_zone, 'SYSTEM')) AS lag" +
        " FROM ostmesh_outbox WHERE published_at IS NULL",
    );
    const pending = Number(rows[0]?.pending ?? 0);
    const oldestLagSeconds = pending > 0 ? Math.max(0, Number(rows[0]?.lag ?? 0) / 1e6) : 0;
    this.#metrics.backlog?.(pending, oldestLagSeconds);
    return { pending, oldestLagSeconds };
  }

  /** Deletes rows published longer ago than the retention, in chunks; returns how many. */
  async housekeep(): Promise<number> {
    let total = 0;
    for (;;) {
      const [result] = await this.#getPool().query<mysql.ResultSetHeader>(
        "DELETE FROM ostmesh_outbox WHERE published_at < NOW(6) - INTERVAL ? MICROSECOND LIMIT ?",
        [this.#opts.retentionMs * 1000, HOUSEKEEPING_CHUNK],
      );
      total += result.affectedRows;
      if (result.affectedRows < HOUSEKEEPING_CHUNK || this.#stopping) break;
    }
    if (total > 0) this.#logger.info({ deleted: total }, "outbox housekeeping");
    return total;
  }
}

/** An error the server answered for a statement (it has an SQLSTATE), as opposed to a failed connection. */
function refusedStatement(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    "sqlState" in error &&
    typeof error.sqlState === "string" &&
    !("fatal" in error && error.fatal === true)
  );
}

/** `last_error` text; JetStream reports "no stream captures this subject" as a no-responders error. */
function publishError(subject: string, error: unknown): string {
  const text = describeError(error);
  return /no responders/i.test(text) ? `no JetStream stream captures subject ${subject} (${text})` : text;
}

/** Creates and starts a relay. */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  return new OutboxRelay(options).start();
}
