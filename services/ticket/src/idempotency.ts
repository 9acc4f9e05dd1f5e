/**
 * One transaction per mutating call, with the caller's idempotency key recorded in it (osticket.common.v1
 * conventions): the first call with a key runs and stores its response in ostmesh_idempotency inside the
 * same transaction as its writes and events; a retry with the same key and the same request gets that
 * response back and writes nothing; the same key with a different request is FAILED_PRECONDITION. Keys are
 * per caller and per RPC. A call that fails leaves no record, so its retry runs again.
 */
import { createHash } from "node:crypto";
import { type DescMessage, fromBinary, type MessageShape, toBinary, toJson } from "@bufbuild/protobuf";
import type { EntityManager } from "@ostmesh/db";
import { withIdempotency } from "@ostmesh/db";
import { IDEMPOTENCY_WINDOW_MS, MAX_IDEMPOTENCY_KEY_LENGTH } from "@ostmesh/proto";
import { invalidArgument } from "./errors.ts";
import { stableJson } from "./paging.ts";

export interface IdempotentCall<Req extends DescMessage, Res extends DescMessage> {
  /** RPC name, e.g. "CreateTicket". */
  readonly rpc: string;
  /** Who is calling (`agent:1`, `service:gateway`, ...): keys of different callers never meet. */
  readonly caller: string;
  readonly key: string;
  readonly requestSchema: Req;
  readonly request: MessageShape<Req>;
  readonly responseSchema: Res;
  /** Isolation level of the transaction (default: the server's, REPEATABLE READ). */
  readonly isolationLevel?: TransactionOptions["isolationLevel"];
  /**
   * Called in the transaction after the work failed and its writes were rolled back to a savepoint: it may
   * write what must survive the failure and return true, then the transaction commits and the error is
   * thrown after the commit.
   */
  readonly recover?: (tx: EntityManager, error: unknown) => Promise<boolean>;
}

type TransactionOptions = NonNullable<Parameters<EntityManager["transactional"]>[1]>;

const DEADLOCK = 1213;
const LOCK_WAIT_TIMEOUT = 1205;
const MAX_ATTEMPTS = 3;

function errno(error: unknown): unknown {
  return typeof error === "object" && error !== null && "errno" in error ? error.errno : undefined;
}

/** Validates an idempotency key (INVALID_ARGUMENT naming the field). */
export function checkIdempotencyKey(key: string): void {
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    throw invalidArgument(
      "idempotency_key",
      `idempotency_key must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
    );
}

/** SHA-256 of the request without its key, over canonical JSON (map order does not matter). */
export function requestHash<Req extends DescMessage>(schema: Req, request: MessageShape<Req>): string {
  const json = toJson(schema, request);
  const body = typeof json === "object" && json !== null && !Array.isArray(json) ? { ...json } : json;
  if (typeof body === "object" && body !== null && !Array.isArray(body)) delete body.idempotencyKey;
  return createHash("sha256").update(stableJson(body)).digest("hex");
}

/**
 * Runs `work` in one transaction (retried as a whole when MySQL picks it as a deadlock victim), guarded by
 * the idempotency key when one is given. Returns the response and whether it is a replay.
 */
export async function runIdempotent<Req extends DescMessage, Res extends DescMessage>(
  em: EntityManager,
  call: IdempotentCall<Req, Res>,
  work: (tx: EntityManager) => Promise<MessageShape<Res>>,
): Promise<{ response: MessageShape<Res>; replayed: boolean }> {
  checkIdempotencyKey(call.key);
  const guarded = (tx: EntityManager) =>
    withIdempotency(
      tx,
      {
        scope: `ticket.${call.rpc}:${call.caller}`.slice(0, 191),
        key: call.key,
        requestHash: requestHash(call.requestSchema, call.request),
        ttl: Math.floor(IDEMPOTENCY_WINDOW_MS / 1000),
      },
      work,
      {
        encode: (value) => toBinary(call.responseSchema, value),
        decode: (bytes) => fromBinary(call.responseSchema, bytes),
      },
    );
  for (let attempt = 1; ; attempt++) {
    try {
      if (!call.recover && !call.isolationLevel) {
        if (!call.key) return { response: await em.fork().transactional((tx) => work(tx)), replayed: false };
        return await guarded(em.fork());
      }
      const { recover } = call;
      const outcome = await em.fork().transactional(
        async (tx): Promise<{ response: MessageShape<Res>; replayed: boolean } | { failed: unknown }> => {
          try {
            // A savepoint (nested transaction) around the work, so a recovery starts from a clean slate.
            if (!call.key)
              return { response: await tx.transactional((inner) => work(inner)), replayed: false };
            return await guarded(tx);
          } catch (error) {
            if (recover && (await recover(tx, error))) return { failed: error };
            throw error;
          }
        },
        call.isolationLevel ? { isolationLevel: call.isolationLevel } : {},
      );
      if ("failed" in outcome) throw new Recovered(outcome.failed);
      return outcome;
    } catch (error) {
      if (error instanceof Recovered) throw error.error;
      const code = errno(error);
      if ((code === DEADLOCK || code === LOCK_WAIT_TIMEOUT) && attempt < MAX_ATTEMPTS) continue;
      throw error;
    }
  }
}

/** A failure whose transaction committed its recovery: thrown on as it is, never retried. */
class Recovered {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}
