import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type EntityManager, execute, query, type Row } from "@ostmesh/db";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import {
  type Delivery,
  DeliverySchema,
  DeliveryStatus,
  type Webhook,
  WebhookSchema,
} from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import type { EventFilterSpec } from "../events/event.ts";
import { num, str, timestampOf } from "../osticket/reads.ts";
import { secretHint } from "./signing.ts";

/** ostmesh_webhook, ostmesh_webhook_secret and ostmesh_webhook_delivery, read and written in SQL. */

export interface SecretRecord {
  readonly id: number;
  readonly secret: string;
  readonly createdAt: number;
  /** UNIX seconds; 0 for the current secret. */
  readonly expiresAt: number;
}

export interface WebhookRecord {
  readonly id: number;
  readonly url: string;
  readonly eventTypes: string[];
  readonly filter: EventFilterSpec;
  readonly description: string;
  readonly active: boolean;
  readonly disabledReason: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Valid secrets, newest first. */
  readonly secrets: SecretRecord[];
}

const WEBHOOK_COLUMNS =
  "w.id, w.url, w.event_types, w.filter, w.description, w.active, w.disabled_reason," +
  " UNIX_TIMESTAMP(w.created_at) AS created_ts, UNIX_TIMESTAMP(w.updated_at) AS updated_ts";

function parseJson(text: unknown): unknown {
  try {
    return JSON.parse(str(text));
  } catch {
    return undefined;
  }
}

export function filterFromJson(text: unknown): EventFilterSpec {
  const value = parseJson(text);
  const numbers = (key: string): number[] => {
    const list: unknown = value && typeof value === "object" ? Reflect.get(value, key) : undefined;
    return Array.isArray(list) ? list.map((n) => num(n)).filter((n) => n > 0) : [];
  };
  const origin: unknown = value && typeof value === "object" ? Reflect.get(value, "origin") : undefined;
  return {
    deptIds: numbers("deptIds"),
    topicIds: numbers("topicIds"),
    origin:
      origin === EventOrigin.OSTMESH || origin === EventOrigin.OSTICKET ? origin : EventOrigin.UNSPECIFIED,
  };
}

export function filterToJson(filter: EventFilterSpec): string {
  return JSON.stringify({ deptIds: filter.deptIds, topicIds: filter.topicIds, origin: filter.origin });
}

function eventTypesFromJson(text: unknown): string[] {
  const value = parseJson(text);
  return Array.isArray(value) ? value.map((v) => String(v)) : [];
}

function webhookOf(row: Row, secrets: SecretRecord[]): WebhookRecord {
  return {
    id: num(row.id),
    url: str(row.url),
    eventTypes: eventTypesFromJson(row.event_types),
    filter: filterFromJson(row.filter),
    description: str(row.description),
    active: num(row.active) === 1,
    disabledReason: str(row.disabled_reason),
    createdAt: num(row.created_ts),
    updatedAt: num(row.updated_ts),
    secrets,
  };
}

async function validSecrets(
  em: EntityManager,
  webhookIds: readonly number[],
): Promise<Map<number, SecretRecord[]>> {
  const out = new Map<number, SecretRecord[]>();
  if (webhookIds.length === 0) return out;
  const rows = await query(
    em,
    "SELECT id, webhook_id, secret, UNIX_TIMESTAMP(created_at) AS created_ts, UNIX_TIMESTAMP(expires_at) AS expires_ts" +
      ` FROM ostmesh_webhook_secret WHERE webhook_id IN (${webhookIds.map(() => "?").join(",")})` +
      " AND (expires_at IS NULL OR expires_at > NOW(6)) ORDER BY id DESC",
    [...webhookIds],
  );
  for (const r of rows) {
    const list = out.get(num(r.webhook_id)) ?? [];
    list.push({
      id: num(r.id),
      secret: str(r.secret),
      createdAt: num(r.created_ts),
      expiresAt: num(r.expires_ts),
    });
    out.set(num(r.webhook_id), list);
  }
  return out;
}

export async function insertWebhook(
  tx: EntityManager,
  fields: { url: string; eventTypes: string[]; filter: EventFilterSpec; description: string; secret: string },
): Promise<number> {
  const { insertId } = await execute(
    tx,
    "INSERT INTO ostmesh_webhook (url, event_types, filter, description) VALUES (?, ?, ?, ?)",
    [fields.url, JSON.stringify(fields.eventTypes), filterToJson(fields.filter), fields.description],
  );
  await execute(tx, "INSERT INTO ostmesh_webhook_secret (webhook_id, secret) VALUES (?, ?)", [
    insertId,
    fields.secret,
  ]);
  return insertId;
}

