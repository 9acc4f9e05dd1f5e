import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { DbDateTime } from "./types.ts";

/**
 * The notification service's tables (see Migration20260501000000_notification), column for column. Time
 * columns hold the DB server's NOW(6) (the zone osTicket writes in); every comparison is made in SQL.
 */

const time = (column: string) => p.type(DbDateTime).columnType("datetime(6)").name(column);
const createdAt = () => time("created_at").defaultRaw("current_timestamp(6)");

/** How far change capture has read one source table (ost_thread_event, ost_thread_entry, ostmesh_outbox). */
export const OstmeshCaptureCursor = defineEntity({
  name: "OstmeshCaptureCursor",
  tableName: "ostmesh_capture_cursor",
  properties: {
    source: p.string().length(32).primary(),
    /** Every row id up to and including this one has been handled. */
    position: p.bigint("number").unsigned(),
    updatedAt: time("updated_at").defaultRaw("current_timestamp(6)"),
  },
});
export type OstmeshCaptureCursor = InferEntity<typeof OstmeshCaptureCursor>;

/** A row of osTicket's tables that ostmesh wrote itself, learnt from the outbox event written with it. */
export const OstmeshCaptureClaim = defineEntity({
  name: "OstmeshCaptureClaim",
  tableName: "ostmesh_capture_claim",
  properties: {
    /** "event" (ost_thread_event.id), "entry" (ost_thread_entry.id) or "created" (ost_ticket.ticket_id). */
    kind: p.string().length(16).primary(),
    rowId: p.bigint("number").unsigned().name("row_id").primary(),
    outboxId: p.bigint("number").unsigned().name("outbox_id"),
    createdAt: createdAt(),
  },
  indexes: [{ name: "ix_capture_claim_created", properties: ["createdAt"] }],
});
export type OstmeshCaptureClaim = InferEntity<typeof OstmeshCaptureClaim>;

/** An osTicket row change capture has decided on: published once, recognised as ostmesh's, or ignored. */
export const OstmeshCapturePublished = defineEntity({
  name: "OstmeshCapturePublished",
  tableName: "ostmesh_capture_published",
  properties: {
    /** "event" or "entry". */
    source: p.string().length(16).primary(),
    rowId: p.bigint("number").unsigned().name("row_id").primary(),
    /** "published", "ostmesh" or "ignored". */
    outcome: p.string().length(16),
    eventId: p.string().length(128).name("event_id").default(""),
    outboxId: p.bigint("number").unsigned().name("outbox_id").nullable(),
    createdAt: createdAt(),
  },
  indexes: [{ name: "ix_capture_published_created", properties: ["createdAt"] }],
});
export type OstmeshCapturePublished = InferEntity<typeof OstmeshCapturePublished>;

/** Change capture's snapshot of the ost_ticket fields it publishes (see capture/tickets.ts). */
export const OstmeshCaptureTicket = defineEntity({
  name: "OstmeshCaptureTicket",
  tableName: "ostmesh_capture_ticket",
  properties: {
    ticketId: p.integer().unsigned().name("ticket_id").primary().autoincrement(false),
    statusId: p.integer().unsigned().name("status_id").default(0),
    deptId: p.integer().unsigned().name("dept_id").default(0),
    staffId: p.integer().unsigned().name("staff_id").default(0),
    teamId: p.integer().unsigned().name("team_id").default(0),
    topicId: p.integer().unsigned().name("topic_id").default(0),
    slaId: p.integer().unsigned().name("sla_id").default(0),
    userId: p.integer().unsigned().name("user_id").default(0),
    /** UNIX time of the agent-set due date, 0 for none. */
    duedate: p.bigint("number").unsigned().defaultRaw("0"),
    priorityId: p.integer().unsigned().name("priority_id").default(0),
    /** SHA-256 (hex) of the watched values. */
    hash: p.string().columnType("char(64)"),
    /** Snapshots taken so far; with the ticket id, the exactly-once key of a published change. */
    version: p.integer().unsigned().default(0),
    /** UNIX time of the ost_ticket.updated the snapshot was taken at. */
    ticketUpdated: p.bigint("number").unsigned().name("ticket_updated").defaultRaw("0"),
    /** The ticket's highest thread event at or before that time. */
    threadEventId: p.bigint("number").unsigned().name("thread_event_id").defaultRaw("0"),
    updatedAt: time("updated_at").defaultRaw("current_timestamp(6)"),
  },
});
export type OstmeshCaptureTicket = InferEntity<typeof OstmeshCaptureTicket>;

