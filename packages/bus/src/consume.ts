import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  ReplayPolicy,
} from "@nats-io/jetstream";
import { Match, type NatsConnection, nanos } from "@nats-io/transport-node";
import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { serverAtLeast } from "./connect.ts";
import { defaultLogger, describeError, type Logger } from "./log.ts";
import { AGGREGATE_ID_HEADER, AGGREGATE_TYPE_HEADER, EVENT_TYPE_HEADER } from "./outbox.ts";
import { busTracer, extractTraceContext, fromNatsHeaders } from "./trace.ts";

/** A delivered event, as handlers see it. */
export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** `Nats-Msg-Id` (the outbox id for relayed events), else `<stream>:<sequence>`: the key for `processOnce`. */
  readonly messageId: string;
  readonly eventType: string | undefined;
  readonly aggregateType: string | undefined;
  readonly aggregateId: string | undefined;
  readonly stream: string;
  readonly streamSequence: number;
  /** 1 on the first delivery. */
  readonly deliveryCount: number;
  readonly timestamp: Date;
  /** The underlying JetStream message (acking is done by `consume`; do not ack it yourself). */
  readonly raw: JsMsg;
}

export type BusHandler = (message: BusMessage) => Promise<void>;

export interface ConsumeOptions {
  js: JetStreamClient;
  /** Defaults to `js.jetstreamManager()`. */
  jsm?: JetStreamManager;
  /** Lets the consumer use server features by version (e.g. a reason on TERM, NATS 2.11+). */
  nc?: NatsConnection;
  stream: string;
  /** Durable consumer name: one per subscribing service (replicas share it and split the work). */
  durable: string;
  /** Subjects to receive; more than one needs NATS 2.10+. */
  filterSubjects: string | readonly string[];
  handler: BusHandler;
  /** Deliveries before a message is given up on (terminated and logged); default 10. */
  maxDeliver?: number;
  /** How long a delivery may stay unacknowledged before redelivery (default 30 s; kept alive while handling). */
  ackWait?: number;
  /**
   * Delay before redelivering after a handler failure, per failed delivery (ms); the last value repeats.
   * Default [1 s, 5 s, 15 s, 30 s, 60 s].
   */
  backoff?: readonly number[];
  /** Unacknowledged messages in flight for the whole durable (default 1000). */
  maxAckPending?: number;
  /** Messages buffered per pull (default 64). */
  batch?: number;
  /** Where a new durable starts: every stored event (default) or only new ones. */
  deliverPolicy?: "all" | "new";
  /** Called when a message is terminated after its last delivery (e.g. to record it somewhere). */
  onTerminated?(message: BusMessage, error: unknown): void | Promise<void>;
  tracer?: Tracer;
  logger?: Logger;
}

export interface ConsumerHandle {
  readonly durable: string;
  /** Stops pulling, lets the message being handled finish. Unhandled buffered messages are redelivered. */
  stop(): Promise<void>;
  /** Settles when the consumer loop ends (after `stop()`, or on a fatal error, which it rejects with). */
  readonly done: Promise<void>;
}

export const DEFAULT_CONSUMER_BACKOFF: readonly number[] = [1_000, 5_000, 15_000, 30_000, 60_000];

function consumerConfig(options: ConsumeOptions): Partial<ConsumerConfig> {
  const filters =
    typeof options.filterSubjects === "string" ? [options.filterSubjects] : options.filterSubjects;
  if (filters.length === 0) throw new Error("consume needs at least one filter subject");
  const maxDeliver = options.maxDeliver ?? 10;
  if (!Number.isInteger(maxDeliver) || maxDeliver < 1) throw new Error("maxDeliver must be an integer >= 1");
  return {
    durable_name: options.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: options.deliverPolicy === "new" ? DeliverPolicy.New : DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(options.ackWait ?? 30_000),
    max_deliver: maxDeliver,
    max_ack_pending: options.maxAckPending ?? 1_000,
    ...(filters.length === 1 ? { filter_subject: filters[0] } : { filter_subjects: [...filters] }),
  };
}

/** JetStream's "consumer name already in use" (a durable with another configuration exists). */
const CONSUMER_NAME_EXIST = 10148;
const CONSUMER_ALREADY_EXISTS = 10105;
const CONSUMER_EXISTS = 10013;

/** Creates the durable, or updates an existing one to `config` (idempotent). */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig>,
): Promise<void> {
  const durable = config.durable_name;
  if (!durable) throw new Error("a durable consumer needs a name");
  try {
    await jsm.consumers.add(stream, config);
  } catch (error) {
    const code = error && typeof error === "object" && "code" in error ? Number(error.code) : 0;
    if (![CONSUMER_NAME_EXIST, CONSUMER_ALREADY_EXISTS, CONSUMER_EXISTS].includes(code)) throw error;
    const { durable_name: _d, ack_policy: _a, deliver_policy: _p, replay_policy: _r, ...mutable } = config;
    await jsm.consumers.update(stream, durable, mutable);
  }
}

function toBusMessage(m: JsMsg, stream: string): BusMessage {
  const headers = fromNatsHeaders(m.headers);
  const msgId = m.headers?.has("Nats-Msg-Id", Match.IgnoreCase)
    ? m.headers.get("Nats-Msg-Id", Match.IgnoreCase)
    : `${stream}:${m.seq}`;
  return {
    subject: m.subject,
    data: m.data,
    headers,
    messageId: msgId,
    eventType: headers[EVENT_TYPE_HEADER],
    aggregateType: headers[AGGREGATE_TYPE_HEADER],
    aggregateId: headers[AGGREGATE_ID_HEADER],
    stream,
    streamSequence: m.seq,
    deliveryCount: m.info.deliveryCount,
    timestamp: m.time,
    raw: m,
  };
}