/** A live (not deleted) subscription with its valid secrets. */
export async function loadWebhook(
  em: EntityManager,
  id: number,
  lock = false,
): Promise<WebhookRecord | undefined> {
  const [row] = await query(
    em,
    `SELECT ${WEBHOOK_COLUMNS} FROM ostmesh_webhook w WHERE w.id = ? AND w.deleted_at IS NULL${lock ? " FOR UPDATE" : ""}`,
    [id],
  );
  if (!row) return undefined;
  return webhookOf(row, (await validSecrets(em, [id])).get(id) ?? []);
}

export async function listWebhooks(
  em: EntityManager,
  afterId: number,
  limit: number,
): Promise<WebhookRecord[]> {
  const rows = await query(
    em,
    `SELECT ${WEBHOOK_COLUMNS} FROM ostmesh_webhook w WHERE w.deleted_at IS NULL AND w.id > ? ORDER BY w.id LIMIT ?`,
    [afterId, limit],
  );
  const secrets = await validSecrets(
    em,
    rows.map((r) => num(r.id)),
  );
  return rows.map((r) => webhookOf(r, secrets.get(num(r.id)) ?? []));
}

/** Active subscriptions, for fan-out. */
export async function activeWebhooks(em: EntityManager): Promise<WebhookRecord[]> {
  const rows = await query(
    em,
    `SELECT ${WEBHOOK_COLUMNS} FROM ostmesh_webhook w WHERE w.deleted_at IS NULL AND w.active = 1 ORDER BY w.id`,
  );
  return rows.map((r) => webhookOf(r, []));
}

export async function updateWebhook(
  tx: EntityManager,
  id: number,
  changes: {
    url?: string;
    eventTypes?: string[];
    filter?: EventFilterSpec;
    description?: string;
    active?: boolean;
  },
): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [];
  if (changes.url !== undefined) sets.push("url = ?") && params.push(changes.url);
  if (changes.eventTypes !== undefined)
    sets.push("event_types = ?") && params.push(JSON.stringify(changes.eventTypes));
  if (changes.filter !== undefined) sets.push("filter = ?") && params.push(filterToJson(changes.filter));
  if (changes.description !== undefined) sets.push("description = ?") && params.push(changes.description);
  if (changes.active !== undefined) {
    sets.push("active = ?");
    params.push(changes.active ? 1 : 0);
    // Resuming by hand starts the failure count afresh.
    if (changes.active) sets.push("disabled_reason = NULL, consecutive_failures = 0, failing_since = NULL");
  }
  if (sets.length === 0) return;
  await execute(tx, `UPDATE ostmesh_webhook SET ${sets.join(", ")}, updated_at = NOW(6) WHERE id = ?`, [
    ...params,
    id,
  ]);
}

