import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bus } from "./connect.ts";
import { type OutboxRelay, startOutboxRelay } from "./relay.ts";
import { ensureStreams } from "./streams.ts";
import { createOutboxDatabase, type OutboxDatabase } from "./testing/database.ts";
import {
  collect,
  duplicates,
  orderViolation,
  testBus,
  waitFor,
  writeTicketEvents,
} from "./testing/harness.ts";
import { silentLogger } from "./testing/log.ts";
import { deleteStreams, testStream } from "./testing/names.ts";

const CHILD = fileURLToPath(new URL("./testing/relay-child.ts", import.meta.url));
let bus: Bus;
let database: OutboxDatabase;
const def = testStream("crash");
let relay: OutboxRelay | undefined;

beforeAll(async () => {
  bus = await testBus("bus-relay-crash-test");
  database = await createOutboxDatabase("relaycrash");
  await ensureStreams(bus.jsm, def);
});

afterAll(async () => {
  await relay?.stop();
  await deleteStreams(bus.jsm, [def.name]);
  await bus.close();
  await database.close();
});

function runCrashingRelay(batchSize: number): Promise<{ signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD], {
      env: { ...process.env, DATABASE_URL: database.db.url, RELAY_BATCH_SIZE: String(batchSize) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("error", reject);
    // "close" comes after the exit and after the last of its output has been read.
    child.on("close", (_code, signal) => {
      clearTimeout(timer);
      resolve({ signal, stdout });
    });
  });
}

async function count(sql: string): Promise<number> {
  const rows = await database.orm.em.fork().execute<{ n: number | string }[]>(sql);
  return Number(rows[0]?.n);
}

describe("relay crash between PubAck and marking", () => {
  it("loses nothing and delivers every row exactly once after a fresh relay takes over", async () => {
    for (let ticket = 1; ticket <= 3; ticket++)
      await writeTicketEvents(database.orm.em, def, ticket, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const crash = await runCrashingRelay(12);
    expect(crash.signal).toBe("SIGKILL");
    expect(crash.stdout).toContain("published 12");
    // The batch reached the stream, but the table still says unpublished: the crash came before the mark.
    expect((await bus.jsm.streams.info(def.name)).state.messages).toBe(12);
    expect(await count("SELECT COUNT(*) AS n FROM ostmesh_outbox WHERE published_at IS NULL")).toBe(30);

    // A second crash, mid-way through the next relay's first batch, for good measure.
    const again = await runCrashingRelay(20);
    expect(again.signal).toBe("SIGKILL");
    expect((await bus.jsm.streams.info(def.name)).state.messages).toBe(20);

    relay = startOutboxRelay({
      databaseUrl: database.db.url,
      js: bus.js,
      batchSize: 7,
      pollIntervalMs: 20,
      logger: silentLogger(),
    });
    await waitFor(
      async () => (await count("SELECT COUNT(*) AS n FROM ostmesh_outbox WHERE published_at IS NULL")) === 0,
      "fresh relay marks every row",
    );
    expect((await bus.jsm.streams.info(def.name)).state.messages).toBe(30);

    const { received, handle } = await collect(bus, def, "crash");
    await waitFor(() => received.length >= 30, "30 events");
    await new Promise((resolve) => setTimeout(resolve, 200));
    await handle.stop();
    expect(received).toHaveLength(30);
    expect(duplicates(received)).toEqual([]);
    expect(orderViolation(received)).toBeUndefined();
  });
});
