/**
 * Measures outbox relay throughput against the local MariaDB and NATS:
 *   npx node packages/bus/scripts/relay-throughput.ts [rows] [tickets] [batchSize] [eventsPerTransaction]
 * Creates a scratch database and a memory stream, writes the rows, then times the relay until every row is
 * marked published. Cleans up after itself.
 */
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { connectBus } from "../src/connect.ts";
import { startOutboxRelay } from "../src/relay.ts";
import { ensureStreams } from "../src/streams.ts";

process.env.OSTMESH_TEST_RUN ??= `bench${randomBytes(3).toString("hex")}`;
const { createOutboxDatabase } = await import("../src/testing/database.ts");
const { testStream } = await import("../src/testing/names.ts");
const { writeTicketEvents } = await import("../src/testing/harness.ts");

const rows = Number(process.argv[2] ?? 5000);
const tickets = Number(process.argv[3] ?? 100);
const batchSize = Number(process.argv[4] ?? 100);
const perTransaction = Number(process.argv[5] ?? 2);
const silent = pino({ level: "silent" });
const database = await createOutboxDatabase("bench");
const bus = await connectBus({ name: "relay-throughput", logger: silent });
const def = testStream("bench", { maxBytes: 256 * 1024 * 1024 });
await ensureStreams(bus.jsm, def);
try {
  const perTicket = Math.ceil(rows / tickets);
  const writeStart = performance.now();
  await Promise.all(
    Array.from({ length: tickets }, async (_, t) => {
      for (let s = 0; s < perTicket; s += perTransaction)
        await writeTicketEvents(
          database.orm.em,
          def,
          t + 1,
          Array.from({ length: Math.min(perTransaction, perTicket - s) }, (_, i) => s + i),
        );
    }),
  );
  const writeMs = performance.now() - writeStart;
  const total = perTicket * tickets;
  const start = performance.now();
  const relay = startOutboxRelay({ databaseUrl: database.db.url, js: bus.js, batchSize, logger: silent });
  for (;;) {
    const [row] = await database.orm.em
      .fork()
      .execute<{ n: number }[]>("SELECT COUNT(*) AS n FROM ostmesh_outbox WHERE published_at IS NULL");
    if (Number(row?.n) === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const ms = performance.now() - start;
  await relay.stop();
  const info = await bus.jsm.streams.info(def.name);
  console.log(
    JSON.stringify({
      rows: total,
      tickets,
      batchSize,
      perTransaction,
      writeRowsPerSecond: Math.round(total / (writeMs / 1000)),
      relaySeconds: +(ms / 1000).toFixed(2),
      relayRowsPerSecond: Math.round(total / (ms / 1000)),
      streamMessages: info.state.messages,
    }),
  );
} finally {
  await bus.jsm.streams.delete(def.name).catch(() => false);
  await bus.close();
  await database.close();
}
