/**
 * A relay process for the crash test: it publishes one batch and then SIGKILLs itself after the PubAcks and
 * before the rows are marked published (the worst moment to die). Configured by environment:
 * DATABASE_URL, NATS_URL, RELAY_BATCH_SIZE.
 */
import { pino } from "pino";
import { connectBus } from "../connect.ts";
import { startOutboxRelay } from "../relay.ts";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error("DATABASE_URL is required");
const bus = await connectBus({ name: "relay-crash-child", url: process.env.NATS_URL });
startOutboxRelay({
  databaseUrl,
  js: bus.js,
  batchSize: Number(process.env.RELAY_BATCH_SIZE ?? 100),
  pollIntervalMs: 20,
  logger: pino({ level: "silent" }),
  afterPublish: (ids) => {
    process.stdout.write(`published ${ids.length}\n`);
    process.kill(process.pid, "SIGKILL");
  },
});