/**
 * Runs a durable pull consumer with explicit acks. Each message is handled inside a CONSUMER span whose
 * parent is the trace context in the message headers; success acks, failure naks with the backoff delay,
 * and the last allowed delivery's failure terminates the message (logged, `onTerminated`). Messages are
 * handled one at a time per call (in stream order, except for redeliveries). Heartbeats, reconnects and
 * re-pulls are the client's job: after a reconnect the consumer resumes where the server's ack floor is. A
 * durable deleted under a running consumer is recreated (from the start of the stream: handlers must be
 * idempotent, see `processOnce`).
 */
export async function consume(options: ConsumeOptions): Promise<ConsumerHandle> {
  const logger = (options.logger ?? defaultLogger("consumer")).child({
    stream: options.stream,
    durable: options.durable,
  });
  const tracer = options.tracer ?? busTracer();
  const config = consumerConfig(options);
  const maxDeliver = config.max_deliver ?? 10;
  const ackWaitMs = options.ackWait ?? 30_000;
  const backoff = options.backoff && options.backoff.length > 0 ? options.backoff : DEFAULT_CONSUMER_BACKOFF;
  const termWithReason = options.nc ? serverAtLeast(options.nc, "2.11.0") : false;
  const jsm = options.jsm ?? (await options.js.jetstreamManager());
  await ensureConsumer(jsm, options.stream, config);
  let stopping = false;
  let current: ConsumerMessages | undefined;

  /** Starts pulling; a durable deleted under us is recreated and pulling restarts on it at once. */
  async function open(): Promise<{ messages: ConsumerMessages; lost: () => boolean }> {
    const consumer = await options.js.consumers.get(options.stream, options.durable);
    const messages = await consumer.consume({ max_messages: options.batch ?? 64 });
    let lost = false;
    void (async () => {
      for await (const status of messages.status()) {
        switch (status.type) {
          case "heartbeats_missed":
            logger.warn({ count: status.count }, "consumer missed heartbeats");
            break;
          case "consumer_deleted":
          case "consumer_not_found":
            if (stopping || lost) break;
            lost = true;
            logger.warn({ notification: status.type }, "durable consumer is gone; recreating it");
            await messages.close();
            break;
          case "stream_not_found":
            logger.error("stream not found; waiting for it to come back");
            break;
          default:
            break;
        }
      }
    })().catch(() => {});
    return { messages, lost: () => lost };
  }

  let first: Awaited<ReturnType<typeof open>> | undefined = await open();
  current = first.messages;

  async function handle(m: JsMsg): Promise<void> {
    const message = toBusMessage(m, options.stream);
    const parent = extractTraceContext(m.headers, ROOT_CONTEXT);
    await tracer.startActiveSpan(
      `process ${m.subject}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.system": "nats",
          "messaging.destination.name": m.subject,
          "messaging.operation": "process",
          "messaging.operation.type": "process",
          "messaging.operation.name": "process",
          "messaging.consumer.group.name": options.durable,
          "messaging.message.id": message.messageId,
          "messaging.message.body.size": m.data.byteLength,
          "messaging.nats.stream": options.stream,
          "messaging.nats.stream_sequence": m.seq,
          "messaging.nats.delivery_count": message.deliveryCount,
        },
      },
      parent,
      async (span: Span) => {
        // Long handlers keep their delivery: tell the server we are still working on it.
        const keepAlive = setInterval(() => m.working(), Math.max(500, Math.floor(ackWaitMs / 2)));
        try {
          await options.handler(message);
          m.ack();
          span.setStatus({ code: SpanStatusCode.OK });
        } catch (error) {
          span.recordException(error instanceof Error ? error : new Error(String(error)));
          span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
          if (message.deliveryCount >= maxDeliver) {
            if (termWithReason) m.term(`handler failed ${message.deliveryCount} times`);
            else m.term();
            span.setAttribute("messaging.nats.terminated", true);
            logger.error(
              {
                subject: m.subject,
                seq: m.seq,
                messageId: message.messageId,
                deliveries: message.deliveryCount,
                error: describeError(error),
              },
              "giving up on message after its last delivery (terminated)",
            );
            try {
              await options.onTerminated?.(message, error);
            } catch (hookError) {
              logger.error({ error: describeError(hookError) }, "onTerminated failed");
            }
          } else {
            const delay = backoff[Math.min(message.deliveryCount, backoff.length) - 1] ?? 1_000;
            m.nak(delay);
            logger.warn(
              {
                subject: m.subject,
                seq: m.seq,
                messageId: message.messageId,
                deliveries: message.deliveryCount,
                retryInMs: delay,
                error: describeError(error),
              },
              "handler failed; message will be redelivered",
            );
          }
        } finally {
          clearInterval(keepAlive);
          span.end();
        }
      },
    );
  }

  const done = (async () => {
    let failures = 0;
    while (!stopping) {
      let session = first;
      first = undefined;
      if (!session) {
        try {
          await ensureConsumer(jsm, options.stream, config);
          session = await open();
          failures = 0;
        } catch (error) {
          failures++;
          logger.error({ error: describeError(error) }, "cannot recreate the durable consumer; retrying");
          await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 250 * 2 ** failures)));
          continue;
        }
      }
      current = session.messages;
      for await (const m of session.messages) {
        await handle(m);
        if (stopping) break;
      }
      if (!session.lost()) break;
    }
  })();
  done.catch((error: unknown) => logger.error({ error: describeError(error) }, "consumer loop failed"));

  return {
    durable: options.durable,
    done,
    async stop() {
      stopping = true;
      await current?.close();
      await done.catch(() => {});
    },
  };
}
