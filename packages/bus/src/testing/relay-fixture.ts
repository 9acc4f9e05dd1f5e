import { afterAll, beforeAll } from "vitest";
import type { Bus } from "../connect.ts";
import { type OutboxRelay, type OutboxRelayOptions, startOutboxRelay } from "../relay.ts";
import { createOutboxDatabase, type OutboxDatabase } from "./database.ts";
import { testBus } from "./harness.ts";
import { silentLogger } from "./log.ts";
import { deleteStreams } from "./names.ts";

/** What a relay test file shares: one bus, and everything its tests made, closed after the file. */
export interface RelayFixture {
  /** The file's bus (connected in its beforeAll). */
  readonly bus: Bus;
  /** Stream names to delete after the file. */
  readonly streams: string[];
  /** A scratch database with the outbox table, dropped after the file. */
  database(label: string): Promise<OutboxDatabase>;
  /** A relay over `d`, polling and retrying quickly, stopped after the file. */
  relay(d: OutboxDatabase, options?: Partial<OutboxRelayOptions>): OutboxRelay;
  /** Remembers a relay a test started itself, to stop it after the file. */
  track(relay: OutboxRelay): OutboxRelay;
  /** Outbox rows not published yet. */
  pending(d: OutboxDatabase): Promise<number>;
  /** Messages a stream holds. */
  streamMessages(name: string): Promise<number>;
}

/** Registers the file's beforeAll/afterAll and returns the fixture (call at the top level of a test file). */
export function useRelayFixture(busName: string): RelayFixture {
  let bus: Bus | undefined;
  const streams: string[] = [];
  const databases: OutboxDatabase[] = [];
  const relays: OutboxRelay[] = [];
  const connected = (): Bus => {
    if (!bus) throw new Error("the relay fixture's bus is not connected yet (use it inside tests)");
    return bus;
  };

  beforeAll(async () => {
    bus = await testBus(busName);
  });
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    if (bus) {
      await deleteStreams(bus.jsm, streams);
      await bus.close();
    }
    await Promise.all(databases.map((d) => d.close()));
  });

  const track = (relay: OutboxRelay): OutboxRelay => {
    relays.push(relay);
    return relay;
  };
  return {
    get bus() {
      return connected();
    },
    streams,
    async database(label) {
      const d = await createOutboxDatabase(label);
      databases.push(d);
      return d;
    },
    relay: (d, options = {}) =>
      track(
        startOutboxRelay({
          databaseUrl: d.db.url,
          js: connected().js,
          pollIntervalMs: 30,
          standbyRetryMs: 50,
          logger: silentLogger(),
          ...options,
        }),
      ),
    track,
    async pending(d) {
      const rows = await d.orm.em
        .fork()
        .execute<{ n: number | string }[]>(
          "SELECT COUNT(*) AS n FROM ostmesh_outbox WHERE published_at IS NULL",
        );
      return Number(rows[0]?.n);
    },
    async streamMessages(name) {
      return (await connected().jsm.streams.info(name)).state.messages;
    },
  };
}
