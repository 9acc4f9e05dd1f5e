import type { ConsumerHandle } from "@ostmesh/bus";
import { testDurable } from "@ostmesh/bus/testing/names.ts";
import { startEmailConsumer } from "../email/consumer.ts";
import { EmailSender } from "../email/outbox.ts";
import { smtpTransport } from "../email/transport.ts";
import type { TestEnv } from "./env.ts";
import type { TestSmtpServer } from "./smtp.ts";

/** The e-mail path as production runs it: the consumer queues alerts, the sender delivers them to `smtp`. */
export interface MailPipeline {
  readonly sender: EmailSender;
  readonly consumer: ConsumerHandle;
  stop(): Promise<void>;
}

/** Starts the e-mail consumer (durable `label`, every event from the start) and a quick-retrying sender. */
export async function startMailPipeline(
  env: TestEnv,
  smtp: TestSmtpServer,
  label: string,
): Promise<MailPipeline> {
  const sender = new EmailSender({
    orm: env.orm,
    transport: smtpTransport(smtp.url),
    logger: env.logger,
    pollIntervalMs: 50,
    backoff: { initialMs: 100, maxMs: 200 },
    maxAttempts: 4,
  }).start();
  const consumer = await startEmailConsumer({
    bus: env.bus,
    orm: env.orm,
    stream: env.stream,
    durable: testDurable(label),
    logger: env.logger,
    onQueued: () => sender.notify(),
    deliverPolicy: "all",
  });
  return {
    sender,
    consumer,
    async stop() {
      await consumer.stop();
      await sender.stop();
    },
  };
}
