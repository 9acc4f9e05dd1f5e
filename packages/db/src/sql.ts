import type { EventSubscriber, TransactionEventArgs } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/mysql";
import { CompiledQuery, type DatabaseConnection, type Transaction } from "kysely";
import { controlsTransactions, heldCountOf, holdForCommit, holdTransactionControl } from "./held.ts";

/** A row as mysql2 returns it: DATETIME values are strings, BIGINTs beyond 2^53 strings. */
export type Row = Record<string, unknown>;

export interface ExecuteResult {
  affectedRows: number;
  /** AUTO_INCREMENT id of the first inserted row (0 when none). */
  insertId: number;
}

/**
 * Runs a SELECT with `?` placeholders through `em`'s connection — inside `em`'s transaction when there is
 * one, so raw SQL (e.g. writes that need `NOW()`) and entity changes commit or roll back together.
 */
export async function query<T extends Row = Row>(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
): Promise<T[]> {
  const [result] = await runOnConnection(em, [{ sql, params }], {}, "query");
  return Array.isArray(result) ? (result.filter(isRow) as T[]) : [];
}

/** Like `query`, for INSERT/UPDATE/DELETE: returns affected rows and the insert id. */
export async function execute(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
): Promise<ExecuteResult> {
  const [result] = await runOnConnection(em, [{ sql, params }], {}, "query");
  return executeResult(result);
}

function executeResult(result: PreparedResult | undefined): ExecuteResult {
  if (!result || Array.isArray(result)) return { affectedRows: 0, insertId: 0 };
  return { affectedRows: Number(result.affectedRows ?? 0), insertId: Number(result.insertId ?? 0) };
}

/**
 * Runs several writes in order in one round trip (on a `multipleStatements` pool; one after another
 * elsewhere) and returns each one's result; a later statement may use an earlier one's id through
 * `LAST_INSERT_ID()`. The first statement that fails stops the rest and its own error is thrown.
 */
export async function executeBatch(
  em: EntityManager,
  statements: readonly Statement[],
): Promise<ExecuteResult[]> {
  if (statements.length === 0) return [];
  return (await runOnConnection(em, statements, {}, "query")).map(executeResult);
}

/** One statement with its `?` placeholders' values. */
export interface Statement {
  readonly sql: string;
  readonly params?: readonly unknown[];
}

/**
 * Queues a write whose result nobody reads (an UPDATE, an INSERT whose id is not needed) on `em`'s
 * transaction instead of running it now. Queued statements go to the server, in order, in the same round
 * trip as the next statement this module runs on that transaction (`query`, `execute`, `queryBatch`, ...),
 * or when `flushDeferred` is called; they are never reordered with those statements. A queued statement
 * that fails makes the statement it travels with fail. Whatever is still queued is sent before the
 * transaction commits and forgotten when it rolls back (DeferredStatementsSubscriber); MikroORM's own
 * queries (`em.execute`, `em.find`, ...) do not send them, so call `flushDeferred` before one of those if it
 * must see them. Outside a transaction this is an error.
 *
 * Several statements travel in one round trip only on a pool made with `multipleStatements` (createOrm);
 * elsewhere they are sent one by one, still in order.
 *
 * `onResult` is for a write whose result is wanted, just not at once (an INSERT whose id goes into an event
 * written later): it is called with the statement's result as soon as the statement has travelled, before
 * the statement it travelled with returns. Whoever reads what it records calls `settleDeferred` first.
 */
export function defer(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
  onResult?: (result: ExecuteResult) => void,
): void {
  enqueue(em, onResult ? { sql, params, onResult } : { sql, params }, "defer");
}

/**
 * Like `defer`, for a write that may fail in a way its author can make up for (a table osTicket rebuilds
 * lacking a column, say): when it fails, `recover` is called with its error and may run statements of its
 * own on the transaction; when it resolves true the transaction goes on as if the write had succeeded —
 * what was queued after it and the statement it travelled with are sent again, with `LAST_INSERT_ID()` as
 * the statement before it left it — and false (or a rejection) fails the call it travelled with as any
 * deferred failure does. A failing statement leaves the transaction as it was before it (MySQL rolls back
 * the statement, not the transaction), so nothing is half-written. Such a write never travels with the
 * `commit`: whatever is still queued when the transaction ends then goes in a round trip of its own.
 */
