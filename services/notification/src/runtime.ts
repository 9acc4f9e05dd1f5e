import type { MikroORM } from "@mikro-orm/mysql";
import {
  type Bus,
  type ConsumerHandle,
  type EventStreamDefinition,
  type Logger,
  nudgeRelays,
  type OutboxRelay,
  relayPrometheusMetrics,
  startOutboxRelay,
} from "@ostmesh/bus";
import { watchConsumerLag } from "@ostmesh/kit/metrics/consumer-lag.ts";
import { deliveryMetrics } from "@ostmesh/kit/metrics/delivery.ts";
import { stampEventId } from "@ostmesh/proto";
import type { Registry } from "prom-client";
import { ChangeCapture } from "./capture/capture.ts";
import type { NotificationConfig } from "./config.ts";
import { startEmailConsumer } from "./email/consumer.ts";
import { EmailSender } from "./email/outbox.ts";
import { smtpTransport } from "./email/transport.ts";
import { startHousekeeping } from "./housekeeping.ts";
import { NotificationServiceImpl } from "./service.ts";
import { WebhookDeliverer } from "./webhooks/deliverer.ts";
import { startWebhookFanout } from "./webhooks/fanout.ts";
import { targetPolicy } from "./webhooks/ssrf.ts";

export interface NotificationRuntimeOptions {
  readonly orm: MikroORM;
  readonly bus: Bus;
  readonly stream: EventStreamDefinition;
  /** The database the outbox relay opens its own connections to. */
  readonly databaseUrl: string;
  readonly config: NotificationConfig;
  readonly logger: Logger;
  /** Prefix of the durable consumer names (default "notification"); replicas share them. */
  readonly durablePrefix?: string;
  /** Where new durables start (default "new": no mail or webhooks for events from before the first start). */
  readonly deliverPolicy?: "all" | "new";
  /** The process's Prometheus registry: relay, delivery and consumer-lag series go there. */
  readonly registry?: Registry;
}

/** Core NATS subject outbox writers publish to after a commit, so whichever relay leads wakes at once. */
export const OUTBOX_WAKE_SUBJECT = "ostmesh.outbox.wake";

export interface NotificationRuntime {
  /** The RPC implementation (router.service(NotificationService, runtime.service)). */
  readonly service: NotificationServiceImpl;
  readonly capture: ChangeCapture | undefined;
  readonly relay: OutboxRelay | undefined;
  readonly emailSender: EmailSender | undefined;
  readonly deliverer: WebhookDeliverer;
  /** Stops consumers first (what is in flight finishes), then the workers; leaves the ORM and bus open. */
  close(): Promise<void>;
}

/**
 * Everything the notification service runs besides its RPCs: change capture of osTicket's PHP side, an
 * outbox relay (leader-elected, so one more is harmless), the e-mail consumer and sender, the webhook fan-out
 * and deliverer.
 */
export async function startNotificationRuntime(
  options: NotificationRuntimeOptions,
): Promise<NotificationRuntime> {
  const { orm, bus, stream, config, logger } = options;
  const prefix = options.durablePrefix ?? "notification";
  const consumers: ConsumerHandle[] = [];
  const registry = options.registry;
  const metrics = registry ? deliveryMetrics(registry) : undefined;
  const stopWatching: (() => void)[] = [];
  const watchLag = (consumer: string) => {
    if (registry)
      stopWatching.push(watchConsumerLag(registry, bus.jsm.consumers, { stream: stream.name, consumer }));
  };
  const relay = config.outboxRelay
    ? startOutboxRelay({
        databaseUrl: options.databaseUrl,
        js: bus.js,
        nc: bus.nc,
        wakeSubject: OUTBOX_WAKE_SUBJECT,
        logger: logger.child({ component: "relay" }),
        ...(registry ? { metrics: relayPrometheusMetrics(registry) } : {}),
        // Events are written before their outbox id exists; the relay puts it in (Event.id).
        preparePayload: stampEventId,
      })
    : undefined;
  const capture = config.capture
    ? new ChangeCapture({
        orm,
        stream,
        logger: logger.child({ component: "capture" }),
        // Another process's relay may hold the lease.
        onPublished: () => nudgeRelays(relay, bus.nc, OUTBOX_WAKE_SUBJECT),
      }).start()
    : undefined;
  const policy = targetPolicy({
    allowedCidrs: config.webhooks.allowedCidrs,
    allowHttp: config.webhooks.allowHttp,
  });
  const deliverer = new WebhookDeliverer({
    orm,
    logger: logger.child({ component: "webhooks" }),
    policy,
    timeoutMs: config.webhooks.timeoutMs,
    retryPeriodMs: config.webhooks.retryPeriodMs,
    disableAfter: {
      failures: config.webhooks.disableAfterFailures,
      periodMs: config.webhooks.disableAfterMs,
    },
    ...(metrics ? { metrics } : {}),
  }).start();
  let emailSender: EmailSender | undefined;
  try {
    consumers.push(
      await startWebhookFanout({
        bus,
        orm,
        stream,
        durable: `${prefix}-webhooks`,
        logger,
        onQueued: () => deliverer.notify(),
        deliverPolicy: options.deliverPolicy ?? "new",
      }),
    );
    watchLag(`${prefix}-webhooks`);
    if (config.smtpUrl) {
      const sender = new EmailSender({
        orm,
        transport: smtpTransport(config.smtpUrl),
        logger: logger.child({ component: "email" }),
        ...(metrics ? { metrics } : {}),
      }).start();
      emailSender = sender;
      consumers.push(
        await startEmailConsumer({
          bus,
          orm,
          stream,
          durable: `${prefix}-email`,
          logger,
          onQueued: () => sender.notify(),
          deliverPolicy: options.deliverPolicy ?? "new",
          secretSalt: config.secretSalt,
        }),
      );
      watchLag(`${prefix}-email`);
    } else {
      logger.warn("SMTP_URL is not set: e-mail notifications are off");
    }
  } catch (error) {
    await Promise.allSettled([
      ...consumers.map((c) => c.stop()),
      deliverer.stop(),
      capture?.stop(),
      relay?.stop(),
    ]);
    throw error;
  }
  const stopHousekeeping = startHousekeeping({ orm, logger: logger.child({ component: "housekeeping" }) });
  const service = new NotificationServiceImpl({
    orm,
    bus,
    stream,
    policy,
    onDeliveriesQueued: () => deliverer.notify(),
    watch: { maxBuffered: config.watch.maxBuffered, slowClientTimeoutMs: config.watch.slowClientTimeoutMs },
  });
  return {
    service,
    capture,
    relay,
    emailSender,
    deliverer,
    async close() {
      stopHousekeeping();
      for (const stop of stopWatching) stop();
      await Promise.allSettled(consumers.map((c) => c.stop()));
      await Promise.allSettled([deliverer.stop(), emailSender?.stop(), capture?.stop()]);
      await relay?.stop();
    },
  };
}
