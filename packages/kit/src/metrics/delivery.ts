import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** How one delivery attempt ended. */
export const DELIVERY_OUTCOMES = [
  /** 2xx from the endpoint, or the SMTP server accepted the message. */
  "success",
  /** The endpoint answered with a non-2xx status (retried). */
  "http_error",
  /** No answer in time (retried). */
  "timeout",
  /** DNS, TCP or TLS failure (retried). */
  "network_error",
  /** The target is not allowed (SSRF rules) or the endpoint is disabled: not retried. */
  "refused",
  /** Retries exhausted: the delivery is given up (dead-lettered). */
  "dead",
] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

export type DeliveryChannel = "webhook" | "email";

export interface DeliveryMetrics {
  /** One attempt finished after `seconds`. */
  attempt(channel: DeliveryChannel, outcome: DeliveryOutcome, seconds: number): void;
  /** Deliveries waiting to be attempted (queued or scheduled for retry), per channel. */
  queued(channel: DeliveryChannel, count: number): void;
}

const byRegistry = new WeakMap<Registry, DeliveryMetrics>();

/**
 * Webhook and e-mail delivery outcomes on a process's registry (idempotent per registry):
 *   ostmesh_delivery_attempts_total{channel, outcome}
 *   ostmesh_delivery_duration_seconds{channel, outcome}   time of one attempt (HTTP round trip, SMTP send)
 *   ostmesh_delivery_queued{channel}                       deliveries waiting (due now or scheduled for retry)
 * Every outcome series starts at 0, so `rate()` and alert expressions work before the first failure.
 */
export function deliveryMetrics(registry: Registry): DeliveryMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const attempts = new Counter({
    name: "ostmesh_delivery_attempts_total",
    help: "Notification delivery attempts by channel (webhook, email) and outcome",
    labelNames: ["channel", "outcome"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "ostmesh_delivery_duration_seconds",
    help: "Time of one delivery attempt (HTTP round trip or SMTP send)",
    labelNames: ["channel", "outcome"],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const waiting = new Gauge({
    name: "ostmesh_delivery_queued",
    help: "Notification deliveries waiting to be attempted (due or scheduled for retry)",
    labelNames: ["channel"],
    registers: [registry],
  });
  for (const channel of ["webhook", "email"] as const) {
    for (const outcome of DELIVERY_OUTCOMES) attempts.inc({ channel, outcome }, 0);
    waiting.set({ channel }, 0);
  }
  const metrics: DeliveryMetrics = {
    attempt(channel, outcome, seconds) {
      attempts.inc({ channel, outcome });
      duration.observe({ channel, outcome }, seconds);
    },
    queued(channel, count) {
      waiting.set({ channel }, count);
    },
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
