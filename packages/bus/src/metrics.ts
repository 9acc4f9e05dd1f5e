import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RelayMetricsHooks } from "./relay.ts";

interface RelaySeries {
  readonly backlog: Gauge;
  readonly lag: Gauge;
  readonly published: Counter;
  readonly failed: Counter;
  readonly leader: Gauge;
  readonly batch: Histogram;
  /** Relays of this process that hold the lease right now (normally 0 or 1). */
  readonly leaders: Set<object>;
}

const seriesByRegistry = new WeakMap<Registry, Map<string, RelaySeries>>();

function relaySeries(registry: Registry, prefix: string): RelaySeries {
  let byPrefix = seriesByRegistry.get(registry);
  if (!byPrefix) {
    byPrefix = new Map();
    seriesByRegistry.set(registry, byPrefix);
  }
  const existing = byPrefix.get(prefix);
  if (existing) return existing;
  const registers = [registry];
  const series: RelaySeries = {
    backlog: new Gauge({ name: `${prefix}backlog`, help: "Unpublished outbox rows", registers }),
    lag: new Gauge({
      name: `${prefix}oldest_unpublished_age_seconds`,
      help: "Age of the oldest unpublished outbox row",
      registers,
    }),
    published: new Counter({
      name: `${prefix}published_total`,
      help: "Outbox rows published to JetStream",
      registers,
    }),
    failed: new Counter({
      name: `${prefix}publish_failures_total`,
      help: "Outbox publish attempts that failed (retried with backoff)",
      registers,
    }),
    leader: new Gauge({
      name: `${prefix}relay_leader`,
      help: "1 while this process holds the outbox relay lease",
      registers,
    }),
    batch: new Histogram({
      name: `${prefix}batch_duration_seconds`,
      help: "Duration of one relay batch (select, publish, mark)",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    leaders: new Set(),
  };
  series.leader.set(0);
  byPrefix.set(prefix, series);
  return series;
}

/**
 * Relay hooks backed by prom-client metrics registered on `registry`. Several relays of one process (the
 * ticket and notification services hosted together) share the series: each call returns its own hooks, and
 * `relay_leader` is 1 while any of them holds the lease.
 */
export function relayPrometheusMetrics(registry: Registry, prefix = "ostmesh_outbox_"): RelayMetricsHooks {
  const s = relaySeries(registry, prefix);
  const self = {};
  return {
    backlog(pending, oldestLagSeconds) {
      s.backlog.set(pending);
      s.lag.set(oldestLagSeconds);
    },
    published: (count) => s.published.inc(count),
    failed: (count) => s.failed.inc(count),
    leader: (isLeader) => {
      if (isLeader) s.leaders.add(self);
      else s.leaders.delete(self);
      s.leader.set(s.leaders.size > 0 ? 1 : 0);
    },
    batch: (_rows, seconds) => s.batch.observe(seconds),
  };
}
