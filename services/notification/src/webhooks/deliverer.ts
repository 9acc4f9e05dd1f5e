import type { MikroORM } from "@mikro-orm/mysql";
import { type Attributes, context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { describeError, type Logger } from "@ostmesh/bus";
import { type EntityManager, execute, query, type Row } from "@ostmesh/db";
import type { DeliveryMetrics, DeliveryOutcome } from "@ostmesh/kit/metrics/delivery.ts";
import { DeliveryStatus } from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import { backoffMs, claimLeased, DeliveryLoop, forEachConcurrently, QueueDepth } from "../delivery-loop.ts";
import { num, str } from "../osticket/reads.ts";
import { restoredTraceContext, withoutAutoInstrumentation } from "../trace-context.ts";
import { type AttemptResult, postWebhook } from "./http.ts";
import { ostmeshSignatureHeader, signatureHeader } from "./signing.ts";
import type { TargetPolicy } from "./ssrf.ts";

export interface WebhookDelivererOptions {
  orm: MikroORM;
  logger: Logger;
  policy: TargetPolicy;
  /** Idle poll interval (default 1 s); `notify()` wakes the deliverer at once. */
  pollIntervalMs?: number;
  /** Deliveries claimed per round (default 50), attempted this many at a time (default 16). */
  batchSize?: number;
  concurrency?: number;
  /** How long a claimed delivery stays reserved (default 60 s; must exceed the attempt timeout). */
  leaseMs?: number;
  /** One attempt's deadline (default 10 s) and response bytes read at most (default 64 KiB). */
  timeoutMs?: number;
  maxResponseBytes?: number;
  /** Exponential backoff with jitter: from `initialMs` (default 5 s), doubling up to `maxMs` (default 1 h). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** A delivery still failing this long after it was created is FAILED (default 24 h). */
  retryPeriodMs?: number;
  /**
   * A subscription is disabled when it has failed `failures` attempts in a row (default 50) over at least
   * `periodMs` (default 24 h) without one success.
   */
  disableAfter?: { failures?: number; periodMs?: number };
  resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
  /** Attempt outcomes and queue depth (kit's deliveryMetrics, channel "webhook"). */
  metrics?: DeliveryMetrics;
}

/**
 * Makes webhook delivery attempts: claims due deliveries with a lease (SELECT ... FOR UPDATE SKIP LOCKED),
 * signs each request (Standard Webhooks, every valid secret), POSTs it through the SSRF-safe client, and
 * records the outcome in the delivery log: SUCCEEDED on 2xx; otherwise RETRYING with exponential backoff and
 * jitter until the retry period is over (then FAILED). A target refused by the SSRF policy fails at once.
 * Sustained failure disables the subscription.
 */
export class WebhookDeliverer {
  readonly #o: Required<Omit<WebhookDelivererOptions, "backoff" | "disableAfter" | "resolve" | "metrics">> & {
    metrics: DeliveryMetrics | undefined;
    backoffInitial: number;
    backoffMax: number;
    disableFailures: number;
    disablePeriodMs: number;
    resolve: WebhookDelivererOptions["resolve"];
  };
  readonly #loop: DeliveryLoop;
  readonly #queue: QueueDepth;

  constructor(options: WebhookDelivererOptions) {
    this.#o = {
      pollIntervalMs: 1_000,
      batchSize: 50,
      concurrency: 16,
      leaseMs: 60_000,
      timeoutMs: 10_000,
      maxResponseBytes: 64 * 1024,
      retryPeriodMs: 24 * 3_600_000,
      ...options,
      backoffInitial: options.backoff?.initialMs ?? 5_000,
      backoffMax: options.backoff?.maxMs ?? 3_600_000,
      disableFailures: options.disableAfter?.failures ?? 50,
      disablePeriodMs: options.disableAfter?.periodMs ?? 24 * 3_600_000,
      resolve: options.resolve,
      metrics: options.metrics,
    };
    this.#loop = new DeliveryLoop({
      logger: this.#o.logger,
      roundFailedMessage: "webhook delivery round failed",
      pollIntervalMs: this.#o.pollIntervalMs,
      batchSize: this.#o.batchSize,
      round: () => this.deliverDue(),
    });
    this.#queue = new QueueDepth(
      this.#o.metrics,
      "webhook",
      "SELECT COUNT(*) AS n FROM ostmesh_webhook_delivery WHERE status IN (?, ?)",
      [DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
    );
  }

  start(): this {
    this.#loop.start();
    return this;
  }

  notify(): void {
    this.#loop.notify();
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** Delay before the next attempt after `attempts` failed ones: exponential, capped, "equal jitter". */
  retryDelayMs(attempts: number): number {
    const base = backoffMs(attempts, this.#o.backoffInitial, this.#o.backoffMax);
    return Math.round(base / 2 + Math.random() * (base / 2));
  }

  /** Claims due deliveries and attempts them; returns how many were claimed. */
  async deliverDue(): Promise<number> {
    const em = this.#o.orm.em.fork();
    await this.#queue.report(em);
    const rows = await claimLeased(em, {
      table: "ostmesh_webhook_delivery",
      dueSql:
        "SELECT d.id FROM ostmesh_webhook_delivery d JOIN ostmesh_webhook w ON w.id = d.webhook_id" +
        " WHERE d.status IN (?, ?) AND d.next_attempt_at <= NOW(6) AND (d.lease_until IS NULL OR d.lease_until < NOW(6))" +
        " AND w.active = 1 AND w.deleted_at IS NULL ORDER BY d.next_attempt_at, d.id LIMIT ? FOR UPDATE SKIP LOCKED",
      dueParams: [DeliveryStatus.PENDING, DeliveryStatus.RETRYING, this.#o.batchSize],
      leaseMs: this.#o.leaseMs,
      load: (tx, ids, marks) =>
        query(
          tx,
          "SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.body, d.attempts, d.trace_context, w.url," +
            " d.created_at <= NOW(6) - INTERVAL ? MICROSECOND AS expired" +
            ` FROM ostmesh_webhook_delivery d JOIN ostmesh_webhook w ON w.id = d.webhook_id WHERE d.id IN (${marks}) ORDER BY d.id`,
          [this.#o.retryPeriodMs * 1000, ...ids],
        ),
    });
    // One failed attempt (its bookkeeping) never stops the others.
    await forEachConcurrently(rows, this.#o.concurrency, (row) =>
      this.#attempt(em.fork(), row).catch((error: unknown) =>
        this.#o.logger.error(
          { deliveryId: num(row.id), error: describeError(error) },
          "webhook attempt failed",
        ),
      ),
    );
    return rows.length;
  }

  async #attempt(em: EntityManager, row: Row): Promise<void> {
    const deliveryId = num(row.id);
    const webhookId = num(row.webhook_id);
    const eventId = str(row.event_id);
    const body = str(row.body);
    const secrets = (
      await query(
        em,
        "SELECT secret FROM ostmesh_webhook_secret WHERE webhook_id = ? AND (expires_at IS NULL OR expires_at > NOW(6))" +
          " ORDER BY id DESC",
        [webhookId],
      )
    ).map((r) => str(r.secret));
    const tracer = trace.getTracer("@ostmesh/notification");
    // The HTTP client span of the request (OTel HTTP semantic conventions: named by the method alone), in
    // the trace of the change that queued the delivery.
    const result = await tracer.startActiveSpan(
      "POST",
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "http.request.method": "POST",
          ...targetAttributes(str(row.url)),
          "ostmesh.webhook.id": webhookId,
          "ostmesh.webhook.delivery_id": deliveryId,
          "ostmesh.webhook.attempt": num(row.attempts) + 1,
          "ostmesh.event.id": eventId,
          "ostmesh.event.type": str(row.event_type),
        },
      },
      restoredTraceContext(row.trace_context),
      async (span) => {
        try {
          const timestamp = Math.floor(Date.now() / 1000);
          const headers: Record<string, string> = {
            "webhook-id": eventId,
            "webhook-timestamp": String(timestamp),
            "webhook-signature": signatureHeader(secrets, eventId, timestamp, body),
            "ostmesh-event-id": eventId,
            "ostmesh-event-type": str(row.event_type),
            "ostmesh-delivery-id": String(deliveryId),
            "ostmesh-signature": ostmeshSignatureHeader(secrets, timestamp, body),
          };
          // The receiver continues the trace of the change, as a child of this span.
          propagation.inject(context.active(), headers);
          const attempt = await withoutAutoInstrumentation(() =>
            postWebhook(str(row.url), body, headers, {
              policy: this.#o.policy,
              timeoutMs: this.#o.timeoutMs,
              maxResponseBytes: this.#o.maxResponseBytes,
              ...(this.#o.resolve ? { resolve: this.#o.resolve } : {}),
            }),
          );
          if (attempt.status) span.setAttribute("http.response.status_code", attempt.status);
          const ok = attempt.status >= 200 && attempt.status < 300 && attempt.error === "";
          if (!ok) {
            // error.type: the status code of an HTTP error, else the kind of failure (timeout, refused, ...).
            span.setAttribute(
              "error.type",
              attempt.status > 0 ? String(attempt.status) : failureOutcome(attempt),
            );
            span.setStatus({
              code: SpanStatusCode.ERROR,
              message: attempt.error || `HTTP ${attempt.status}`,
            });
          }
          return attempt;
        } catch (error) {
          // Not an attempt's outcome (those are returned) but a fault of this process.
          span.recordException(error instanceof Error ? error : new Error(String(error)));
          span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
          throw error;
        } finally {
          span.end();
        }
      },
    );
    await this.#record(em, row, result);
  }

  async #record(em: EntityManager, row: Row, result: AttemptResult): Promise<void> {
    const deliveryId = num(row.id);
    const webhookId = num(row.webhook_id);
    const attempts = num(row.attempts) + 1;
    const ok = result.status >= 200 && result.status < 300 && result.error === "";
    await em.transactional(async (tx) => {
      if (ok) {
        await execute(
          tx,
          "UPDATE ostmesh_webhook_delivery SET status = ?, attempts = ?, last_response_status = ?, last_error = ''," +
            " last_duration_ms = ?, last_attempt_at = NOW(6), next_attempt_at = NULL, lease_until = NULL WHERE id = ?",
          [DeliveryStatus.SUCCEEDED, attempts, result.status, result.durationMs, deliveryId],
        );
        await execute(
          tx,
          "UPDATE ostmesh_webhook SET consecutive_failures = 0, failing_since = NULL WHERE id = ? AND consecutive_failures > 0",
          [webhookId],
        );
        this.#o.metrics?.attempt("webhook", "success", result.durationMs / 1000);
        return;
      }
      const giveUp = result.refused || num(row.expired) === 1;
      this.#o.metrics?.attempt(
        "webhook",
        giveUp && !result.refused ? "dead" : failureOutcome(result),
        result.durationMs / 1000,
      );
      const delay = this.retryDelayMs(attempts);
      await execute(
        tx,
        "UPDATE ostmesh_webhook_delivery SET status = ?, attempts = ?, last_response_status = ?, last_error = ?," +
          " last_duration_ms = ?, last_attempt_at = NOW(6), lease_until = NULL," +
          " next_attempt_at = IF(?, NULL, NOW(6) + INTERVAL ? MICROSECOND) WHERE id = ?",
        [
          giveUp ? DeliveryStatus.FAILED : DeliveryStatus.RETRYING,
          attempts,
          result.status,
          (result.refused ? `refused: ${result.error}` : result.error).slice(0, 1024),
          result.durationMs,
          giveUp ? 1 : 0,
          delay * 1000,
          deliveryId,
        ],
      );
      await execute(
        tx,
        "UPDATE ostmesh_webhook SET consecutive_failures = consecutive_failures + 1," +
          " failing_since = COALESCE(failing_since, NOW(6)) WHERE id = ?",
        [webhookId],
      );
      const disabled = await execute(
        tx,
        "UPDATE ostmesh_webhook SET active = 0, updated_at = NOW(6)," +
          " disabled_reason = CONCAT('disabled after ', consecutive_failures, ' failed attempts in a row since ', failing_since)" +
          " WHERE id = ? AND active = 1 AND consecutive_failures >= ? AND failing_since <= NOW(6) - INTERVAL ? MICROSECOND",
        [webhookId, this.#o.disableFailures, this.#o.disablePeriodMs * 1000],
      );
      if (disabled.affectedRows > 0)
        this.#o.logger.warn(
          { webhookId, attempts: this.#o.disableFailures },
          "webhook disabled after sustained failure",
        );
    });
    if (!ok)
      this.#o.logger.info(
        { deliveryId, webhookId, attempts, status: result.status, error: result.error },
        "webhook delivery attempt failed",
      );
  }
}

function failureOutcome(result: AttemptResult): DeliveryOutcome {
  if (result.refused) return "refused";
  if (result.status > 0) return "http_error";
  return /no answer within/.test(result.error) ? "timeout" : "network_error";
}

/**
 * url.full, server.address and server.port of a webhook target. Webhook URLs often carry a token in the query
 * string, so every query value is REDACTED (and credentials, which subscriptions refuse anyway).
 */
export function targetAttributes(target: string): Attributes {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return {};
  }
  if (url.username || url.password) {
    url.username = "REDACTED";
    url.password = "REDACTED";
  }
  if (url.search) {
    const query = new URLSearchParams();
    for (const key of url.searchParams.keys()) query.append(key, "REDACTED");
    url.search = query.toString();
  }
  return {
    "url.full": url.toString(),
    "server.address": url.hostname.replace(/^\[(.*)\]$/, "$1"),
    "server.port": Number(url.port) || (url.protocol === "https:" ? 443 : 80),
  };
}
