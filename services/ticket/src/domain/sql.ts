import type { EntityManager } from "@mikro-orm/mysql";
import {
  type BatchRead,
  defer,
  deferRecoverable,
  executeBatch,
  execute as executeOn,
  queryBatch,
  query as queryOn,
  runBatchRead,
  type Statement,
  settleDeferred,
} from "@ostmesh/db";

export { type BatchRead, bothReads, noRead } from "@ostmesh/db";

/** Values the executor binds. Timestamps are never bound: SQL `NOW()` writes them, as osTicket does. */
export type SqlValue = string | number | boolean | null | Buffer;
export type Row = Record<string, unknown>;

export interface RunResult {
  readonly affectedRows: number;
  readonly insertId: number;
}

/**
 * The small SQL executor every use case writes through. One instance wraps one MikroORM transaction, so
 * every statement of a use case commits or rolls back together.
 */
export interface Sql {
  all(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  first(sql: string, params?: readonly SqlValue[]): Promise<Row | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult>;
  /** Writes in order, in one round trip; a later one may use an earlier one's id as `LAST_INSERT_ID()`. */
  runAll(statements: readonly Statement[]): Promise<RunResult[]>;
  /**
   * A write whose result nobody reads and that is not expected to fail (an UPDATE of a row this transaction
   * holds, an INSERT whose id is not needed): queued, and sent in the same round trip as the transaction's
   * next statement, or before it commits (@ostmesh/db `defer`). Its failure fails that next statement and
   * with it the transaction. Only inside a transaction.
   */
  later(sql: string, params?: readonly SqlValue[]): void;
  /**
   * Like `later`, for a write whose result is wanted but not at once (an INSERT whose id goes into the
   * events): `onResult` gets it when the statement has travelled with a later one. Whoever reads what
   * `onResult` records calls `settle` first.
   */
  laterWithResult(sql: string, params: readonly SqlValue[], onResult: (result: RunResult) => void): void;
  /**
   * Like `later`, for a write that may fail in a way `recover` makes up for (it gets the error and may run
   * statements of its own; true: the transaction goes on as if the write had succeeded, false: the failure
   * fails the statement the write travelled with, as with `later`). See @ostmesh/db `deferRecoverable`.
   */
  laterRecoverable(
    sql: string,
    params: readonly SqlValue[],
    recover: (error: unknown) => Promise<boolean>,
  ): void;
  /** Sends the writes queued by `laterWithResult` whose results have not come back yet (none: no-op). */
  settle(): Promise<void>;
  /** Several SELECTs in one round trip (deferred writes go first): each one's rows, in order. */
  batch(statements: readonly Statement[]): Promise<Row[][]>;
  /** A BatchRead's statements in one round trip, and the value read from them. */
  read<T>(read: BatchRead<T>): Promise<T>;
  /**
   * The EntityManager (and transaction) the statements run on, for the attachment service's storage core,
   * which takes one: a file it stores commits or rolls back with the rest of the use case.
   */
  readonly em: EntityManager;
}

/** An executor over an EntityManager; inside `em.transactional` it joins that transaction. */
export function sqlFor(em: EntityManager): Sql {
  return {
    all: (sql, params = []) => queryOn(em, sql, params),
    async first(sql, params = []) {
      const rows = await queryOn(em, sql, params);
      return rows[0];
    },
    run: (sql, params = []) => executeOn(em, sql, params),
    runAll: (statements) => executeBatch(em, statements),
    later: (sql, params = []) => defer(em, sql, params),
    laterWithResult: (sql, params, onResult) => defer(em, sql, params, onResult),
    laterRecoverable: (sql, params, recover) => deferRecoverable(em, sql, params, recover),
    settle: () => settleDeferred(em),
    batch: (statements) => queryBatch(em, statements),
    read: (read) => runBatchRead(em, read),
    em,
  };
}

/** Runs `work` in one transaction of a fresh fork of `em`: all of it commits, or none of it. */
export async function inTransaction<T>(em: EntityManager, work: (tx: Sql) => Promise<T>): Promise<T> {
  return em.fork().transactional((txEm) => work(sqlFor(txEm)));
}

/** `(?, ?, ?), (?, ?, ?)` for a multi-row INSERT. */
export function placeholders(rows: number, columns: number): string {
  const one = `(${Array.from({ length: columns }, () => "?").join(", ")})`;
  return Array.from({ length: rows }, () => one).join(", ");
}

/** Quotes an identifier resolved at run time (cdata column names come from form field names). */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}