export function deferRecoverable(
  em: EntityManager,
  sql: string,
  params: readonly unknown[],
  recover: (error: unknown) => Promise<boolean>,
): void {
  enqueue(em, { sql, params, recover }, "deferRecoverable");
}

function enqueue(em: EntityManager, entry: QueuedStatement, caller: string): void {
  const transaction = em.getTransactionContext<object>();
  if (!transaction) throw new Error(`${caller}: no transaction on this EntityManager`);
  const root = rootOf(transaction);
  const queue = deferred.get(root);
  if (queue) queue.push(entry);
  else deferred.set(root, [entry]);
}

/**
 * A deferred statement, what wants its result (an INSERT's id) once it has been sent, and what makes up
 * for its failure (deferRecoverable).
 */
interface QueuedStatement extends Statement {
  readonly onResult?: (result: ExecuteResult) => void;
  readonly recover?: (error: unknown) => Promise<boolean>;
}

/**
 * Sends the queue of `em`'s transaction if a statement in it was deferred with an `onResult` callback
 * that has not been called yet (nothing is sent otherwise). Call it before reading what such callbacks
 * record.
 */
export async function settleDeferred(em: EntityManager): Promise<void> {
  if (hasUnsettledDeferred(em)) await flushDeferred(em);
}

/** Whether a statement of `em`'s transaction's queue still waits to report its result (see `defer`). */
export function hasUnsettledDeferred(em: EntityManager): boolean {
  const transaction = em.getTransactionContext<object>();
  return transaction !== undefined && (deferred.get(rootOf(transaction))?.some((s) => s.onResult) ?? false);
}

/** Sends the statements `defer` queued on `em`'s transaction (one round trip where the pool allows). */
export async function flushDeferred(em: EntityManager): Promise<void> {
  const transaction = em.getTransactionContext<Transaction<unknown>>();
  if (transaction) await sendQueued(em, transaction);
}

/** Sends what is queued for `transaction`'s queue, if anything (no statements of its own). */
async function sendQueued(em: EntityManager, transaction: Transaction<unknown>): Promise<void> {
  if (deferred.get(rootOf(transaction))?.length) await runOnConnection(em, [], {}, "query", transaction);
}

/**
 * Moves what is queued for `transaction` onto its connection to travel in front of the `commit` (held.ts);
 * false when the connection does not hold transaction control (then nothing moved).
 */
async function holdQueuedForCommit(em: EntityManager, transaction: Transaction<unknown>): Promise<boolean> {
  const queue = deferred.get(rootOf(transaction));
  if (!queue?.length) return true;
  // A statement whose result someone waits for, or whose failure someone makes up for, is sent on its own
  // (the commit's results are not read, and a failure there could not be followed by the commit).
  if (queue.some((s) => s.onResult || s.recover)) return false;
  const pool = await em.getConnection().getNativeClient();
  const raw = await transaction.getExecutor().provideConnection((wrapper) => rawConnectionOf(wrapper, pool));
  if (!raw || !controlsTransactions(raw)) return false;
  const started = Date.now();
  holdForCommit(
    raw,
    queue.splice(0).map(({ sql, params = [] }) => {
      logPrepared(em, sql, started, undefined, "info");
      return raw.format(sql, [...params]);
    }),
  );
  return true;
}

/**
 * Makes every connection of a `multipleStatements` pool hold transaction control for the next statement
 * (held.ts): `begin` travels with a transaction's first statement, `commit` with the writes still deferred.
 */
export function holdTransactionControlIn(pool: object): void {
  const control = (raw: unknown) => {
    if (isRawConnection(raw)) holdTransactionControl(raw, deferredFailure);
  };
  for (const raw of poolConnections(pool)) control(raw);
  const on: unknown = Reflect.get(pool, "on");
  if (typeof on === "function") Reflect.apply(on, pool, ["connection", control]);
}

