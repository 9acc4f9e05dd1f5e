/**
 * The frame of every mutating RPC: one transaction holding the idempotency record, the domain use case and
 * the outbox events; domain failures mapped to Connect codes; the relay nudged once the transaction has
 * committed. Nothing is half-written: any error rolls the whole transaction back.
 */
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import type { EntityManager } from "@ostmesh/db";
import { type BatchRead, bothReads, hasUnsettledDeferred, query, runBatchRead } from "@ostmesh/db";
import type { EventType } from "@ostmesh/proto";
import type { ThreadEntry, Ticket } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { callerOf, eventActor, type Principal, subjectOf } from "../access.ts";
import { type Ports, type Sql, sqlFor, type TicketDomainEvent } from "../domain/index.ts";
import type { LoggedThreadEvent } from "../domain/thread/events.ts";
import { domainFailure, type FieldResolver, notFound } from "../errors.ts";
import type { EventPayload } from "../events.ts";
import { runIdempotent } from "../idempotency.ts";
import { entriesRead, loadEntries } from "../read/thread.ts";
import { type LoadOptions, ticketsRead } from "../read/tickets.ts";
import type { ReferenceSnapshot } from "../reference.ts";
import { num } from "../rows.ts";
import type { Runtime } from "../runtime.ts";

/** What a handler's work gets inside the transaction. */
export class Mutation {
  readonly rt: Runtime;
  readonly tx: EntityManager;
  readonly sql: Sql;
  readonly principal: Principal;
  readonly ref: ReferenceSnapshot;
  /** Events the domain reported, in order. */
  readonly domainEvents: TicketDomainEvent[] = [];
  /** Thread events the domain wrote, in order (every outbox event of the change names them). */
  readonly threadEvents: LoggedThreadEvent[] = [];
  readonly #namedThreadEvents = new Set<number>();
  /** Entries read with the ticket, by id. */
  readonly #entries = new Map<number, ThreadEntry>();
  #occurredAt: Timestamp | undefined;

  constructor(rt: Runtime, tx: EntityManager, principal: Principal, ref: ReferenceSnapshot) {
    this.rt = rt;
    this.tx = tx;
    this.sql = sqlFor(tx);
    this.principal = principal;
    this.ref = ref;
  }

  /** The domain's ports for this transaction: events are collected, metadata shared, the clock pinned. */
  get ports(): Ports {
    const deps = this.rt.deps;
    return {
      emit: async (event) => {
        this.domainEvents.push(event);
      },
      clock: deps.clock,
      metadata: this.rt.metadata,
      verifyMailDomain: deps.verifyMailDomain,
      random: deps.random,
      threadEventLogged: (event) => {
        this.threadEvents.push(event);
      },
      // The first use case's clock is the time of the change (saves reading NOW() again for the events).
      clockRead: (epochMs) => {
        if (!deps.clock) this.#occurredAt ??= timestampFromMs(epochMs);
      },
    };
  }

  /**
   * The first thread event of one of `states` the domain wrote that no event of this change names yet (0 for
   * none): the row an outbox event was written with (Event.thread_event_id).
   */
  threadEventOf(...states: string[]): number {
    this.#assertSettled();
    const found = this.threadEvents.find(
      (e) => states.includes(e.state) && !this.#namedThreadEvents.has(e.id),
    );
    if (!found) return 0;
    this.#namedThreadEvents.add(found.id);
    return found.id;
  }

  /**
   * A ticket as it is now inside the transaction (with answers and collaborators), read in one round trip
   * with the entries the domain's events so far name (their events need them next; see `entry`).
   */
  async ticket(ticketId: number, options: Pick<LoadOptions, "created"> = {}): Promise<Ticket> {
    const ticket = await runBatchRead(this.tx, this.ticketRead(ticketId, options));
    if (!ticket) throw notFound();
    return ticket;
  }

