import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "./types.ts";

/**
 * ostmesh's own tables (InnoDB, utf8mb4). They are created and changed only by the migrations in
 * ../migrations; these entities mirror those migrations column for column.
 */

/** Transactional outbox: a change and its event commit in one transaction; the relay publishes it. */
export const OstmeshOutbox = defineEntity({
  name: "OstmeshOutbox",
  tableName: "ostmesh_outbox",
  properties: {
    id: p.bigint("string").unsigned().primary().autoincrement(),
    subject: p.string().length(255),
    eventType: p.string().length(128).name("event_type"),
    aggregateType: p.string().length(32).name("aggregate_type"),
    aggregateId: p.string().length(64).name("aggregate_id"),
    payload: p.blob().columnType("mediumblob"),
    /** JSON object of string headers (e.g. traceparent). */
    headers: p.text().nullable(),
    createdAt: p
      .type(DbDateTime)
      .columnType("datetime(6)")
      .name("created_at")
      .defaultRaw("current_timestamp(6)"),
    publishedAt: p.type(DbDateTime).columnType("datetime(6)").name("published_at").nullable(),
    attempts: p.integer().unsigned().default(0),
    nextAttemptAt: p.type(DbDateTime).columnType("datetime(6)").name("next_attempt_at").nullable(),
    lastError: p.string().length(1024).name("last_error").nullable(),
  },
  indexes: [{ name: "ix_outbox_pending", properties: ["publishedAt", "id"] }],
});
export type OstmeshOutbox = InferEntity<typeof OstmeshOutbox>;

/** Consumer-side dedupe: one row per (consumer, message id) already handled. */
export const OstmeshInbox = defineEntity({
  name: "OstmeshInbox",
  tableName: "ostmesh_inbox",
  properties: {
    consumer: p.string().length(128).primary(),
    messageId: p.string().length(128).name("message_id").primary(),
    processedAt: p
      .type(DbDateTime)
      .columnType("datetime(6)")
      .name("processed_at")
      .defaultRaw("current_timestamp(6)"),
  },
});
export type OstmeshInbox = InferEntity<typeof OstmeshInbox>;

/** Stored results of idempotent RPCs, keyed by (scope, caller-supplied key). */
export const OstmeshIdempotency = defineEntity({
  name: "OstmeshIdempotency",
  tableName: "ostmesh_idempotency",
  properties: {
    scope: p.string().length(191).primary(),
    idemKey: p.string().length(128).name("idem_key").primary(),
    requestHash: p.string().columnType("char(64)").length(64).name("request_hash"),
    response: p.blob().columnType("mediumblob").nullable(),
    createdAt: p
      .type(DbDateTime)
      .columnType("datetime(6)")
      .name("created_at")
      .defaultRaw("current_timestamp(6)"),
    expiresAt: p.type(DbDateTime).columnType("datetime(6)").name("expires_at"),
  },
  indexes: [{ name: "ix_idempotency_expires", properties: ["expiresAt"] }],
});
export type OstmeshIdempotency = InferEntity<typeof OstmeshIdempotency>;

/**
 * When a daily duty of the scheduled tasks last ran (see Migration20260506000000_scheduled_task): one row
 * per duty, `done_on` the DB server's CURDATE().
 */
export const OstmeshScheduledTask = defineEntity({
  name: "OstmeshScheduledTask",
  tableName: "ostmesh_scheduled_task",
  properties: {
    task: p.string().length(64).primary(),
    doneOn: p.string().columnType("date").name("done_on"),
    updatedAt: p
      .type(DbDateTime)
      .columnType("datetime(6)")
      .name("updated_at")
      .defaultRaw("current_timestamp(6)")
      .extra("on update current_timestamp(6)"),
  },
});
export type OstmeshScheduledTask = InferEntity<typeof OstmeshScheduledTask>;

export const ostmeshEntities = [OstmeshOutbox, OstmeshInbox, OstmeshIdempotency, OstmeshScheduledTask];
