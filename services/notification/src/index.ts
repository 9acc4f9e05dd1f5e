import { connectBus, type EventStreamDefinition, ensureStreams, eventStreamFromEnv } from "@ostmesh/bus";
import { createOrm, pendingMigrations } from "@ostmesh/db";
import { configOrExit, type EnvSource, type RegisterService } from "@ostmesh/kit";
import { mikroOrmPoolSource, watchDbPool } from "@ostmesh/kit/metrics/index.ts";
import { NotificationService } from "@ostmesh/proto";
import { loadNotificationConfig } from "./config.ts";
import { startNotificationRuntime } from "./runtime.ts";

export { loadNotificationConfig, type NotificationConfig } from "./config.ts";
export {
  type NotificationRuntime,
  type NotificationRuntimeOptions,
  startNotificationRuntime,
} from "./runtime.ts";
export { type NotificationServiceDeps, NotificationServiceImpl } from "./service.ts";

/** The notification service's name in the mesh (OSTMESH_SERVICES, NOTIFICATION_URL, health checks). */
export const name = "notification";

export interface NotificationServiceOptions {
  /** Where the service's own settings are read (default process.env). */
  readonly env?: EnvSource;
  /** The event stream (default: NATS_EVENTS_* from `env`). */
  readonly stream?: EventStreamDefinition;
  /** Where new durable consumers start (default "new"). */
  readonly deliverPolicy?: "all" | "new";
}

/**
 * Adds the notification service to a process: NotificationService (webhooks, WatchEvents), change capture
 * of osTicket's PHP side, the e-mail and webhook consumers and their workers, with their metrics on the
 * process's registry. Its tables come from ostmesh's migrations (run by the bootstrap and by the ticket and
 * identity services at start); readiness stays red while any is pending.
 */
export function notificationService(options: NotificationServiceOptions = {}): RegisterService {
  return async (router, deps) => {
    const env = options.env ?? process.env;
    const config = configOrExit(() => loadNotificationConfig(env), name);
    const stream = options.stream ?? eventStreamFromEnv(env);
    const orm = await createOrm({ url: deps.config.databaseUrl });
    deps.onShutdown(() => orm.close());
    deps.onShutdown(watchDbPool(deps.metrics.registry, mikroOrmPoolSource(name, orm)));
    const bus = await connectBus({
      url: deps.config.natsUrl,
      name: "ostmesh-notification",
      waitOnFirstConnect: true,
      logger: deps.logger,
    });
    deps.onShutdown(() => bus.close());
    await ensureStreams(bus.jsm, stream);
    deps.addReadinessCheck({
      name: "notification-schema",
      async check() {
        const pending = await pendingMigrations(orm);
        if (pending.length > 0) throw new Error(`ostmesh migrations pending: ${pending.join(", ")}`);
      },
    });
    const runtime = await startNotificationRuntime({
      orm,
      bus,
      stream,
      databaseUrl: deps.config.databaseUrl,
      config,
      logger: deps.logger,
      registry: deps.metrics.registry,
      ...(options.deliverPolicy ? { deliverPolicy: options.deliverPolicy } : {}),
    });
    deps.onShutdown(() => runtime.close());
    router.service(NotificationService, runtime.service);
  };
}

/** The notification service as configured by the environment. */
export const register: RegisterService = notificationService();

/** It consumes and streams events: without NATS it cannot serve (see HostedService.needsBus). */
export const needsBus = true;
