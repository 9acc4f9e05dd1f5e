import type { SqlEntityManager } from "@mikro-orm/mysql";
import { type Bus, connectBus } from "../connect.ts";
import { type BusMessage, type ConsumerHandle, consume } from "../consume.ts";
import { type OutboxEvent, writeOutbox } from "../outbox.ts";
import { type EventStreamDefinition, eventSubject, streamWildcard } from "../streams.ts";
import { silentLogger } from "./log.ts";
import { testDurable } from "./names.ts";

/** Polls `condition` until it holds or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function ticketEvent(def: EventStreamDefinition, ticketId: number, seq: number): OutboxEvent {
  return {
    subject: eventSubject(def, "ticket", "updated"),
    eventType: "osticket.ticket.v1.TicketUpdated",
    aggregateType: "ticket",
    aggregateId: ticketId,
    payload: new TextEncoder().encode(`${ticketId}:${seq}`),
  };
}

/** Writes events of one ticket in one transaction; returns their outbox ids. */
export async function writeTicketEvents(
  em: SqlEntityManager,
  def: EventStreamDefinition,
  ticketId: number,
  seqs: readonly number[],
): Promise<string[]> {
  return em.fork().transactional(async (tx) => {
    const ids: string[] = [];
    for (const seq of seqs) ids.push((await writeOutbox(tx, ticketEvent(def, ticketId, seq))).id);
    return ids;
  });
}

export interface Received {
  readonly messageId: string;
  readonly subject: string;
  readonly ticketId: number;
  readonly seq: number;
  readonly message: BusMessage;
}

/** A durable consumer over the whole test stream that records what it receives. */
export async function collect(
  bus: Bus,
  def: EventStreamDefinition,
  label: string,
): Promise<{ received: Received[]; handle: ConsumerHandle }> {
  const received: Received[] = [];
  const handle = await consume({
    js: bus.js,
    jsm: bus.jsm,
    nc: bus.nc,
    stream: def.name,
    durable: testDurable(label),
    filterSubjects: streamWildcard(def),
    ackWait: 5_000,
    backoff: [100],
    logger: silentLogger(),
    handler: async (message) => {
      const [ticket, seq] = new TextDecoder().decode(message.data).split(":");
      received.push({
        messageId: message.messageId,
        subject: message.subject,
        ticketId: Number(ticket),
        seq: Number(seq),
        message,
      });
    },
  });
  return { received, handle };
}

/** Checks that each ticket's events arrived in increasing seq order; returns the first violation. */
export function orderViolation(received: readonly Received[]): string | undefined {
  const last = new Map<number, number>();
  for (const r of received) {
    const prev = last.get(r.ticketId) ?? -1;
    if (r.seq <= prev) return `ticket ${r.ticketId}: seq ${r.seq} after ${prev}`;
    last.set(r.ticketId, r.seq);
  }
  return undefined;
}

export function duplicates(received: readonly Received[]): string[] {
  const seen = new Set<string>();
  const dups: string[] = [];
  for (const r of received) {
    if (seen.has(r.messageId)) dups.push(r.messageId);
    seen.add(r.messageId);
  }
  return dups;
}

export async function testBus(name: string): Promise<Bus> {
  return connectBus({ name, logger: silentLogger() });
}
