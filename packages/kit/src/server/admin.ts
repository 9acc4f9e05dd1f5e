import http from "node:http";
import type { HealthMonitor } from "../health/monitor.ts";
import type { ProcessMetrics } from "../metrics/metrics.ts";

/**
 * The HTTP/1.1 admin server: `/healthz` (the process is alive: 200 while it runs, also during shutdown),
 * `/readyz` (every readiness check passes: 200, else 503 naming what failed), `/metrics` (Prometheus).
 */
export function createAdminServer(monitor: HealthMonitor, metrics: ProcessMetrics): http.Server {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
      return;
    }
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(`${JSON.stringify(body)}\n`);
    };
    switch (path) {
      case "/healthz":
        json(200, { status: "alive", shuttingDown: monitor.shuttingDown });
        return;
      case "/readyz": {
        const report = monitor.shuttingDown ? Promise.resolve(monitor.lastReport()) : monitor.evaluate();
        report.then(
          (r) => {
            const ready = r?.ready === true && !monitor.shuttingDown;
            const failing = (r?.checks ?? []).filter((c) => !c.ok);
            json(ready ? 200 : 503, {
              status: ready ? "ready" : monitor.shuttingDown ? "shutting down" : "not ready",
              failing: failing.map((c) => ({ check: c.name, error: c.error })),
              checks: r?.checks ?? [],
            });
          },
          (error: unknown) => json(503, { status: "not ready", error: String(error) }),
        );
        return;
      }
      case "/metrics":
        metrics.render().then(
          ({ contentType, body }) => {
            res.writeHead(200, { "content-type": contentType });
            res.end(body);
          },
          () => json(500, { error: "metrics unavailable" }),
        );
        return;
      default:
        json(404, { error: "not found", endpoints: ["/healthz", "/readyz", "/metrics"] });
    }
  });
  server.keepAliveTimeout = 5000;
  return server;
}
