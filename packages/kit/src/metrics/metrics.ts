import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * One Prometheus registry per process (never prom-client's global one, so tests can run several servers in
 * one process): Node runtime defaults (event-loop delay, heap, GC, handles) and the RPC RED series.
 */
export class ProcessMetrics {
  readonly registry: Registry;
  /** RPCs served, by service, method and Connect code (`ok`, `not_found`, ...). */
  readonly rpcRequests: Counter<"service" | "method" | "code">;
  /** Server-side RPC latency in seconds, by service, method and code. */
  readonly rpcDuration: Histogram<"service" | "method" | "code">;
  /** RPCs being served right now. */
  readonly rpcInFlight: Gauge<"service" | "method">;

  constructor(processName: string) {
    this.registry = new Registry();
    this.registry.setDefaultLabels({ process: processName });
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    this.rpcRequests = new Counter({
      name: "rpc_server_requests_total",
      help: "RPCs served, by service, method and Connect code",
      labelNames: ["service", "method", "code"],
      registers: [this.registry],
    });
    this.rpcDuration = new Histogram({
      name: "rpc_server_duration_seconds",
      help: "Time to serve an RPC (for streams: until the stream ends)",
      labelNames: ["service", "method", "code"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.rpcInFlight = new Gauge({
      name: "rpc_server_in_flight",
      help: "RPCs being served",
      labelNames: ["service", "method"],
      registers: [this.registry],
    });
  }

  /** Text exposition for /metrics. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
