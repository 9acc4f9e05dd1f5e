import { toJsonString } from "@bufbuild/protobuf";
import type { MikroORM } from "@mikro-orm/mysql";
import {
  type Bus,
  type ConsumerHandle,
  consume,
  type EventStreamDefinition,
  type Logger,
  processOnce,
  streamWildcard,
} from "@ostmesh/bus";
import { registry } from "@ostmesh/proto";
import { EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { decodeEvent, dedupeId, matchesEventTypes, matchesFilter } from "../events/event.ts";
import { storedTraceContext } from "../trace-context.ts";
import { activeWebhooks, insertDelivery, type WebhookRecord } from "./store.ts";

export interface WebhookFanoutOptions {
  bus: Bus;
  orm: MikroORM;
  stream: EventStreamDefinition;
  /** Durable consumer name, shared by replicas (default "notification-webhooks"). */
  durable?: string;
  logger: Logger;
  /** Called when deliveries were added (wake the deliverer). */
  onQueued?: () => void;
  /** Where a new durable starts (default "new"). */
  deliverPolicy?: "all" | "new";
}

/**
 * Every event on the stream becomes one PENDING delivery per active subscription whose event types and
 * filter match, in one transaction with the consumer's inbox record (processOnce): an event delivered twice
 * adds nothing, and the unique (webhook, event) key guards the same across consumers. An event no active
 * subscription matches is acknowledged after one read.
 */
export async function startWebhookFanout(options: WebhookFanoutOptions): Promise<ConsumerHandle> {
  const durable = options.durable ?? "notification-webhooks";
  return consume({
    js: options.bus.js,
    jsm: options.bus.jsm,
    nc: options.bus.nc,
    stream: options.stream.name,
    durable,
    filterSubjects: streamWildcard(options.stream),
    deliverPolicy: options.deliverPolicy ?? "new",
    logger: options.logger,
    handler: async (message) => {
      const event = decodeEvent(message);
      if (!event) return;
      const matches = (w: WebhookRecord) =>
        matchesEventTypes(w.eventTypes, event.type) && matchesFilter(w.filter, event);
      // Most events match no subscription, which one read tells: they need no transaction and no inbox
      // record (processing them again would write nothing either).
      if (!(await activeWebhooks(options.orm.em.fork())).some(matches)) return;
      const result = await processOnce(options.orm.em.fork(), durable, dedupeId(event), async (tx) => {
        const matching = (await activeWebhooks(tx)).filter(matches);
        if (matching.length === 0) return 0;
        const body = toJsonString(EventSchema, event, { registry });
        // The consumer's span: each delivery's request continues this trace.
        const traceContext = storedTraceContext();
        let added = 0;
        for (const webhook of matching) {
          const id = await insertDelivery(tx, {
            webhookId: webhook.id,
            eventId: event.id,
            eventType: event.type,
            body,
            dedupeKey: event.id.slice(0, 128),
            replayOf: 0,
            traceContext,
          });
          if (id !== undefined) added++;
        }
        return added;
      });
      if (result.processed && result.value > 0) options.onQueued?.();
    },
  });
}
