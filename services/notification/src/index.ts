import { connectBus, ensureStreams, eventStreamFromEnv } from "@ostmesh/bus";
import { createOrm, pendingMigrations } from "@ostmesh/db";
import type { RegisterService } from "@ostmesh/kit";
import { mikroOrmPoolSource, watchConsumerLag, watchDbPool } from "@ostmesh/kit/metrics/index.ts";
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

/**
 * Adds the notification service to a process: NotificationService (webhooks, WatchEvents), change capture
 * of osTicket's PHP side, the e-mail and webhook consumers and their workers. Its database tables come from
 * ostmesh's migrations (run by the bootstrap); readiness stays red while any is pending.
 */
export const register: RegisterService = async (router, deps) => {
  const config = loadNotificationConfig();
  const stream = eventStreamFromEnv();
  const orm = await createOrm({ url: deps.config.databaseUrl });
  deps.onShutdown(() => orm.close());
  deps.onShutdown(watchDbPool(deps.metrics.registry, mikroOrmPoolSource("notification", orm)));
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
  });
  deps.onShutdown(() => runtime.close());
  // Consumer lag of the runtime's durable consumers (default names: notification-webhooks, -email).
  for (const durable of ["notification-webhooks", ...(config.smtpUrl ? ["notification-email"] : [])])
    deps.onShutdown(
      watchConsumerLag(deps.metrics.registry, bus.jsm.consumers, { stream: stream.name, consumer: durable }),
    );
  router.service(NotificationService, runtime.service);
};
