import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { ConsumerHandle } from "@ostmesh/bus";
import { writeOutbox } from "@ostmesh/bus";
import { testDurable } from "@ostmesh/bus/testing/names.ts";
import { type EntityManager, execute, query } from "@ostmesh/db";
import { EventTypes } from "@ostmesh/proto";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import type { IngestEmailResult } from "@ostmesh/ticket/email/ingest.ts";
import type { AddressObject } from "mailparser";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { outboxEventOf } from "../capture/capture.ts";
import { startEmailConsumer } from "../email/consumer.ts";
import { EmailSender, EmailStatus } from "../email/outbox.ts";
import { smtpTransport } from "../email/transport.ts";
import { createTestEnv, type TestEnv, waitFor } from "./env.ts";
import { replayApiCreateTicket } from "./osticket-php.ts";
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from "./smtp.ts";

/** The e-mail path as production runs it: the consumer queues alerts, the sender delivers them to `smtp`. */
export interface MailPipeline {
  readonly sender: EmailSender;
  readonly consumer: ConsumerHandle;
  stop(): Promise<void>;
}

/**
 * Starts the e-mail consumer (durable `label`, every event from the start) and a quick-retrying sender;
 * `secretSalt` as OSTICKET_SECRET_SALT.
 */
export async function startMailPipeline(
  env: TestEnv,
  smtp: TestSmtpServer,
  label: string,
  options: { secretSalt?: string } = {},
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
    secretSalt: options.secretSalt,
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

/** Sets osTicket `core` settings (a key the table lacks is added, as the admin panel would save it). */
export async function setCoreConfig(
  em: EntityManager,
  values: Readonly<Record<string, string>>,
): Promise<void> {
  for (const [key, value] of Object.entries(values))
    await execute(
      em,
      "INSERT INTO ost_config (namespace, `key`, value, updated) VALUES ('core', ?, ?, NOW())" +
        " ON DUPLICATE KEY UPDATE value = VALUES(value)",
      [key, value],
    );
}

/**
 * Publishes `event` through the outbox and waits until the e-mail consumer has handled it and its e-mails
 * (those of `template` only, when given) were sent or given up; throws unless exactly `expected` were queued.
 * Returns them as the SMTP server received them.
 */
export async function mailsOf(
  env: TestEnv,
  smtp: TestSmtpServer,
  event: Event,
  expected: number,
  template?: string,
): Promise<ReceivedMail[]> {
  const em = env.orm.em.fork();
  const since = smtp.received.length;
  await em.fork().transactional((tx) => writeOutbox(tx, outboxEventOf(event, env.stream)));
  env.relay.notify();
  await waitFor(
    async () => (await query(em, "SELECT 1 FROM ostmesh_inbox WHERE message_id = ?", [event.id])).length > 0,
    `event ${event.id} handled`,
  );
  const ofTemplate = template === undefined ? "" : " AND template = ?";
  const params = template === undefined ? [event.id] : [event.id, template];
  await waitFor(async () => {
    const [row] = await query(
      em,
      `SELECT COUNT(*) AS n FROM ostmesh_email WHERE event_id = ?${ofTemplate} AND status IN (?, ?)`,
      [...params, EmailStatus.SENT, EmailStatus.FAILED],
    );
    return Number(row?.n) >= expected;
  }, `${expected} e-mails of ${event.id}`);
  const queued = await query(
    em,
    `SELECT message_id FROM ostmesh_email WHERE event_id = ?${ofTemplate}`,
    params,
  );
  if (queued.length !== expected)
    throw new Error(`expected ${expected} e-mails of ${event.id} to be queued, found ${queued.length}`);
  const ids = new Set(queued.map((r) => String(r.message_id)));
  const received = () => smtp.received.slice(since).filter((m) => ids.has(m.parsed.messageId ?? ""));
  await waitFor(async () => received().length >= expected, `${expected} e-mails received`);
  return received();
}

export type TicketEventPayload = NonNullable<MessageInitShape<typeof EventSchema>["payload"]>;

const TYPE_OF_PAYLOAD: Readonly<Partial<Record<string, string>>> = {
  threadEntryAdded: EventTypes.TICKET_ENTRY_ADDED,
  ticketCreated: EventTypes.TICKET_CREATED,
  ticketOverdue: EventTypes.TICKET_OVERDUE,
  ticketAssigned: EventTypes.TICKET_ASSIGNED,
  ticketTransferred: EventTypes.TICKET_TRANSFERRED,
};

let eventSeq = 0;

/**
 * An ostmesh event on the ticket replayApiCreateTicket writes (25, #771291, Support, user 28), by agent
 * `agentId` (0: an API key); its type follows the payload.
 */
export function replayedTicketEvent(payload: TicketEventPayload, agentId: number): Event {
  eventSeq++;
  return create(EventSchema, {
    id: `mail-${Date.now()}-${eventSeq}`,
    type: TYPE_OF_PAYLOAD[payload.case ?? ""] ?? EventTypes.TICKET_ENTRY_ADDED,
    origin: EventOrigin.OSTMESH,
    actor: agentId ? { kind: PrincipalKind.AGENT, id: agentId } : { kind: PrincipalKind.API_KEY, id: 1 },
    aggregate: { type: AggregateType.TICKET, id: 25 },
    ticket: { ticketId: 25, number: "771291", deptId: 1, userId: 28 },
    payload,
  });
}

/** The SECRET_SALT of the tests' osTicket installations (OSTICKET_SECRET_SALT). */
export const TEST_SECRET_SALT = "sAlT-Example-123";

/** A test database holding osTicket's replayed API ticket 25, an SMTP server, and the e-mail path signing ids. */
export interface ReplayedTicketMail {
  readonly env: TestEnv;
  readonly em: EntityManager;
  readonly smtp: TestSmtpServer;
  readonly mail: MailPipeline;
  /** Ticket 25's thread. */
  readonly threadId: number;
  stop(): Promise<void>;
}

/**
 * Sets up a ReplayedTicketMail under `label`; the pipeline signs with TEST_SECRET_SALT, or `secretSalt`
 * (null: no OSTICKET_SECRET_SALT). `prepare` adds rows before the pipeline starts.
 */
export async function startReplayedTicketMail(
  label: string,
  options: { secretSalt?: string | null; prepare?: (em: EntityManager) => Promise<void> } = {},
): Promise<ReplayedTicketMail> {
  const env = await createTestEnv(label);
  const em = env.orm.em.fork();
  const smtp = await startSmtpServer();
  await replayApiCreateTicket(em);
  await options.prepare?.(em);
  const [thread] = await query(em, "SELECT id FROM ost_thread WHERE object_type = 'T' AND object_id = 25");
  const secretSalt = options.secretSalt === undefined ? TEST_SECRET_SALT : (options.secretSalt ?? undefined);
  const mail = await startMailPipeline(env, smtp, label, { secretSalt });
  return {
    env,
    em,
    smtp,
    mail,
    threadId: Number(thread?.id),
    async stop() {
      await mail.stop();
      await smtp.close();
      await env.close();
    },
  };
}

/**
 * A describe block's ReplayedTicketMail: started before its tests (startReplayedTicketMail), stopped after
 * them, with the `settings` (osTicket core config) written again before each test. Call inside `describe`;
 * the returned function gives the fixture once the suite has started.
 */
export function replayedTicketMailSuite(
  label: string,
  settings: Readonly<Record<string, string>>,
): () => ReplayedTicketMail {
  let fixture: ReplayedTicketMail | undefined;
  beforeAll(async () => {
    fixture = await startReplayedTicketMail(label);
  });
  afterAll(async () => {
    await fixture?.stop();
  });
  beforeEach(async () => {
    if (fixture) await setCoreConfig(fixture.em, settings);
  });
  return () => {
    if (!fixture) throw new Error(`${label}: the mail fixture has not started`);
    return fixture;
  };
}

/** The entry a reply made on the replayed ticket 25 (fails unless it was threaded onto it). */
export function threadedOnReplayedTicket(result: IngestEmailResult): number {
  if (result.kind !== "threaded") throw new Error(`expected a threaded reply, got ${result.kind}`);
  expect(result.ticketId).toBe(25);
  return result.entryId;
}

/** The addresses of a parsed address header (From, To, Cc). */
export function addressesOf(value: AddressObject | AddressObject[] | undefined): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.flatMap((a) => a.value.map((v) => v.address ?? ""));
}

/** ticket.created of the replayed ticket 25 (its first message, entry 31). */
export function replayedTicketCreated(flags: { alert: boolean; autorespond: boolean }): Event {
  return replayedTicketEvent(
    { case: "ticketCreated", value: { ticket: { id: 25, number: "771291" }, message: { id: 31 }, ...flags } },
    0,
  );
}

/** The e-mail among `mails` that went to `address`. */
export function mailTo(mails: readonly ReceivedMail[], address: string): ReceivedMail {
  const found = mails.find((m) => m.rcptTo.includes(address));
  if (!found) throw new Error(`no e-mail to ${address}`);
  return found;
}
