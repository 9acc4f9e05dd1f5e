import type { Sql } from "./sql.ts";

/** One row of ostmesh_outbox (created by @ostmesh/db's migrations; published by the bus relay). */
export interface OutboxRow {
  /** NATS subject, e.g. `osticket.events.ticket.created`. */
  readonly subject: string;
  /** Event type name, e.g. the protobuf message's full name. */
  readonly eventType: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** Serialised event (protobuf binary). */
  readonly payload: Uint8Array;
  /** Message headers (e.g. W3C trace context), stored as JSON. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Writes an outbox row in the use case's transaction, so the event commits if and only if the change does
 * (the `emit` port of the use cases calls this with the serialised event). Returns the outbox id.
 */
export async function writeOutboxRow(tx: Sql, row: OutboxRow): Promise<number> {
  const { insertId } = await tx.run(
    "INSERT INTO ostmesh_outbox (subject, event_type, aggregate_type, aggregate_id, payload, headers) VALUES (?, ?, ?, ?, ?, ?)",
    [
      row.subject,
      row.eventType,
      row.aggregateType,
      row.aggregateId,
      Buffer.from(row.payload.buffer, row.payload.byteOffset, row.payload.byteLength),
      row.headers ? JSON.stringify(row.headers) : null,
    ],
  );
  return insertId;
}