function deferredFailure(cause: unknown, deferredCount: number): Error {
  return new DeferredBatchError(cause, deferredCount);
}

/** Forgets the statements `defer` queued on `em`'s transaction. */
export function discardDeferred(em: EntityManager): void {
  const transaction = em.getTransactionContext<object>();
  if (transaction) deferred.delete(rootOf(transaction));
}

/**
 * Keeps deferred statements inside their transaction's life (createOrm registers it). A transaction and its
 * savepoints share one queue (one connection, one order): it is sent before the transaction commits and
 * before a savepoint opens (so what a savepoint queues is all the queue holds until it ends), and dropped
 * when the transaction or a savepoint rolls back.
 */
export class DeferredStatementsSubscriber implements EventSubscriber {
  /** A savepoint is about to open in `transaction` (MikroORM names the outer transaction here). */
  async beforeTransactionStart({ em, transaction }: TransactionEventArgs): Promise<void> {
    if (!transaction) return;
    savepointParents.set(em, transaction);
    await sendQueued(em as EntityManager, transaction as unknown as Transaction<unknown>);
  }

  afterTransactionStart({ em, transaction }: TransactionEventArgs): void {
    const parent = savepointParents.get(em);
    savepointParents.delete(em);
    if (transaction && parent && "savepointName" in transaction) parentOf.set(transaction, parent);
  }

  async beforeTransactionCommit({ em, transaction }: TransactionEventArgs): Promise<void> {
    if (!transaction) return;
    const trx = transaction as unknown as Transaction<unknown>;
    // The outermost transaction's queue travels with its `commit` where the connection allows (held.ts).
    if (!("savepointName" in transaction) && (await holdQueuedForCommit(em as EntityManager, trx))) return;
    await sendQueued(em as EntityManager, trx);
  }

  beforeTransactionRollback({ transaction }: TransactionEventArgs): void {
    if (transaction) deferred.delete(rootOf(transaction));
  }
}

/** Whether `em`'s transaction holds deferred statements not sent yet. */
export function hasDeferred(em: EntityManager): boolean {
  const transaction = em.getTransactionContext<object>();
  return transaction !== undefined && (deferred.get(rootOf(transaction))?.length ?? 0) > 0;
}

/**
 * `query` and `queryBatch` bound to one EntityManager, as a function with a `batch` method: the shape code
 * that only reads takes (e.g. @ostmesh/kit's auth `SqlQuery`), so it can send several reads in one round trip.
 */
export function sqlReader(em: EntityManager): ((
  sql: string,
  params?: readonly unknown[],
) => Promise<Row[]>) & {
  batch(statements: readonly Statement[]): Promise<Row[][]>;
} {
  return Object.assign((sql: string, params: readonly unknown[] = []) => query(em, sql, params), {
    batch: (statements: readonly Statement[]) => queryBatch(em, statements),
  });
}

/** Statements that read something, and how their results (one row list per statement) become it. */
export interface BatchRead<T> {
  readonly statements: readonly Statement[];
  read(results: readonly (readonly Row[])[]): T;
}

/** A read of nothing that gives `value`: a BatchRead slot a caller sometimes has no statements for. */
export function noRead<T>(value: T): BatchRead<T> {
  return { statements: [], read: () => value };
}

/** Two reads as one: their statements go in one round trip, each gets its own results. */
export function bothReads<A, B>(a: BatchRead<A>, b: BatchRead<B>): BatchRead<[A, B]> {
  const split = a.statements.length;
  return {
    statements: [...a.statements, ...b.statements],
    read: (results) => [a.read(results.slice(0, split)), b.read(results.slice(split))],
  };
}

/** Runs a BatchRead's statements in one round trip (see queryBatch) and reads its value from them. */
export async function runBatchRead<T>(em: EntityManager, read: BatchRead<T>): Promise<T> {
  return read.read(await queryBatch(em, read.statements));
}

