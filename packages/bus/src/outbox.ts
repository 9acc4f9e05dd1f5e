import type { SqlEntityManager } from "@mikro-orm/mysql";
import { defer, type EntityManager, execute } from "@ostmesh/db";
import { assertValidHeaders, traceHeaders } from "./trace.ts";

/** Headers the relay adds to every event (besides `Nats-Msg-Id`), so consumers can route without decoding. */
export const EVENT_TYPE_HEADER = "Ostmesh-Event-Type";
export const AGGREGATE_TYPE_HEADER = "Ostmesh-Aggregate-Type";
export const AGGREGATE_ID_HEADER = "Ostmesh-Aggregate-Id";

export interface OutboxEvent {
  /** Full NATS subject, e.g. `osticket.events.ticket.created` (see `eventSubject`). */
  subject: string;
  /** Fully-qualified protobuf message name of the payload, e.g. `osticket.ticket.v1.TicketCreated`. */
  eventType: string;
  /** What changed: `ticket`, `user`, ... Events of one aggregate are delivered in the order written. */
  aggregateType: string;
  aggregateId: string | number | bigint;
  /** Serialised protobuf payload. */
  payload: Uint8Array;
  /** Extra headers; the active trace context is added automatically (explicit values win). */
  headers?: Readonly<Record<string, string>>;
}

export interface WriteOutboxOptions {
  /** Payloads above this are refused at write time, not discovered by the relay (default 1 MiB - 64 KiB). */
  maxPayloadBytes?: number;
  /**
   * Refuse to write outside a transaction (default true): the event must commit or roll back with the
   * change it describes.
   */
  requireTransaction?: boolean;
}

/** Bytes left for headers under NATS' default 1 MiB max_payload. */
export const DEFAULT_MAX_OUTBOX_PAYLOAD = 1024 * 1024 - 64 * 1024;

const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export class OutboxValidationError extends Error {
  override name = "OutboxValidationError";
}

/** An event whose payload is larger than the bus carries in one message. */
export class OutboxPayloadTooLargeError extends OutboxValidationError {
  override name = "OutboxPayloadTooLargeError";
  readonly bytes: number;
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super(`payload of ${bytes} bytes exceeds the limit of ${limit}`);
    this.bytes = bytes;
    this.limit = limit;
  }
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new OutboxValidationError(message);
}

/** Validates an event against the outbox columns and NATS' rules; throws OutboxValidationError. */
export function validateOutboxEvent(event: OutboxEvent, maxPayloadBytes = DEFAULT_MAX_OUTBOX_PAYLOAD): void {
  const aggregateId = String(event.aggregateId);
  check(event.subject.length <= 255 && SUBJECT.test(event.subject), `invalid subject ${event.subject}`);
  check(event.eventType.length > 0 && event.eventType.length <= 128, "eventType must be 1-128 characters");
  check(
    event.aggregateType.length > 0 && event.aggregateType.length <= 32,
    "aggregateType must be 1-32 characters",
  );
  check(aggregateId.length > 0 && aggregateId.length <= 64, "aggregateId must be 1-64 characters");
  check(event.payload instanceof Uint8Array, "payload must be a Uint8Array");
  if (event.payload.byteLength > maxPayloadBytes)
    throw new OutboxPayloadTooLargeError(event.payload.byteLength, maxPayloadBytes);
  if (event.headers) {
    try {
      assertValidHeaders(event.headers);
    } catch (error) {
      throw new OutboxValidationError(error instanceof Error ? error.message : String(error));
    }
  }
}

/**
 * Adds an event to the outbox inside `em`'s current transaction, with the active W3C trace context
 * captured into its headers. Call the relay's `notify()` after the transaction commits for prompt
 * delivery; otherwise the relay finds the row on its next poll. Returns the outbox id, which becomes the
 * event's `Nats-Msg-Id`.
 *
 * Events of one aggregate reach consumers in outbox id order. That is the order they happened in only when
 * writes to one aggregate are serialised, which they are when the transaction locks the aggregate's row
 * (every ticket update does, via UPDATE ost_ticket or SELECT ... FOR UPDATE) before writing the event.
 */
export async function writeOutbox(
  em: SqlEntityManager,
  event: OutboxEvent,
  options: WriteOutboxOptions = {},
): Promise<{ id: string }> {
  const insert = outboxInsert(em, event, options, "writeOutbox");
  // Through @ostmesh/db: writes the transaction deferred go in the same round trip, ahead of this one.
  const result = await execute(em as EntityManager, insert.sql, insert.params);
  return { id: String(result.insertId || "") };
}

/**
 * writeOutbox for a caller that does not need the outbox id: the row is queued on the transaction
 * (@ostmesh/db's `defer`) and travels with its next statement, or with its `commit`. Validated now, like
 * writeOutbox; the trace context is the one active now.
 */
export function deferOutbox(
  em: SqlEntityManager,
  event: OutboxEvent,
  options: WriteOutboxOptions = {},
): void {
  const insert = outboxInsert(em, event, options, "deferOutbox");
  defer(em as EntityManager, insert.sql, insert.params);
}

function outboxInsert(
  em: SqlEntityManager,
  event: OutboxEvent,
  options: WriteOutboxOptions,
  caller: string,
): { sql: string; params: unknown[] } {
  validateOutboxEvent(event, options.maxPayloadBytes);
  if ((options.requireTransaction ?? true) && !em.isInTransaction())
    throw new OutboxValidationError(`${caller} must run inside the transaction of the change it announces`);
  const headers = { ...traceHeaders(), ...event.headers };
  return {
    sql:
      "INSERT INTO ostmesh_outbox (subject, event_type, aggregate_type, aggregate_id, payload, headers)" +
      " VALUES (?, ?, ?, ?, ?, ?)",
    params: [
      event.subject,
      event.eventType,
      event.aggregateType,
      String(event.aggregateId),
      Buffer.from(event.payload.buffer, event.payload.byteOffset, event.payload.byteLength),
      Object.keys(headers).length > 0 ? JSON.stringify(headers) : null,
    ],
  };
}
