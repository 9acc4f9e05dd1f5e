import { Counter, Gauge, type Registry } from "prom-client";
import type { HealthMonitor } from "../health/monitor.ts";

/**
 * Readiness on a process's registry, read from its HealthMonitor at every scrape and on every change:
 *   ostmesh_ready                             1 while /readyz is 200 (every check passes, not shutting down)
 *   ostmesh_readiness_check_ok{check}         1/0 per readiness check (mysql, nats, a downstream service)
 *   ostmesh_readiness_transitions_total       ready <-> not-ready flips (a flapping process counts fast)
 * Returns a function that stops listening to the monitor.
 */
export function watchReadiness(registry: Registry, health: HealthMonitor): () => void {
  let lastReady: boolean | undefined;
  const transitions = new Counter({
    name: "ostmesh_readiness_transitions_total",
    help: "Times the process went from ready to not ready or back",
    registers: [registry],
  });
  transitions.inc(0);
  const observe = () => {
    const report = health.lastReport();
    if (!report) return;
    if (lastReady !== undefined && lastReady !== report.ready) transitions.inc();
    lastReady = report.ready;
  };
  const unsubscribe = health.subscribe(observe);
  const ready: Gauge = new Gauge({
    name: "ostmesh_ready",
    help: "1 while the process is ready (every readiness check passes and it is not shutting down)",
    registers: [registry],
    collect() {
      observe();
      ready.set(health.lastReport()?.ready === true && !health.shuttingDown ? 1 : 0);
    },
  });
  const checks: Gauge<"check"> = new Gauge({
    name: "ostmesh_readiness_check_ok",
    help: "1 when the readiness check passed at its last evaluation",
    labelNames: ["check"],
    registers: [registry],
    collect() {
      checks.reset();
      for (const c of health.lastReport()?.checks ?? []) checks.set({ check: c.name }, c.ok ? 1 : 0);
    },
  });
  return unsubscribe;
}
