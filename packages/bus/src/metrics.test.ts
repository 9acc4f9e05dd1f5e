import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { relayPrometheusMetrics } from "./metrics.ts";

async function value(registry: Registry, name: string): Promise<number | undefined> {
  return (await registry.getSingleMetric(name)?.get())?.values[0]?.value;
}

describe("relay metrics", () => {
  it("lets two relays of one process share the series; leader is 1 while either holds the lease", async () => {
    const registry = new Registry();
    const a = relayPrometheusMetrics(registry);
    const b = relayPrometheusMetrics(registry);
    expect(await value(registry, "ostmesh_outbox_relay_leader")).toBe(0);
    a.leader?.(false);
    b.leader?.(true);
    expect(await value(registry, "ostmesh_outbox_relay_leader")).toBe(1);
    a.leader?.(false);
    expect(await value(registry, "ostmesh_outbox_relay_leader")).toBe(1);
    b.leader?.(false);
    expect(await value(registry, "ostmesh_outbox_relay_leader")).toBe(0);
    a.published?.(3);
    b.published?.(2);
    b.backlog?.(7, 1.5);
    expect(await value(registry, "ostmesh_outbox_published_total")).toBe(5);
    expect(await value(registry, "ostmesh_outbox_backlog")).toBe(7);
    expect(await value(registry, "ostmesh_outbox_oldest_unpublished_age_seconds")).toBe(1.5);
  });
});