/**
 * Runs several SELECTs in one round trip (on a `multipleStatements` pool; one after another elsewhere) and
 * returns each one's rows, in order. Statements `defer` queued go first.
 */
export async function queryBatch(em: EntityManager, statements: readonly Statement[]): Promise<Row[][]> {
  if (statements.length === 0) return [];
  const results = await runOnConnection(em, statements, {}, "query");
  return results.map((result) => (Array.isArray(result) ? result.filter(isRow) : []));
}

export interface ServerTime {
  /** `NOW()` on the DB server, `YYYY-MM-DD HH:MM:SS`, in the zone osTicket's timestamps are written in. */
  now: string;
  /**
   * The zone NOW() is evaluated in, found the way osTicket finds it: `@@global.time_zone`, or
   * `@@global.system_time_zone` when that is `SYSTEM` (e.g. `UTC`, `CET`, `+02:00`).
   */
  timeZone: string;
  /** The session's offset from UTC right now, in minutes (e.g. 120 for UTC+2). */
  utcOffsetMinutes: number;
}

/** Reads the DB server's clock and time zone (osTicket timestamps carry no zone of their own). */
export async function serverTime(em: EntityManager): Promise<ServerTime> {
  const [row] = await query<{ now: string; tz: string; systz: string; utcOffset: number | string }>(
    em,
    "SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now, @@global.time_zone AS tz," +
      " @@global.system_time_zone AS systz, TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), NOW()) AS utcOffset",
  );
  if (!row) throw new Error("the database returned no row for NOW()");
  return {
    now: row.now,
    timeZone: row.tz === "SYSTEM" ? row.systz : row.tz,
    utcOffsetMinutes: Number(row.utcOffset),
  };
}

export interface PreparedOptions {
  /** Checked before the statement is sent and once it returns (a running statement is not interrupted). */
  signal?: AbortSignal;
}

/**
 * Runs a SELECT as a server-side prepared statement (MySQL binary protocol) on `em`'s connection: inside
 * `em`'s transaction when it has one, so it sees that transaction's uncommitted writes. BLOB columns come
 * back as Buffers without any text escaping in between. Use a fixed SQL text with `?` placeholders: the
 * driver keeps each distinct text prepared per connection.
 */
export async function queryPrepared<T extends Row = Row>(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
  options: PreparedOptions = {},
): Promise<T[]> {
  const [result] = await runOnConnection(em, [{ sql, params }], options, "execute");
  if (!Array.isArray(result)) throw new Error("queryPrepared: the statement returned no result set");
  return result.filter(isRow) as T[];
}

/**
 * Like `queryPrepared`, for INSERT/UPDATE/DELETE. Binary parameters (Buffers) travel as raw bytes: a
 * 500 KiB BLOB is sent as 500 KiB, not as a 1 MB hex literal the server has to parse, which is what
 * `execute` (text protocol) does with them.
 */
export async function executePrepared(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
  options: PreparedOptions = {},
): Promise<ExecuteResult> {
  const [result] = await runOnConnection(em, [{ sql, params }], options, "execute");
  return executeResult(result);
}

type PreparedResult = unknown[] | { affectedRows?: number | string; insertId?: number | string | bigint };

/** The parts of a mysql2 pooled connection used here. */
interface RawConnection {
  readonly threadId: number | null;
  execute(sql: string, values: unknown[], callback: (error: Error | null, result: unknown) => void): unknown;
  query(sql: string, values: unknown[], callback: (error: Error | null, result: unknown) => void): unknown;
  format(sql: string, values: unknown[]): string;
  readonly config?: { readonly multipleStatements?: boolean };
}

/** Statements `defer` queued, by the transaction (Kysely's, from getTransactionContext) they belong to. */
const deferred = new WeakMap<object, QueuedStatement[]>();
/** The transaction (or savepoint) each open savepoint was opened in. */
const parentOf = new WeakMap<object, object>();
/** The transaction a savepoint is being opened in, by the EntityManager opening it (between the two events). */
const savepointParents = new WeakMap<object, object>();