/** One e-mail to send: unique per (event, template, recipient), so a redelivered event sends nothing new. */
export const OstmeshEmail = defineEntity({
  name: "OstmeshEmail",
  tableName: "ostmesh_email",
  properties: {
    id: p.bigint("number").unsigned().primary().autoincrement(),
    eventId: p.string().length(128).name("event_id"),
    /** ost_email_template.code_name, e.g. "ticket.alert". */
    template: p.string().length(32),
    recipient: p.string().length(255).collation("utf8mb4_general_ci"),
    recipientName: p.string().length(255).name("recipient_name").default(""),
    /** JSON array of "Name <address>" carbon copies. */
    cc: p.text().nullable(),
    fromAddress: p.string().length(255).name("from_address"),
    fromName: p.string().length(255).name("from_name").default(""),
    subject: p.string().length(998),
    bodyHtml: p.text().columnType("mediumtext").name("body_html"),
    messageId: p.string().length(255).name("message_id"),
    inReplyTo: p.string().length(255).name("in_reply_to").nullable(),
    /** Space-separated Message-IDs. */
    referencesIds: p.text().name("references_ids").nullable(),
    ticketId: p.integer().unsigned().name("ticket_id").default(0),
    /** 1 pending, 2 retrying, 3 sent, 4 failed. */
    status: p.tinyint().unsigned().default(1),
    attempts: p.integer().unsigned().default(0),
    nextAttemptAt: time("next_attempt_at").defaultRaw("current_timestamp(6)"),
    leaseUntil: time("lease_until").nullable(),
    lastError: p.string().length(1024).name("last_error").nullable(),
    createdAt: createdAt(),
    sentAt: time("sent_at").nullable(),
    /** JSON object of W3C trace headers (traceparent, tracestate) of the event's consumer span. */
    traceContext: p.string().length(1024).name("trace_context").nullable(),
    /** JSON array of {fileId, name}: the ost_file rows to attach and the names they go by; null for none. */
    attachments: p.text().nullable(),
  },
  uniques: [{ name: "ux_email_once", properties: ["eventId", "template", "recipient"] }],
  indexes: [{ name: "ix_email_due", properties: ["status", "nextAttemptAt"] }],
});
export type OstmeshEmail = InferEntity<typeof OstmeshEmail>;

/** A webhook subscription. */
export const OstmeshWebhook = defineEntity({
  name: "OstmeshWebhook",
  tableName: "ostmesh_webhook",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    url: p.string().length(2048),
    /** JSON array of event type patterns ("ticket.created", "ticket.*", "*"). */
    eventTypes: p.text().name("event_types"),
    /** JSON object {deptIds, topicIds, origin}. */
    filter: p.text(),
    description: p.string().length(255).default(""),
    active: p.tinyint().unsigned().default(1),
    /** Why deliveries stopped on their own (sustained failure); null while active or paused by hand. */
    disabledReason: p.string().length(255).name("disabled_reason").nullable(),
    consecutiveFailures: p.integer().unsigned().name("consecutive_failures").default(0),
    failingSince: time("failing_since").nullable(),
    createdAt: createdAt(),
    updatedAt: time("updated_at").defaultRaw("current_timestamp(6)"),
    deletedAt: time("deleted_at").nullable(),
  },
  indexes: [{ name: "ix_webhook_live", properties: ["deletedAt", "id"] }],
});
export type OstmeshWebhook = InferEntity<typeof OstmeshWebhook>;

/** A signing secret of a webhook (more than one is valid during a rotation's overlap). */
export const OstmeshWebhookSecret = defineEntity({
  name: "OstmeshWebhookSecret",
  tableName: "ostmesh_webhook_secret",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    webhookId: p.integer().unsigned().name("webhook_id"),
    /** `whsec_<base64>`: needed in clear to sign. */
    secret: p.string().length(255),
    createdAt: createdAt(),
    expiresAt: time("expires_at").nullable(),
  },
  indexes: [{ name: "ix_webhook_secret_webhook", properties: ["webhookId", "id"] }],
});
export type OstmeshWebhookSecret = InferEntity<typeof OstmeshWebhookSecret>;

/** One delivery of one event to one webhook, with the state of its attempts. */
export const OstmeshWebhookDelivery = defineEntity({
  name: "OstmeshWebhookDelivery",
  tableName: "ostmesh_webhook_delivery",
  properties: {
    id: p.integer().unsigned().primary().autoincrement(),
    webhookId: p.integer().unsigned().name("webhook_id"),
    eventId: p.string().length(128).name("event_id"),
    eventType: p.string().length(64).name("event_type"),
    /** The event id for an original delivery (one per webhook and event); null for replays. */
    dedupeKey: p.string().length(128).name("dedupe_key").nullable(),
    /** The request body: the event as protobuf JSON. */
    body: p.text().columnType("mediumtext"),
    /** osticket.notification.v1.DeliveryStatus. */
    status: p.tinyint().unsigned().default(1),
    attempts: p.integer().unsigned().default(0),
    lastResponseStatus: p.smallint().unsigned().name("last_response_status").default(0),
    lastError: p.string().length(1024).name("last_error").default(""),
    lastDurationMs: p.integer().unsigned().name("last_duration_ms").default(0),
    createdAt: createdAt(),
    lastAttemptAt: time("last_attempt_at").nullable(),
    nextAttemptAt: time("next_attempt_at").nullable(),
    leaseUntil: time("lease_until").nullable(),
    replayOf: p.integer().unsigned().name("replay_of").default(0),
    /** JSON object of W3C trace headers (traceparent, tracestate) of the event's consumer span. */
    traceContext: p.string().length(1024).name("trace_context").nullable(),
  },
  uniques: [{ name: "ux_delivery_once", properties: ["webhookId", "dedupeKey"] }],
  indexes: [
    { name: "ix_delivery_due", properties: ["status", "nextAttemptAt"] },
    { name: "ix_delivery_list", properties: ["webhookId", "id"] },
  ],
});
export type OstmeshWebhookDelivery = InferEntity<typeof OstmeshWebhookDelivery>;

export const notificationEntities = [
  OstmeshCaptureCursor,
  OstmeshCaptureClaim,
  OstmeshCapturePublished,
  OstmeshCaptureTicket,
  OstmeshEmail,
  OstmeshWebhook,
  OstmeshWebhookSecret,
  OstmeshWebhookDelivery,
];
