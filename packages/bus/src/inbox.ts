import type { SqlEntityManager } from "@mikro-orm/mysql";
import { type EntityManager, execute } from "@ostmesh/db";

export type ProcessOnceResult<T> =
  | { readonly processed: true; readonly value: T }
  | { readonly processed: false };

/**
 * Runs `fn` once per (consumer, messageId): records the message in ostmesh_inbox inside the same transaction
 * as `fn`'s writes, so a redelivered or republished message is skipped, and a failed `fn` leaves no record
 * (the retry runs it again). Joins `em`'s transaction when there is one, else opens its own. Two deliveries
 * of one message at the same time serialise on the inbox row: the second sees the first's commit.
 */
export async function processOnce<T, E extends SqlEntityManager = SqlEntityManager>(
  em: E,
  consumer: string,
  messageId: string,
  fn: (em: E) => Promise<T>,
): Promise<ProcessOnceResult<T>> {
  if (consumer.length === 0 || consumer.length > 128) throw new Error("consumer must be 1-128 characters");
  if (messageId.length === 0 || messageId.length > 128) throw new Error("messageId must be 1-128 characters");
  const run = async (tx: E): Promise<ProcessOnceResult<T>> => {
    // @ostmesh/db's execute: straight on the transaction's mysql2 connection (the ORM's query layers cost
    // more than the statement on every consumed message).
    const result = await execute(
      tx as unknown as EntityManager,
      "INSERT IGNORE INTO ostmesh_inbox (consumer, message_id) VALUES (?, ?)",
      [consumer, messageId],
    );
    if (result.affectedRows === 0) return { processed: false };
    return { processed: true, value: await fn(tx) };
  };
  return em.isInTransaction() ? run(em) : em.transactional((tx) => run(tx));
}

/** Deletes inbox records older than `olderThanMs` (keep them longer than any redelivery can come); returns how many. */
export async function pruneInbox(
  em: SqlEntityManager,
  olderThanMs: number,
  options: { limit?: number } = {},
): Promise<number> {
  const result = await em.execute<{ affectedRows?: number }>(
    "DELETE FROM ostmesh_inbox WHERE processed_at < NOW(6) - INTERVAL ? MICROSECOND LIMIT ?",
    [Math.floor(olderThanMs * 1000), options.limit ?? 10_000],
    "run",
  );
  return Number(result.affectedRows ?? 0);
}