/** The outermost transaction of a transaction or savepoint (whose connection and queue it shares). */
function rootOf(transaction: object): object {
  let current = transaction;
  for (let parent = parentOf.get(current); parent; parent = parentOf.get(current)) current = parent;
  return current;
}

// Kysely keeps one wrapper per physical connection for the connection's lifetime; the raw connection
// behind each wrapper is looked up once.
const rawConnections = new WeakMap<DatabaseConnection, RawConnection>();

/**
 * Runs statements on `em`'s connection straight through mysql2: `query` (text protocol, values escaped by
 * mysql2 as the ORM would) or `execute` (server-side prepared statements). Statements `defer` queued on the
 * transaction go first; on a `multipleStatements` connection every text-protocol statement of the call
 * travels in one round trip. Returns one result per statement of `statements`. Skipping the ORM's own
 * layers costs a fraction per statement; statements still go to the ORM's query log.
 */
async function runOnConnection(
  em: EntityManager,
  statements: readonly Statement[],
  { signal }: PreparedOptions,
  protocol: "query" | "execute",
  transaction = em.getTransactionContext<Transaction<unknown>>(),
): Promise<PreparedResult[]> {
  signal?.throwIfAborted();
  const connection = em.getConnection();
  const pool = await connection.getNativeClient();
  const queued = transaction ? deferred.get(rootOf(transaction)) : undefined;
  const pending = queued?.length ? queued.splice(0) : [];
  // Inside a transaction: its own single connection, serialised with the ORM's queries on it. Outside:
  // a connection acquired from the pool the ORM's way (session settings applied) and released after.
  const executor = transaction ? transaction.getExecutor() : connection.getClient().getExecutor();
  const started = Date.now();
  const logged = [...pending, ...statements];
  let recoverable: StatementFailure | undefined;
  const all = await executor
    .provideConnection(async (wrapper) => {
      const raw = await rawConnectionOf(wrapper, pool);
      if (!raw) {
        // Not found (a driver version whose pool looks different): each statement over the text protocol.
        const out: PreparedResult[] = [];
        for (const { sql, params = [] } of logged) {
          const res = await wrapper.executeQuery(CompiledQuery.raw(sql, [...params]));
          out.push(
            res.rows.length > 0 || res.numAffectedRows === undefined
              ? [...res.rows]
              : { affectedRows: Number(res.numAffectedRows), insertId: Number(res.insertId ?? 0) },
          );
        }
        return out;
      }
      if (protocol === "execute") {
        const out = await sendText(raw, pending);
        for (const { sql, params = [] } of statements) out.push(await sendPrepared(raw, sql, params));
        return out;
      }
      return sendText(raw, logged);
    })
    .catch((error: unknown) => {
      if (error instanceof StatementFailure && pending[error.index]?.recover && error.completed) {
        recoverable = error;
        return [];
      }
      for (const { sql } of logged) logPrepared(em, sql, started, undefined, "error");
      if (!(error instanceof StatementFailure)) throw error;
      // A deferred statement's failure (or one that cannot be placed) is not the caller's to handle.
      if (error.index < pending.length) throw new DeferredBatchError(error.cause, pending.length);
      throw error.cause;
    });
  if (recoverable && transaction)
    return recoverDeferred(em, statements, { signal }, protocol, transaction, pending, recoverable, started);
  pending.forEach(({ sql, onResult }, i) => {
    logPrepared(em, sql, started, all[i], "info");
    onResult?.(executeResult(all[i]));
  });
  const results = all.slice(pending.length);
  statements.forEach(({ sql }, i) => {
    logPrepared(em, sql, started, results[i], "info");
  });
  signal?.throwIfAborted();
  return results;
}

/**
 * Deferred statement `failure.index` of `pending` failed and has a `recover` (deferRecoverable): those
 * before it ran (their results reported), the rest did not. `recover` runs, `LAST_INSERT_ID()` is put back
 * to what the statement before the failed one left, the rest goes back to the front of the queue and the
 * call's own statements are sent again with it.
 */
