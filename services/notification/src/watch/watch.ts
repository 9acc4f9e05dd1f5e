import { create } from "@bufbuild/protobuf";
import { durationMs, timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import type { Bus, EventStreamDefinition } from "@ostmesh/bus";
import type { Event } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import {
  type WatchEventsRequest,
  type WatchEventsResponse,
  WatchEventsResponseSchema,
} from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import {
  decodeEvent,
  filterSpec,
  isEventTypePattern,
  matchesEventTypes,
  matchesFilter,
} from "../events/event.ts";
import type { WatchScope } from "./visibility.ts";

export interface WatchOptions {
  readonly bus: Bus;
  readonly stream: EventStreamDefinition;
  /** Events buffered per stream for a client that reads slower than they come (default 256). */
  readonly maxBuffered?: number;
  /** How long a full buffer may wait for the client before the stream is closed (default 30 s). */
  readonly slowClientTimeoutMs?: number;
  /** Messages the ordered consumer pulls at a time (default 64). */
  readonly pullBatch?: number;
}

export const DEFAULT_HEARTBEAT_MS = 15_000;

/** Process-wide figures, for metrics and the bench. */
export const watchStats = { open: 0, closedSlow: 0 };

/** NATS subjects for the requested event-type patterns (the stream's wildcard for "all"). */
export function subjectsFor(
  stream: Pick<EventStreamDefinition, "subjectPrefix">,
  patterns: readonly string[],
): string[] {
  if (patterns.length === 0 || patterns.includes("*")) return [`${stream.subjectPrefix}.>`];
  const subjects = new Set<string>();
  for (const p of patterns) {
    const [aggregate, name] = p.split(".");
    subjects.add(name === "*" ? `${stream.subjectPrefix}.${aggregate}.>` : `${stream.subjectPrefix}.${p}`);
  }
  return [...subjects];
}

type Item = { kind: "event"; event: Event; seq: number };

/**
 * One WatchEvents call: an ordered JetStream consumer of its own (from `after_sequence` + 1, or new events
 * only), events filtered by type, ticket, filter and the caller's visibility, heartbeats while idle.
 *
 * Backpressure: events wait in a buffer of `maxBuffered`; when it is full the consumer stops reading (pull
 * based, so NATS holds the rest) and the Connect server only takes the next message once the previous one
 * is written to the socket. A client that leaves the buffer full for `slowClientTimeoutMs` gets
 * RESOURCE_EXHAUSTED naming the sequence to resume after, so memory per stream stays bounded.
 */
export async function* watchEvents(
  request: WatchEventsRequest,
  scope: WatchScope,
  signal: AbortSignal,
  options: WatchOptions,
): AsyncGenerator<WatchEventsResponse> {
  for (const pattern of request.eventTypes)
    if (!isEventTypePattern(pattern))
      throw new ConnectError(`invalid event type pattern "${pattern}"`, Code.InvalidArgument);
  let heartbeatMs = DEFAULT_HEARTBEAT_MS;
  if (request.heartbeatInterval) {
    heartbeatMs = durationMs(request.heartbeatInterval);
    if (heartbeatMs < 0)
      throw new ConnectError("heartbeat_interval must not be negative", Code.InvalidArgument);
    if (heartbeatMs > 0 && heartbeatMs < 100)
      throw new ConnectError("heartbeat_interval must be at least 100 ms", Code.InvalidArgument);
  }
  const filter = filterSpec(request.filter);
  const maxBuffered = options.maxBuffered ?? 256;
  const slowMs = options.slowClientTimeoutMs ?? 30_000;
  const { bus, stream } = options;

  const info = await bus.jsm.streams.info(stream.name);
  let lastSeen = info.state.last_seq;
  const after = Number(request.afterSequence);
  if (after > 0) {
    if (after > info.state.last_seq)
      throw new ConnectError(
        `sequence ${after} is beyond the end of the stream (${info.state.last_seq})`,
        Code.OutOfRange,
      );
    if (after + 1 < info.state.first_seq)
      throw new ConnectError(
        `sequence ${after} is no longer retained (the stream starts at ${info.state.first_seq})`,
        Code.OutOfRange,
      );
    lastSeen = after;
  }
  // One filter subject works on every server; several need NATS 2.10, so they fall back to the stream's
  // wildcard (the types are matched below either way).
  const subjects = subjectsFor(stream, request.eventTypes);
  const consumer = await bus.js.consumers.get(stream.name, {
    filter_subjects: subjects.length === 1 && subjects[0] ? subjects[0] : `${stream.subjectPrefix}.>`,
    ...(after > 0
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 }
      : { deliver_policy: DeliverPolicy.New }),
  });
  const messages = await consumer.consume({ max_messages: options.pullBatch ?? 64 });

  const queue: Item[] = [];
  let failure: unknown;
  let finished = false;
  let wake: (() => void) | undefined;
  let spaceFreed: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onAbort = () => {
    finished = true;
    spaceFreed?.();
    notify();
  };
  signal.addEventListener("abort", onAbort, { once: true });

  const pump = async () => {
    for await (const m of messages) {
      if (finished) break;
      const item = await admit(m);
      lastSeen = m.seq;
      if (!item) continue;
      if (queue.length >= maxBuffered) {
        const freed = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), slowMs);
          spaceFreed = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        spaceFreed = undefined;
        if (finished) break;
        if (!freed) {
          watchStats.closedSlow++;
          // Everything queued is still sent before the error: the first event left out is this one.
          const resumeAfter = m.seq - 1;
          throw new ConnectError(
            `the client reads too slowly (${maxBuffered} events waited ${slowMs} ms); resume with after_sequence=${resumeAfter}`,
            Code.ResourceExhausted,
          );
        }
      }
      queue.push(item);
      notify();
    }
  };
  const admit = async (m: JsMsg): Promise<Item | undefined> => {
    const event = decodeEvent({
      data: m.data,
      messageId: m.headers?.get("Nats-Msg-Id") || `${stream.name}:${m.seq}`,
    });
    if (!event) return undefined;
    if (!matchesEventTypes(request.eventTypes, event.type) || !matchesFilter(filter, event)) return undefined;
    const visible = await scope.filter(event);
    return visible ? { kind: "event", event: visible, seq: m.seq } : undefined;
  };
  const pumping = pump().then(
    () => {
      finished = true;
      notify();
    },
    (error: unknown) => {
      failure = error;
      finished = true;
      // Release the server-side consumer now; the client still gets what is queued, then the error.
      void messages.close().catch(() => undefined);
      notify();
    },
  );

  watchStats.open++;
  try {
    let lastSent = Date.now();
    for (;;) {
      if (signal.aborted) return;
      const item = queue.shift();
      if (item) {
        spaceFreed?.();
        lastSent = Date.now();
        yield create(WatchEventsResponseSchema, {
          item: { case: "event", value: item.event },
          sequence: BigInt(item.seq),
        });
        continue;
      }
      if (failure !== undefined) throw failure;
      if (finished) {
        if (signal.aborted) return;
        throw new ConnectError("the event stream ended", Code.Unavailable);
      }
      const waitMs = heartbeatMs > 0 ? Math.max(0, heartbeatMs - (Date.now() - lastSent)) : undefined;
      const timedOut = await new Promise<boolean>((resolve) => {
        const timer = waitMs === undefined ? undefined : setTimeout(() => resolve(true), waitMs);
        wake = () => {
          if (timer) clearTimeout(timer);
          resolve(false);
        };
      });
      wake = undefined;
      if (timedOut && queue.length === 0 && !finished) {
        lastSent = Date.now();
        yield create(WatchEventsResponseSchema, {
          item: { case: "heartbeat", value: timestampNow() },
          sequence: BigInt(lastSeen),
        });
      }
    }
  } finally {
    watchStats.open--;
    finished = true;
    signal.removeEventListener("abort", onAbort);
    spaceFreed?.();
    await messages.close().catch(() => undefined);
    await pumping;
  }
}
