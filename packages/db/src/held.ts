/**
 * Transaction control that rides with the statements around it, on a `multipleStatements` connection.
 *
 * The ORM opens a transaction with a round trip of its own (`begin`, after `set transaction ...` when an
 * isolation level is asked for) and commits with another. Opening one costs the server nothing until the
 * first statement: InnoDB takes a transaction's snapshot at its first read (`begin` without `WITH
 * CONSISTENT SNAPSHOT`). So the opening statements are held on the connection and sent in the round trip of
 * the transaction's first statement, in front of it; a transaction that runs no statement at all is never
 * sent, and its `commit` or `rollback` is answered here. Statements `defer` still holds when the transaction
 * commits travel in front of the `commit` (holdForCommit): the server runs them in order and stops at the
 * first failure, so a failing one leaves the `commit` unsent and the transaction is rolled back.
 *
 * Callers see every statement answered as if it had been sent alone: the held statements' results are
 * taken off the front of what the server returns, and a failure of a held deferred statement surfaces as
 * the DeferredBatchError its own round trip would have raised.
 */

/** The mysql2 connection calls this module wraps. */
export interface ControlledConnection {
  query(...args: unknown[]): unknown;
  execute(...args: unknown[]): unknown;
  format(sql: string, values: unknown[]): string;
  readonly config?: { readonly multipleStatements?: boolean };
  destroy?(): void;
  /** Back to the pool (a pooled connection). */
  release?(): void;
}

type Callback = (error: Error | null, result?: unknown, fields?: unknown) => void;

interface HeldStatement {
  readonly sql: string;
  /** A statement `defer` queued (its failure is reported as a DeferredBatchError). */
  readonly deferred: boolean;
}

/** Statements held on each connection this module controls, oldest first. */
const heldOn = new WeakMap<object, HeldStatement[]>();
/** How many held statements a command sent in front of the caller's own (for sendText's failure index). */
const heldInFront = new WeakMap<object, number>();

/** The answer the server gives a statement without a result set (what the ORM expects of `begin`). */
const OK = Object.freeze({
  fieldCount: 0,
  affectedRows: 0,
  insertId: 0,
  info: "",
  serverStatus: 0,
  warningStatus: 0,
  changedRows: 0,
});

const OPENING = /^\s*(begin|start transaction|set transaction\b)/i;
const BEGIN = /^\s*(begin|start transaction)\s*$/i;
const ENDING = /^\s*(commit|rollback)\s*$/i;

/** Whether `raw` holds transaction control (it does once holdTransactionControl has wrapped it). */
export function controlsTransactions(raw: object): boolean {
  return heldOn.has(raw);
}

/** How many held statements travelled in front of a command's own statements (0 for none). */
export function heldCountOf(command: unknown): number {
  return typeof command === "object" && command !== null ? (heldInFront.get(command) ?? 0) : 0;
}

/**
 * Wraps a mysql2 connection's `query` and `execute` so that transaction control rides with the next
 * statement (see the module's comment). Only a `multipleStatements` connection is wrapped; calling it twice
 * on one connection does nothing more.
 */
export function holdTransactionControl(
  raw: ControlledConnection,
  onDeferredFailure: (cause: unknown, deferredCount: number) => Error,
): void {
  if (!raw.config?.multipleStatements || heldOn.has(raw)) return;
  const held: HeldStatement[] = [];
  heldOn.set(raw, held);
  const query = raw.query.bind(raw);
  const execute = raw.execute.bind(raw);

  /** Sends `text` (the held statements, then the caller's), passing on only the caller's results. */
  const sendWithHeld = (own: string, callback: Callback | undefined): unknown => {
    const front = held.splice(0);
    const text = [...front.map((s) => s.sql), own].join(";\n");
    let command: unknown;
    const done: Callback = (error, result, fields) => {
      if (error) {
        const completed: unknown =
          typeof command === "object" && command !== null ? Reflect.get(command, "_rows") : undefined;
        const failedAt = Array.isArray(completed) ? completed.length : front.length;
        const deferredCount = front.filter((s) => s.deferred).length;
        const failedHeld = failedAt < front.length ? front[failedAt] : undefined;
        callback?.(failedHeld?.deferred ? onDeferredFailure(error, deferredCount) : error);
        return;
      }
      const results = Array.isArray(result) ? result.slice(front.length) : [];
      const columns = Array.isArray(fields) ? fields.slice(front.length) : [];
      if (results.length === 1) callback?.(null, results[0], columns[0]);
      else callback?.(null, results, columns);
    };
    command = query(text, done);
    if (typeof command === "object" && command !== null) heldInFront.set(command, front.length);
    return command;
  };

  raw.query = (...args: unknown[]): unknown => {
    const [sql, second, third] = args;
    const callback = (typeof second === "function" ? second : third) as Callback | undefined;
    const values = typeof second === "function" ? undefined : second;
    if (typeof sql !== "string" || !callback) {
      // Options objects and streamed queries are passed through; anything held goes first on its own,
      // and if that fails the connection is closed rather than let the query run outside its transaction.
      if (held.length) {
        sendWithHeld("DO 0", (error) => {
          if (error) raw.destroy?.();
        });
      }
      return query(...args);
    }
    const noValues = values === undefined || (Array.isArray(values) && values.length === 0);
    if (noValues && OPENING.test(sql) && held.every((s) => !s.deferred)) {
      held.push({ sql, deferred: false });
      queueMicrotask(() => callback(null, OK));
      return undefined;
    }
    if (noValues && ENDING.test(sql)) {
      const rollback = /^\s*rollback/i.test(sql);
      const unsent = held.some((s) => BEGIN.test(s.sql));
      // Deferred writes held for a commit must not run when the transaction rolls back instead.
      if (rollback) held.length = 0;
      if (unsent && held.every((s) => !s.deferred)) {
        // The transaction never reached the server: there is nothing to commit or roll back.
        held.length = 0;
        queueMicrotask(() => callback(null, OK));
        return undefined;
      }
    }
    if (held.length === 0) return query(...args);
    const own = values === undefined ? sql : raw.format(sql, values as unknown[]);
    return sendWithHeld(own, callback);
  };

  // Anything still held when the connection goes back to its pool belongs to a transaction that was neither
  // committed nor rolled back: it must not ride with the next user's first statement (the server never saw
  // that transaction, so nothing of it is left open either).
  const release = raw.release?.bind(raw);
  if (release)
    raw.release = () => {
      held.length = 0;
      release();
    };

  raw.execute = (...args: unknown[]): unknown => {
    if (held.length === 0) return execute(...args);
    // A prepared statement cannot share a text-protocol round trip: what is held goes first, and the
    // statement is only sent once that has succeeded.
    const callback = args.find((a): a is Callback => typeof a === "function");
    sendWithHeld("DO 0", (error) => {
      if (error) callback?.(error);
      else execute(...args);
    });
    return undefined;
  };
}

/**
 * Holds `statements` (already formatted) on a controlled connection to travel in front of its next
 * statement, which is the transaction's `commit`. Returns false (nothing held) when `raw` is not controlled.
 */
export function holdForCommit(raw: ControlledConnection, statements: readonly string[]): boolean {
  const held = heldOn.get(raw);
  if (!held) return false;
  for (const sql of statements) held.push({ sql, deferred: true });
  return true;
}
