import type { EntityManager } from "@mikro-orm/mysql";
import { CompiledQuery, type DatabaseConnection, type Transaction } from "kysely";

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
  const result = await runOnConnection(em, sql, params, {}, "query");
  return Array.isArray(result) ? (result.filter(isRow) as T[]) : [];
}

/** Like `query`, for INSERT/UPDATE/DELETE: returns affected rows and the insert id. */
export async function execute(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
): Promise<ExecuteResult> {
  const result = await runOnConnection(em, sql, params, {}, "query");
  if (Array.isArray(result)) return { affectedRows: 0, insertId: 0 };
  return { affectedRows: Number(result.affectedRows ?? 0), insertId: Number(result.insertId ?? 0) };
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
  const result = await runOnConnection(em, sql, params, options, "execute");
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
  const result = await runOnConnection(em, sql, params, options, "execute");
  if (Array.isArray(result)) return { affectedRows: 0, insertId: 0 };
  return { affectedRows: Number(result.affectedRows ?? 0), insertId: Number(result.insertId ?? 0) };
}

type PreparedResult = unknown[] | { affectedRows?: number | string; insertId?: number | string | bigint };

/** The parts of a mysql2 pooled connection used here. */
interface RawConnection {
  readonly threadId: number | null;
  execute(sql: string, values: unknown[], callback: (error: Error | null, result: unknown) => void): unknown;
  query(sql: string, values: unknown[], callback: (error: Error | null, result: unknown) => void): unknown;
}

// Kysely keeps one wrapper per physical connection for the connection's lifetime; the raw connection
// behind each wrapper is looked up once.
const rawConnections = new WeakMap<DatabaseConnection, RawConnection>();

/**
 * Runs one statement on `em`'s connection straight through mysql2: `query` (text protocol, values escaped
 * by mysql2 as the ORM would) or `execute` (a server-side prepared statement). Skipping the ORM's own
 * layers costs a fraction per statement; statements still go to the ORM's query log.
 */
async function runOnConnection(
  em: EntityManager,
  sql: string,
  params: readonly unknown[],
  { signal }: PreparedOptions,
  protocol: "query" | "execute",
): Promise<PreparedResult> {
  signal?.throwIfAborted();
  const connection = em.getConnection();
  const pool = await connection.getNativeClient();
  const transaction = em.getTransactionContext<Transaction<unknown>>();
  // Inside a transaction: its own single connection, serialised with the ORM's queries on it. Outside:
  // a connection acquired from the pool the ORM's way (session settings applied) and released after.
  const executor = transaction ? transaction.getExecutor() : connection.getClient().getExecutor();
  const started = Date.now();
  const result = await executor
    .provideConnection(async (wrapper) => {
      const raw = await rawConnectionOf(wrapper, pool);
      if (!raw) {
        // Not found (a driver version whose pool looks different): the same statement over the text protocol.
        const res = await wrapper.executeQuery(CompiledQuery.raw(sql, [...params]));
        return res.rows.length > 0 || res.numAffectedRows === undefined
          ? [...res.rows]
          : { affectedRows: Number(res.numAffectedRows), insertId: Number(res.insertId ?? 0) };
      }
      return new Promise<PreparedResult>((resolve, reject) => {
        const done = (error: Error | null, res: unknown) => {
          if (error) reject(error);
          else resolve(isPreparedResult(res) ? res : []);
        };
        if (protocol === "execute") raw.execute(sql, [...params], done);
        else raw.query(sql, [...params], done);
      });
    })
    .catch((error: unknown) => {
      logPrepared(em, sql, started, undefined, "error");
      throw error;
    });
  logPrepared(em, sql, started, result, "info");
  signal?.throwIfAborted();
  return result;
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
