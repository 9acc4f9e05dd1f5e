import type { MikroORM } from "@mikro-orm/mysql";
import { describeError, type Logger, pruneInbox } from "@ostmesh/bus";
import { execute } from "@ostmesh/db";
import { DeliveryStatus } from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import { EmailStatus } from "./email/outbox.ts";

export interface HousekeepingOptions {
  readonly orm: MikroORM;
  readonly logger: Logger;
  /** Inbox records are kept longer than the stream keeps events (default 8 days; the stream keeps 7). */
  readonly inboxRetentionMs?: number;
  /** Sent or failed e-mails and settled webhook deliveries are kept this long (default 30 days). */
  readonly logRetentionMs?: number;
  /** How often (default 10 min). */
  readonly intervalMs?: number;
}

/**
 * Deletes what the notification service no longer needs, in bounded chunks: inbox records of events the
 * stream no longer holds (no redelivery can come), and sent/failed e-mails and settled deliveries past the
 * log's retention. Pending and retrying rows are never touched.
 */
export async function housekeep(
  options: HousekeepingOptions,
): Promise<{ inbox: number; emails: number; deliveries: number }> {
  const em = options.orm.em.fork();
  const logAge = (options.logRetentionMs ?? 30 * 24 * 3_600_000) * 1000;
  const inbox = await pruneInbox(em, options.inboxRetentionMs ?? 8 * 24 * 3_600_000);
  const emails = await execute(
    em,
    "DELETE FROM ostmesh_email WHERE status IN (?, ?) AND created_at < NOW(6) - INTERVAL ? MICROSECOND LIMIT 10000",
    [EmailStatus.SENT, EmailStatus.FAILED, logAge],
  );
  const deliveries = await execute(
    em,
    "DELETE FROM ostmesh_webhook_delivery WHERE status IN (?, ?) AND created_at < NOW(6) - INTERVAL ? MICROSECOND LIMIT 10000",
    [DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, logAge],
  );
  return { inbox, emails: emails.affectedRows, deliveries: deliveries.affectedRows };
}

/** Runs `housekeep` now and then; returns a function that stops it. */
export function startHousekeeping(options: HousekeepingOptions): () => void {
  const run = () =>
    housekeep(options).then(
      (done) => {
        if (done.inbox + done.emails + done.deliveries > 0)
          options.logger.info(done, "notification housekeeping");
      },
      (error: unknown) =>
        options.logger.warn({ error: describeError(error) }, "notification housekeeping failed"),
    );
  const timer = setInterval(run, options.intervalMs ?? 10 * 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
