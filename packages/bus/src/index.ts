export {
  type Bus,
  type BusHealth,
  type BusReadinessCheck,
  type ConnectBusOptions,
  connectBus,
  natsUrlFromEnv,
  serverAtLeast,
} from "./connect.ts";
export {
  type BusHandler,
  type BusMessage,
  type ConsumeOptions,
  type ConsumerHandle,
  consume,
  DEFAULT_CONSUMER_BACKOFF,
  ensureConsumer,
} from "./consume.ts";
export { type ProcessOnceResult, processOnce, pruneInbox } from "./inbox.ts";
export { describeError, type Logger } from "./log.ts";
export { relayPrometheusMetrics } from "./metrics.ts";
export {
  AGGREGATE_ID_HEADER,
  AGGREGATE_TYPE_HEADER,
  DEFAULT_MAX_OUTBOX_PAYLOAD,
  deferOutbox,
  EVENT_TYPE_HEADER,
  type OutboxEvent,
  OutboxPayloadTooLargeError,
  OutboxValidationError,
  validateOutboxEvent,
  type WriteOutboxOptions,
  writeOutbox,
} from "./outbox.ts";
export { notifyRelay, nudgeRelays, type PublishOptions, publish } from "./publish.ts";
export { OutboxRelay, type OutboxRelayOptions, type RelayMetricsHooks, startOutboxRelay } from "./relay.ts";
export {
  DEFAULT_EVENT_STREAM,
  type EventStreamDefinition,
  ensureStreams,
  eventStream,
  eventStreamFromEnv,
  eventSubject,
  streamConfig,
  streamWildcard,
} from "./streams.ts";
export {
  busTracer,
  extractTraceContext,
  fromNatsHeaders,
  natsHeaderGetter,
  TRACER_NAME,
  toNatsHeaders,
  traceHeaders,
} from "./trace.ts";
