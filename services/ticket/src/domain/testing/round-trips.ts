import type { Sql } from "../sql.ts";

/**
 * An Sql that records what it is asked to do: `roundTrips` the statements (or batches) a use case waits
 * for, `deferred` the writes it queues to travel with them. Counting both shows a change that adds a round
 * trip to a use case.
 */
export function recordingSql(tx: Sql): { sql: Sql; roundTrips: string[]; deferred: string[] } {
  const roundTrips: string[] = [];
  const deferred: string[] = [];
  const joined = (statements: readonly { sql: string }[]) => statements.map((s) => s.sql).join(";\n");
  const sql: Sql = {
    all: (text, params) => {
      roundTrips.push(text);
      return tx.all(text, params);
    },
    first: (text, params) => {
      roundTrips.push(text);
      return tx.first(text, params);
    },
    run: (text, params) => {
      roundTrips.push(text);
      return tx.run(text, params);
    },
    runAll: (statements) => {
      roundTrips.push(joined(statements));
      return tx.runAll(statements);
    },
    batch: (statements) => {
      roundTrips.push(joined(statements));
      return tx.batch(statements);
    },
    read: (read) => {
      roundTrips.push(joined(read.statements));
      return tx.read(read);
    },
    later: (text, params) => {
      deferred.push(text);
      tx.later(text, params);
    },
    laterWithResult: (text, params, onResult) => {
      deferred.push(text);
      tx.laterWithResult(text, params, onResult);
    },
    laterRecoverable: (text, params, recover) => {
      deferred.push(text);
      tx.laterRecoverable(text, params, recover);
    },
    settle: () => tx.settle(),
    // Files the storage core writes (oversized bodies) are not counted: ordinary use cases write none.
    em: tx.em,
  };
  return { sql, roundTrips, deferred };
}