async function recoverDeferred(
  em: EntityManager,
  statements: readonly Statement[],
  options: PreparedOptions,
  protocol: "query" | "execute",
  transaction: Transaction<unknown>,
  pending: readonly QueuedStatement[],
  failure: StatementFailure,
  started: number,
): Promise<PreparedResult[]> {
  const ran = failure.completed ?? [];
  pending.slice(0, failure.index).forEach(({ sql, onResult }, i) => {
    logPrepared(em, sql, started, ran[i], "info");
    onResult?.(executeResult(ran[i]));
  });
  const failed = pending[failure.index];
  if (failed) logPrepared(em, failed.sql, started, undefined, "error");
  const [last] = await query(em, "SELECT LAST_INSERT_ID() AS id");
  const recovered = await (failed?.recover?.(failure.cause) ?? Promise.resolve(false));
  if (!recovered) throw new DeferredBatchError(failure.cause, pending.length);
  await query(em, "SELECT LAST_INSERT_ID(?)", [last?.id ?? 0]);
  const root = rootOf(transaction);
  deferred.set(root, [...pending.slice(failure.index + 1), ...(deferred.get(root) ?? [])]);
  return runOnConnection(em, statements, options, protocol, transaction);
}

/**
 * A deferred statement failed (or a call carrying deferred statements failed and which statement it was
 * could not be read): the failure is not the caller's own statement's to handle, so it carries no `errno`
 * (code that recovers from, say, a duplicate key of its own INSERT does not mistake a deferred write's
 * failure for it); except a deadlock or lock wait timeout, which rolls back the whole transaction whichever
 * statement hit it, and keeps its `errno` so the transaction can be retried. When the caller's own
 * statement fails after the deferred ones succeeded, the caller gets that statement's own error.
 */
export class DeferredBatchError extends Error {
  readonly errno?: number;
  constructor(cause: unknown, deferredCount: number) {
    const message = cause instanceof Error ? cause.message : String(cause);
    super(`${message} (in a batch with ${deferredCount} deferred statement(s))`, { cause });
    this.name = "DeferredBatchError";
    const errno = typeof cause === "object" && cause !== null && "errno" in cause ? Number(cause.errno) : 0;
    if (errno === ER_LOCK_DEADLOCK || errno === ER_LOCK_WAIT_TIMEOUT) this.errno = errno;
  }
}

const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_LOCK_DEADLOCK = 1213;

/** Text-protocol statements, in order: one round trip on a `multipleStatements` connection. */
async function sendText(raw: RawConnection, statements: readonly Statement[]): Promise<PreparedResult[]> {
  if (statements.length === 0) return [];
  if (statements.length === 1 || !raw.config?.multipleStatements) {
    const out: PreparedResult[] = [];
    for (const [index, { sql, params = [] }] of statements.entries()) {
      try {
        out.push(await send(raw, "query", sql, params));
      } catch (error) {
        throw new StatementFailure(error, index, out);
      }
    }
    return out;
  }
  // mysql2 escapes each statement's values exactly as a single query would; the server runs them in order
  // and stops at the first error (nothing after it runs). mysql2 keeps the result of every statement that
  // completed, so the failing one is the next (-1 when that cannot be read).
  const text = statements.map(({ sql, params = [] }) => raw.format(sql, [...params])).join(";\n");
  let command: unknown;
  const result = await send(raw, "query", text, [], (c) => {
    command = c;
  }).catch((error: unknown) => {
    const completed: unknown =
      typeof command === "object" && command !== null ? Reflect.get(command, "_rows") : undefined;
    // Statements held for the transaction (held.ts) may have travelled in front; a failure among those is
    // not one of `statements` (-1).
    const held = heldCountOf(command);
    const index = Array.isArray(completed) ? completed.length - held : -1;
    const results = Array.isArray(completed) && index >= 0 ? completed.slice(held) : undefined;
    throw new StatementFailure(
      error,
      Math.max(index, -1),
      results?.map((one: unknown) => (isPreparedResult(one) ? one : [])),
    );
  });
  if (!Array.isArray(result) || result.length !== statements.length)
    throw new Error(`expected ${statements.length} results from a statement batch`);
  return result.map((one: unknown) => (isPreparedResult(one) ? one : []));
}

