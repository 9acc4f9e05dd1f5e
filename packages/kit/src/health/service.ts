import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
} from "@ostmesh/proto/gen/grpc/health/v1/health_pb.js";
import { type HealthMonitor, ServingStatus } from "./monitor.ts";

/**
 * grpc.health.v1.Health backed by a HealthMonitor: Check runs the real checks, List reports every name,
 * Watch sends the current status, then every change, until the caller leaves or the process shuts down
 * (its last message then is NOT_SERVING). Unknown names: Check answers NOT_FOUND, Watch SERVICE_UNKNOWN,
 * as the gRPC health protocol specifies.
 */
export function healthRoutes(monitor: HealthMonitor): (router: ConnectRouter) => void {
  return (router) => {
    router.service(Health, {
      async check(req: HealthCheckRequest) {
        if (monitor.status(req.service) === undefined) {
          throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
        }
        if (!monitor.shuttingDown) await monitor.evaluate();
        return { status: monitor.status(req.service) ?? ServingStatus.SERVICE_UNKNOWN };
      },
      async list() {
        if (!monitor.shuttingDown) await monitor.evaluate();
        const statuses: Record<string, HealthCheckResponse> = {};
        for (const name of monitor.names()) {
          statuses[name] = create(HealthCheckResponseSchema, { status: monitor.status(name) });
        }
        return { statuses };
      },
      watch: (req: HealthCheckRequest, ctx: HandlerContext) => watchStatus(monitor, req.service, ctx.signal),
    });
  };
}

async function* watchStatus(
  monitor: HealthMonitor,
  name: string,
  signal: AbortSignal,
): AsyncGenerator<{ status: ServingStatus }> {
  const done = AbortSignal.any([signal, monitor.stopped]);
  let wake: (() => void) | undefined;
  const unsubscribe = monitor.subscribe(() => wake?.());
  const onDone = () => wake?.();
  done.addEventListener("abort", onDone);
  try {
    let sent: ServingStatus | undefined;
    for (;;) {
      const status = monitor.status(name) ?? ServingStatus.SERVICE_UNKNOWN;
      if (status !== sent) {
        sent = status;
        yield { status };
      }
      if (done.aborted) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    unsubscribe();
    done.removeEventListener("abort", onDone);
  }
}