  /**
   * The ticket in full (undefined: not found) with the entries the domain reported, as statements for a
   * round trip shared with other reads (e.g. the authorization's, authorizeTicketWith).
   */
  ticketRead(ticketId: number, options: Pick<LoadOptions, "created"> = {}): BatchRead<Ticket | undefined> {
    const read = bothReads(
      ticketsRead(this.ref, [ticketId], { full: true, ...options }),
      entriesRead(this.domainEvents.flatMap(entryIdsOf).filter((id) => !this.#entries.has(id))),
    );
    return {
      statements: read.statements,
      read: (results) => {
        const [tickets, entries] = read.read(results);
        for (const [id, entry] of entries) this.#entries.set(id, entry);
        return tickets.get(ticketId);
      },
    };
  }

  /**
   * Waits until every thread event the domain wrote has reported its id (their INSERTs travel with later
   * statements; see logEvents). Call before threadEventOf / event.
   */
  async settle(): Promise<void> {
    await this.sql.settle();
  }

  #assertSettled(): void {
    if (hasUnsettledDeferred(this.tx))
      throw new Error("thread events not settled: call Mutation.settle() first");
  }

  /** A thread entry as it is now (read with the ticket when an event of this change names it). */
  async entry(entryId: number): Promise<ThreadEntry | undefined> {
    return this.#entries.get(entryId) ?? (await loadEntries(this.tx, [entryId])).get(entryId);
  }

  /**
   * The time of the change: the pinned clock, else the database's clock when the first use case started
   * (read with its config), else the database's NOW() now (epoch time, so the server's zone does not matter).
   */
  async occurredAt(): Promise<Timestamp> {
    if (this.#occurredAt) return this.#occurredAt;
    if (this.rt.deps.clock) this.#occurredAt = timestampFromMs(this.rt.deps.clock.now().getTime());
    else {
      const [row] = await query(this.tx, "SELECT UNIX_TIMESTAMP(NOW(3)) AS now");
      this.#occurredAt = timestampFromMs(Math.round((row ? num(row, "now") : Date.now() / 1000) * 1000));
    }
    return this.#occurredAt;
  }

  /**
   * Adds one event to the outbox in this transaction, naming the thread event it was written with
   * (`threadEventOf`) and every other thread event of the transaction, so change capture can tell all of
   * them from osTicket's own.
   */
  async event(type: EventType, ticket: Ticket, payload: EventPayload, threadEventId = 0): Promise<void> {
    this.#assertSettled();
    this.rt.deps.outbox.events.write(this.tx, {
      type,
      ticket,
      actor: eventActor(this.principal),
      occurredAt: await this.occurredAt(),
      payload,
      threadEventId,
      relatedThreadEventIds: this.threadEvents.map((e) => e.id).filter((id) => id !== threadEventId),
    });
  }
}

export interface MutationSpec<Req extends DescMessage, Res extends DescMessage> {
  readonly rpc: string;
  readonly requestSchema: Req;
  readonly request: MessageShape<Req> & { idempotencyKey: string };
  readonly responseSchema: Res;
  /** Request fields of the domain's error keys for this RPC. */
  readonly fields?: FieldResolver;
}

/** Runs a mutating RPC's work in its transaction (see the module comment). */
export async function mutate<Req extends DescMessage, Res extends DescMessage>(
  rt: Runtime,
  ctx: HandlerContext,
  spec: MutationSpec<Req, Res>,
  work: (m: Mutation) => Promise<MessageInitShape<Res>>,
): Promise<MessageShape<Res>> {
  const principal = callerOf(ctx);
  const em = rt.em();
  const ref = await rt.refs.get(em);
  try {
    const { response, replayed } = await runIdempotent(
      em,
      {
        rpc: spec.rpc,
        caller: subjectOf(principal),
        key: spec.request.idempotencyKey,
        requestSchema: spec.requestSchema,
        request: spec.request,
        responseSchema: spec.responseSchema,
      },
      async (tx) => create(spec.responseSchema, await work(new Mutation(rt, tx, principal, ref))),
    );
    if (!replayed) rt.deps.outbox.notify();
    return response;
  } catch (error) {
    const mapped = await domainFailure(error, spec.fields ?? {});
    if (mapped) throw mapped;
    throw error;
  }
}

/** Resolves a form field id of the ticket or contact form to the request field it came from. */
export function formFieldResolver(rt: Runtime): FieldResolver["formField"] {
  return async (fieldId) => {
    const [row] = await query(
      rt.em(),
      "SELECT f.name, f.type, fo.type AS form_type FROM ost_form_field f JOIN ost_form fo ON fo.id = f.form_id WHERE f.id = ?",
      [fieldId],
    );
    if (!row) return undefined;
    const name = String(row.name ?? "");
    const type = String(row.type ?? "");
    if (type === "thread" || name === "message") return "message";
    if (name === "subject") return "subject";
    if (type === "priority" || name === "priority") return "priority_id";
    if (String(row.form_type ?? "") === "U") return name ? `requester.${name}` : "requester";
    return name ? `answers.${name}` : "answers";
  };
}

/** The thread entries a domain event names (its event carries them). */
function entryIdsOf(event: TicketDomainEvent): number[] {
  switch (event.type) {
    case "ticket.created":
      return [event.messageEntryId];
    case "ticket.response.posted":
    case "ticket.message.posted":
    case "ticket.note.posted":
      return [event.entryId];
    default:
      return [];
  }
}
