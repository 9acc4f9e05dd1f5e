import { fromBinary } from "@bufbuild/protobuf";
import type { MikroORM } from "@mikro-orm/mysql";
import {
  type Bus,
  connectBus,
  type EventStreamDefinition,
  ensureStreams,
  type OutboxRelay,
  startOutboxRelay,
} from "@ostmesh/bus";
import { silentLogger } from "@ostmesh/bus/testing/log.ts";
import { deleteStreams, testStream } from "@ostmesh/bus/testing/names.ts";
import { createOrm, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { stampEventId } from "@ostmesh/proto";
import { type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import type { Logger } from "pino";

/**
 * A private world for one test file: a scratch copy of the fresh osTicket install with ostmesh's tables, a
 * JetStream stream of its own (run id + random suffix in its name and subjects), and an outbox relay
 * publishing into it. Everything is real: MariaDB, NATS, the relay.
 */
export interface TestEnv {
  readonly db: ScratchDatabase;
  readonly orm: MikroORM;
  readonly bus: Bus;
  readonly stream: EventStreamDefinition;
  readonly relay: OutboxRelay;
  readonly logger: Logger;
  close(): Promise<void>;
}

export async function createTestEnv(
  label: string,
  options: { from?: "fresh" | "empty" } = {},
): Promise<TestEnv> {
  const db = await createScratchDatabase({ label, ...(options.from === "empty" ? { from: "empty" } : {}) });
  const orm = await createOrm({ url: db.url, pool: { max: 10 } });
  await runMigrations(orm);
  const bus = await connectBus({ name: `test-${label}` });
  const stream = testStream(label);
  await ensureStreams(bus.jsm, stream);
  const logger = silentLogger();
  const relay = startOutboxRelay({
    databaseUrl: db.url,
    js: bus.js,
    pollIntervalMs: 20,
    logger,
    preparePayload: stampEventId,
  });
  return {
    db,
    orm,
    bus,
    stream,
    relay,
    logger,
    async close() {
      await relay.stop().catch(() => {});
      await deleteStreams(bus.jsm, [stream.name]);
      await bus.close();
      await orm.close(true);
      await db.drop();
    },
  };
}

/** Every event stored in the stream so far, in stream order, with its sequence and Nats-Msg-Id. */
export async function streamEvents(
  env: Pick<TestEnv, "bus" | "stream">,
): Promise<{ seq: number; msgId: string; subject: string; event: Event }[]> {
  const info = await env.bus.jsm.streams.info(env.stream.name);
  const out: { seq: number; msgId: string; subject: string; event: Event }[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await env.bus.jsm.streams.getMessage(env.stream.name, { seq }).catch(() => null);
    if (!m) continue;
    out.push({
      seq,
      msgId: m.header?.get("Nats-Msg-Id") ?? "",
      subject: m.subject,
      event: fromBinary(EventSchema, m.data),
    });
  }
  return out;
}

/** Polls `condition` until it holds or `timeoutMs` passes (then throws naming `what`). */
export async function waitFor<T>(
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