/** Soft-deletes a subscription; its pending deliveries fail, its log stays. */
export async function deleteWebhook(tx: EntityManager, id: number): Promise<boolean> {
  const { affectedRows } = await execute(
    tx,
    "UPDATE ostmesh_webhook SET deleted_at = NOW(6), active = 0, updated_at = NOW(6) WHERE id = ? AND deleted_at IS NULL",
    [id],
  );
  if (affectedRows === 0) return false;
  await execute(
    tx,
    "UPDATE ostmesh_webhook_delivery SET status = ?, next_attempt_at = NULL, last_error = 'subscription deleted'" +
      " WHERE webhook_id = ? AND status IN (?, ?)",
    [DeliveryStatus.FAILED, id, DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
  );
  return true;
}

/** Adds a new current secret; the valid ones expire after `overlapMs` (at once for 0). */
export async function rotateSecret(
  tx: EntityManager,
  id: number,
  secret: string,
  overlapMs: number,
): Promise<void> {
  await execute(
    tx,
    "UPDATE ostmesh_webhook_secret SET expires_at = NOW(6) + INTERVAL ? MICROSECOND" +
      " WHERE webhook_id = ? AND (expires_at IS NULL OR expires_at > NOW(6) + INTERVAL ? MICROSECOND)",
    [overlapMs * 1000, id, overlapMs * 1000],
  );
  await execute(tx, "INSERT INTO ostmesh_webhook_secret (webhook_id, secret) VALUES (?, ?)", [id, secret]);
  await execute(tx, "UPDATE ostmesh_webhook SET updated_at = NOW(6) WHERE id = ?", [id]);
}

export function webhookMessage(record: WebhookRecord): Webhook {
  return create(WebhookSchema, {
    id: record.id,
    url: record.url,
    eventTypes: record.eventTypes,
    filter: {
      deptIds: [...record.filter.deptIds],
      topicIds: [...record.filter.topicIds],
      origin: record.filter.origin,
    },
    description: record.description,
    active: record.active,
    secrets: record.secrets.map((s) => ({
      id: s.id,
      hint: secretHint(s.secret),
      createdAt: timestampOf(s.createdAt),
      expiresAt: timestampOf(s.expiresAt),
    })),
    createdAt: timestampOf(record.createdAt),
    updatedAt: timestampOf(record.updatedAt),
  });
}

// ---- deliveries

export interface NewDelivery {
  readonly webhookId: number;
  readonly eventId: string;
  readonly eventType: string;
  readonly body: string;
  /** The event id for an original delivery; null for a replay. */
  readonly dedupeKey: string | null;
  readonly replayOf: number;
  /** W3C trace headers to continue (JSON), or null. */
  readonly traceContext?: string | null;
}

/** Adds a PENDING delivery; an original delivery of an event already delivered to the webhook is skipped. */
export async function insertDelivery(tx: EntityManager, d: NewDelivery): Promise<number | undefined> {
  const { affectedRows, insertId } = await execute(
    tx,
    "INSERT IGNORE INTO ostmesh_webhook_delivery (webhook_id, event_id, event_type, dedupe_key, body, status," +
      " next_attempt_at, replay_of, trace_context) VALUES (?, ?, ?, ?, ?, ?, NOW(6), ?, ?)",
    [
      d.webhookId,
      d.eventId.slice(0, 128),
      d.eventType.slice(0, 64),
      d.dedupeKey,
      d.body,
      DeliveryStatus.PENDING,
      d.replayOf,
      d.traceContext ?? null,
    ],
  );
  return affectedRows > 0 ? insertId : undefined;
}

const DELIVERY_COLUMNS =
  "d.id, d.webhook_id, d.event_id, d.event_type, d.status, d.attempts, d.last_response_status, d.last_error," +
  " d.last_duration_ms, d.replay_of, UNIX_TIMESTAMP(d.created_at) AS created_ts," +
  " UNIX_TIMESTAMP(d.last_attempt_at) AS last_attempt_ts, UNIX_TIMESTAMP(d.next_attempt_at) AS next_attempt_ts";

export function deliveryMessage(row: Row): Delivery {
  const status = num(row.status);
  return create(DeliverySchema, {
    id: num(row.id),
    webhookId: num(row.webhook_id),
    eventId: str(row.event_id),
    eventType: str(row.event_type),
    status,
    attempts: num(row.attempts),
    lastResponseStatus: num(row.last_response_status),
    lastError: str(row.last_error),
    lastDuration: num(row.attempts) > 0 ? durationFromMs(num(row.last_duration_ms)) : undefined,
    createdAt: timestampOf(row.created_ts),
    lastAttemptAt: timestampOf(row.last_attempt_ts),
    nextAttemptAt: status === DeliveryStatus.RETRYING ? timestampOf(row.next_attempt_ts) : undefined,
    replayOf: num(row.replay_of),
  });
}

export async function loadDelivery(
  em: EntityManager,
  id: number,
): Promise<(Row & { body: string }) | undefined> {
  const [row] = await query(
    em,
    `SELECT ${DELIVERY_COLUMNS}, d.body FROM ostmesh_webhook_delivery d WHERE d.id = ?`,
    [id],
  );
  return row ? { ...row, body: str(row.body) } : undefined;
}

/** A page of one webhook's deliveries, newest first; `beforeId` 0 = from the newest. */
export async function listDeliveries(
  em: EntityManager,
  webhookId: number,
  status: DeliveryStatus,
  beforeId: number,
  limit: number,
): Promise<Row[]> {
  const conditions = ["d.webhook_id = ?"];
  const params: unknown[] = [webhookId];
  if (status !== DeliveryStatus.UNSPECIFIED) conditions.push("d.status = ?") && params.push(status);
  if (beforeId > 0) conditions.push("d.id < ?") && params.push(beforeId);
  return query(
    em,
    `SELECT ${DELIVERY_COLUMNS} FROM ostmesh_webhook_delivery d WHERE ${conditions.join(" AND ")} ORDER BY d.id DESC LIMIT ?`,
    [...params, limit],
  );
}
