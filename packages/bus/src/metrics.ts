import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RelayMetricsHooks } from "./relay.ts";

/** Relay hooks backed by prom-client metrics registered on `registry`. */
export function relayPrometheusMetrics(registry: Registry, prefix = "ostmesh_outbox_"): RelayMetricsHooks {
  const registers = [registry];
  const backlog = new Gauge({
    name: `${prefix}backlog`,
    help: "Unpublished outbox rows",
    registers,
  });
  const lag = new Gauge({
    name: `${prefix}oldest_unpublished_age_seconds`,
    help: "Age of the oldest unpublished outbox row",
    registers,
  });
  const published = new Counter({
    name: `${prefix}published_total`,
    help: "Outbox rows published to JetStream",
    registers,
  });
  const failed = new Counter({
    name: `${prefix}publish_failures_total`,
    help: "Outbox publish attempts that failed (retried with backoff)",
    registers,
  });
  const leader = new Gauge({
    name: `${prefix}relay_leader`,
    help: "1 while this process holds the outbox relay lease",
    registers,
  });
  const batch = new Histogram({
    name: `${prefix}batch_duration_seconds`,
    help: "Duration of one relay batch (select, publish, mark)",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  leader.set(0);
  return {
    backlog(pending, oldestLagSeconds) {
      backlog.set(pending);
      lag.set(oldestLagSeconds);
    },
    published: (count) => published.inc(count),
    failed: (count) => failed.inc(count),
    leader: (isLeader) => leader.set(isLeader ? 1 : 0),
    batch: (_rows, seconds) => batch.observe(seconds),
  };
}