/**
 * A text-protocol call failed at statement `index` of what it sent (-1: not known), after the statements
 * before it completed with `completed` (when those could be read).
 */
class StatementFailure {
  readonly cause: unknown;
  readonly index: number;
  readonly completed: readonly PreparedResult[] | undefined;
  constructor(cause: unknown, index: number, completed?: readonly PreparedResult[]) {
    this.cause = cause;
    this.index = index;
    this.completed = completed;
  }
}

function sendPrepared(raw: RawConnection, sql: string, params: readonly unknown[]): Promise<PreparedResult> {
  return send(raw, "execute", sql, params);
}

function send(
  raw: RawConnection,
  protocol: "query" | "execute",
  sql: string,
  params: readonly unknown[],
  started?: (command: unknown) => void,
): Promise<PreparedResult> {
  return new Promise<PreparedResult>((resolve, reject) => {
    const done = (error: Error | null, res: unknown) => {
      if (error) reject(error);
      else resolve(isPreparedResult(res) ? res : []);
    };
    const command =
      protocol === "execute" ? raw.execute(sql, [...params], done) : raw.query(sql, [...params], done);
    started?.(command);
  });
}

/** The statement goes to MikroORM's query log (and slow-query log) like the ORM's own queries do. */
function logPrepared(
  em: EntityManager,
  sql: string,
  started: number,
  result: PreparedResult | undefined,
  level: "info" | "error",
): void {
  const took = Date.now() - started;
  const context = {
    ...em.getLoggerContext(),
    query: sql,
    took,
    level,
    ...(Array.isArray(result) ? { results: result.length } : {}),
    ...(result && !Array.isArray(result) ? { affected: Number(result.affectedRows ?? 0) } : {}),
  };
  em.config.getLogger().logQuery(context);
  const threshold = em.config.get("slowQueryThreshold");
  if (threshold !== undefined && threshold !== null && took >= threshold) {
    em.config.getSlowQueryLogger().logQuery({ ...context, enabled: true });
  }
}

/**
 * Finds the mysql2 connection behind a Kysely connection wrapper, whose handle is private: the wrapper
 * tells its server thread id (CONNECTION_ID()), and the pool's list of its connections (mysql2 3.x keeps
 * it in `_allConnections`) holds the one with that id.
 */
async function rawConnectionOf(
  wrapper: DatabaseConnection,
  pool: object,
): Promise<RawConnection | undefined> {
  const cached = rawConnections.get(wrapper);
  if (cached) return cached;
  const { rows } = await wrapper.executeQuery(CompiledQuery.raw("SELECT CONNECTION_ID() AS id"));
  const first = rows[0];
  const threadId = isRow(first) ? Number(first.id) : Number.NaN;
  for (const candidate of poolConnections(pool)) {
    if (candidate.threadId === threadId) {
      rawConnections.set(wrapper, candidate);
      return candidate;
    }
  }
  return undefined;
}

function* poolConnections(pool: object): Generator<RawConnection> {
  const all: unknown = Reflect.get(pool, "_allConnections");
  if (typeof all !== "object" || all === null) return;
  const length: unknown = Reflect.get(all, "length");
  const get: unknown = Reflect.get(all, "get");
  if (typeof length !== "number" || typeof get !== "function") return;
  for (let i = 0; i < length; i++) {
    const candidate: unknown = Reflect.apply(get, all, [i]);
    if (isRawConnection(candidate)) yield candidate;
  }
}

function isRawConnection(value: unknown): value is RawConnection {
  return (
    typeof value === "object" &&
    value !== null &&
    "threadId" in value &&
    "format" in value &&
    typeof value.format === "function" &&
    "execute" in value &&
    typeof value.execute === "function" &&
    "query" in value &&
    typeof value.query === "function"
  );
}

function isRow(value: unknown): value is Row {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isPreparedResult(value: unknown): value is PreparedResult {
  return Array.isArray(value) || isRow(value);
}
