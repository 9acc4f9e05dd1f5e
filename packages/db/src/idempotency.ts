import type { EntityManager } from "@mikro-orm/mysql";
import { execute, query } from "./sql.ts";

export interface IdempotencyOptions {
  /** Service/method plus caller, e.g. `ticket.CreateTicket:staff:1` (max 191 chars). */
  scope: string;
  /** The caller's idempotency key (max 128 chars). */
  key: string;
  /** Hex SHA-256 of the canonical request (64 chars). */
  requestHash: string;
  /** How long the stored response is replayed, in seconds. */
  ttl: number;
}

export interface IdempotencyCodec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

export interface IdempotentResult<T> {
  response: T;
  /** True when the response is the stored one of an earlier call with the same key. */
  replayed: boolean;
}

/** The key was used before with a different request; the service maps it to ALREADY_EXISTS/INVALID_ARGUMENT. */
export class IdempotencyConflictError extends Error {
  readonly scope: string;
  readonly key: string;
  constructor(scope: string, key: string) {
    super(`idempotency key "${key}" was already used with a different request`);
    this.name = "IdempotencyConflictError";
    this.scope = scope;
    this.key = key;
  }
}

const jsonCodec: IdempotencyCodec<unknown> = {
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
};

const DUPLICATE_ENTRY = 1062;

/**
 * Runs `run` at most once per (scope, key) while the record lives. Inside one transaction (the caller's,
 * or a savepoint in it): the first call inserts the key row — which holds the row lock until commit —
 * runs, and stores the encoded response; a concurrent call with the same key blocks on that lock and,
 * once the first commits, replays the stored response (same hash) or throws IdempotencyConflictError
 * (different hash). If the first call rolls back, its row vanishes and the waiting call runs instead.
 * An expired record is taken over as if it were absent.
 */
export async function withIdempotency<T>(
  em: EntityManager,
  options: IdempotencyOptions,
  run: (em: EntityManager) => Promise<T>,
  codec: IdempotencyCodec<T> = jsonCodec as IdempotencyCodec<T>,
): Promise<IdempotentResult<T>> {
  validate(options);
  const { scope, key, requestHash, ttl } = options;
  return em.transactional(async (tx) => {
    const claimed = await claim(tx, options);
    if (!claimed) {
      // The row exists and is committed: a locking read sees its latest version whatever our snapshot.
      const [row] = await query<{ request_hash: string; response: Buffer | null; expired: number | string }>(
        tx,
        "SELECT request_hash, response, expires_at <= NOW(6) AS expired FROM ostmesh_idempotency" +
          " WHERE scope = ? AND idem_key = ? LOCK IN SHARE MODE",
        [scope, key],
      );
      if (!row) return withIdempotency(tx, options, run, codec); // deleted meanwhile (purge): start over
      if (Number(row.expired) === 1) {
        await execute(
          tx,
          "UPDATE ostmesh_idempotency SET request_hash = ?, response = NULL, created_at = NOW(6)," +
            " expires_at = NOW(6) + INTERVAL ? SECOND WHERE scope = ? AND idem_key = ?",
          [requestHash, ttl, scope, key],
        );
      } else if (row.request_hash !== requestHash || row.response === null) {
        throw new IdempotencyConflictError(scope, key);
      } else {
        return { response: codec.decode(row.response), replayed: true };
      }
    }
    const response = await run(tx);
    await execute(tx, "UPDATE ostmesh_idempotency SET response = ? WHERE scope = ? AND idem_key = ?", [
      Buffer.from(codec.encode(response)),
      scope,
      key,
    ]);
    return { response, replayed: false };
  });
}

/** Inserts the key row; false when it already exists. */
async function claim(em: EntityManager, o: IdempotencyOptions): Promise<boolean> {
  try {
    await execute(
      em,
      "INSERT INTO ostmesh_idempotency (scope, idem_key, request_hash, response, expires_at)" +
        " VALUES (?, ?, ?, NULL, NOW(6) + INTERVAL ? SECOND)",
      [o.scope, o.key, o.requestHash, o.ttl],
    );
    return true;
  } catch (error) {
    if (isDuplicateEntry(error)) return false;
    throw error;
  }
}

function isDuplicateEntry(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const errno = "errno" in error ? error.errno : undefined;
  const code = "code" in error ? error.code : undefined;
  return errno === DUPLICATE_ENTRY || code === "ER_DUP_ENTRY";
}

function validate(o: IdempotencyOptions): void {
  if (!o.scope || o.scope.length > 191) throw new RangeError("idempotency scope must be 1-191 characters");
  if (!o.key || o.key.length > 128) throw new RangeError("idempotency key must be 1-128 characters");
  if (!/^[0-9a-f]{64}$/.test(o.requestHash))
    throw new RangeError("idempotency requestHash must be 64 lower-case hex characters (SHA-256)");
  if (!Number.isInteger(o.ttl) || o.ttl <= 0)
    throw new RangeError("idempotency ttl must be a positive integer");
}

/** Deletes up to `limit` expired idempotency records; returns how many went. */
export async function purgeExpiredIdempotency(em: EntityManager, limit = 1000): Promise<number> {
  const { affectedRows } = await execute(
    em,
    "DELETE FROM ostmesh_idempotency WHERE expires_at <= NOW(6) ORDER BY expires_at LIMIT ?",
    [limit],
  );
  return affectedRows;
}
