import type { MikroORM } from "@mikro-orm/mysql";
import {
  type Bus,
  type ConsumerHandle,
  consume,
  type EventStreamDefinition,
  type Logger,
  processOnce,
} from "@ostmesh/bus";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { decodeEvent, dedupeId } from "../events/event.ts";
import { storedTraceContext } from "../trace-context.ts";
import { enqueueEmails } from "./outbox.ts";
import { planEmails } from "./plan.ts";

export interface EmailConsumerOptions {
  bus: Bus;
  orm: MikroORM;
  stream: EventStreamDefinition;
  /** Durable consumer name, shared by replicas (default "notification-email"). */
  durable?: string;
  logger: Logger;
  /** Called when new e-mails were queued (wake the sender). */
  onQueued?: () => void;
  /** Where a new durable starts (default "new": no e-mails for events from before the first start). */
  deliverPolicy?: "all" | "new";
  /** osTicket's SECRET_SALT: e-mails get osTicket's signed Message-IDs (see PlanOptions). */
  secretSalt?: string | undefined;
}

/**
 * Turns ticket events into queued e-mails. Each event is planned once per consumer (processOnce records its
 * id in ostmesh_inbox in the transaction that queues its e-mails), so a redelivered event queues nothing;
 * sending happens later, in the EmailSender, so a slow or failing SMTP server never holds the stream.
 */
export async function startEmailConsumer(options: EmailConsumerOptions): Promise<ConsumerHandle> {
  const durable = options.durable ?? "notification-email";
  return consume({
    js: options.bus.js,
    jsm: options.bus.jsm,
    nc: options.bus.nc,
    stream: options.stream.name,
    durable,
    filterSubjects: `${options.stream.subjectPrefix}.ticket.>`,
    deliverPolicy: options.deliverPolicy ?? "new",
    logger: options.logger,
    handler: async (message) => {
      const event = decodeEvent(message);
      // osTicket's PHP side e-mails about its own changes; ostmesh e-mails about the ones it makes.
      if (!event || event.origin === EventOrigin.OSTICKET) return;
      // The consumer's span: each e-mail's SMTP send continues this trace.
      const traceContext = storedTraceContext();
      const result = await processOnce(options.orm.em.fork(), durable, dedupeId(event), async (tx) =>
        enqueueEmails(
          tx,
          event.id,
          await planEmails(tx, event, { secretSalt: options.secretSalt }),
          traceContext,
        ),
      );
      if (result.processed && result.value > 0) options.onQueued?.();
    },
  });
}
