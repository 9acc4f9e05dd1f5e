import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { context, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import { describeError } from "./log.ts";
import { assertValidHeaders, busTracer, toNatsHeaders, traceHeaders } from "./trace.ts";

export interface PublishOptions {
  /** `Nats-Msg-Id` for JetStream's duplicate detection. */
  msgId?: string;
  headers?: Readonly<Record<string, string>>;
  /** PubAck timeout (default: the JetStream client's). */
  timeoutMs?: number;
  tracer?: Tracer;
}

/**
 * Publishes straight to JetStream (not through the outbox: for events that need no transaction with a
 * database change) inside a PRODUCER span whose context travels in the message headers.
 */
export async function publish(
  js: JetStreamClient,
  subject: string,
  payload: Uint8Array,
  options: PublishOptions = {},
): Promise<PubAck> {
  if (options.headers) assertValidHeaders(options.headers);
  const tracer = options.tracer ?? busTracer();
  const span = tracer.startSpan(`send ${subject}`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      "messaging.system": "nats",
      "messaging.destination.name": subject,
      "messaging.operation": "publish",
      "messaging.operation.type": "send",
      "messaging.operation.name": "send",
      "messaging.message.body.size": payload.byteLength,
      ...(options.msgId ? { "messaging.message.id": options.msgId } : {}),
    },
  });
  try {
    const values = { ...options.headers, ...traceHeaders(trace.setSpan(context.active(), span)) };
    const ack = await js.publish(subject, payload, {
      headers: toNatsHeaders(values),
      ...(options.msgId ? { msgID: options.msgId } : {}),
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    });
    span.setAttributes({ "messaging.nats.stream": ack.stream, "messaging.nats.stream_sequence": ack.seq });
    if (ack.duplicate) span.setAttribute("messaging.nats.duplicate", true);
    span.setStatus({ code: SpanStatusCode.OK });
    return ack;
  } catch (error) {
    span.recordException(error instanceof Error ? error : new Error(String(error)));
    span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** Wakes outbox relays listening on `wakeSubject` in other processes (core NATS, fire-and-forget). */
export function notifyRelay(nc: { publish(subject: string): void }, wakeSubject: string): void {
  nc.publish(wakeSubject);
}

/**
 * After a commit that wrote outbox rows: wakes this process's relay, and the relays of other processes (a core
 * NATS message on `wakeSubject`) only when the local one does not hold the lease, since only the leader
 * publishes and a standby waits for its own turn. A relay that loses the lease right after this look leaves
 * nothing behind: the next leader reads every unpublished row as soon as it takes the lease.
 */
export function nudgeRelays(
  local: { notify(): void; readonly isLeader: boolean } | undefined,
  nc: { publish(subject: string): void; isClosed(): boolean },
  wakeSubject: string,
): void {
  local?.notify();
  if (local?.isLeader || nc.isClosed()) return;
  notifyRelay(nc, wakeSubject);
}
