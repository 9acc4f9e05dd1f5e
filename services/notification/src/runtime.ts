import type { MikroORM } from "@mikro-orm/mysql";
import {
  type Bus,
  type ConsumerHandle,
  type EventStreamDefinition,
  type Logger,
  type OutboxRelay,
  startOutboxRelay,
} from "@ostmesh/bus";
import { ChangeCapture } from "./capture/capture.ts";
import type { NotificationConfig } from "./config.ts";
import { startEmailConsumer } from "./email/consumer.ts";
import { EmailSender } from "./email/outbox.ts";
import { smtpTransport } from "./email/transport.ts";
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
}

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
  const relay = config.outboxRelay
    ? startOutboxRelay({
        databaseUrl: options.databaseUrl,
        js: bus.js,
        logger: logger.child({ component: "relay" }),
      })
    : undefined;
  const capture = config.capture
    ? new ChangeCapture({
        orm,
        stream,
        logger: logger.child({ component: "capture" }),
        onPublished: () => relay?.notify(),
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
    if (config.smtpUrl) {
      const sender = new EmailSender({
        orm,
        transport: smtpTransport(config.smtpUrl),
        logger: logger.child({ component: "email" }),
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
        }),
      );
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
      await Promise.allSettled(consumers.map((c) => c.stop()));
      await Promise.allSettled([deliverer.stop(), emailSender?.stop(), capture?.stop()]);
      await relay?.stop();
    },
  };
}
