import { connectBus, ensureStreams, eventStreamFromEnv } from "@ostmesh/bus";
import { createOrm, pendingMigrations } from "@ostmesh/db";
import type { RegisterService } from "@ostmesh/kit";
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
  router.service(NotificationService, runtime.service);
};
