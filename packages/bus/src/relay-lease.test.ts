import mysql from "mysql2/promise";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { Bus } from "./connect.ts";
import { ensureStreams } from "./streams.ts";
import { collect, duplicates, orderViolation, waitFor, writeTicketEvents } from "./testing/harness.ts";
import { capturingLogger } from "./testing/log.ts";
import { testStream } from "./testing/names.ts";
import { useRelayFixture } from "./testing/relay-fixture.ts";

const fixture = useRelayFixture("bus-relay-lease-test");
const { database, relay, pending, streamMessages, streams } = fixture;
let bus: Bus;
beforeAll(() => {
  bus = fixture.bus;
});

/** How many of the recorded queries were a lease try (GET_LOCK) that found the lock held by another. */
function refusedLeases(mock: {
  calls: readonly (readonly unknown[])[];
  settledResults: readonly { type: string; value?: unknown }[];
}): number {
  return mock.calls.filter((args, i) => {
    const result = mock.settledResults[i];
    if (!String(args[0]).includes("GET_LOCK") || result?.type !== "fulfilled") return false;
    const [rows] = result.value as [{ got: unknown }[]];
    return Number(rows[0]?.got) === 0;
  }).length;
}

describe("relay: two relays at once", () => {
  it("never delivers a row twice and keeps per-ticket order across a leader's lost connection", async () => {
    const d = await database("relaypair");
    const def = testStream("pair");
    streams.push(def.name);
    await ensureStreams(bus.jsm, def);
    const { received, handle } = await collect(bus, def, "pair");
    const leadership: string[] = [];
    const a = relay(d, { batchSize: 25, metrics: { leader: (l) => leadership.push(`a:${l}`) } });
    const b = relay(d, { batchSize: 25, metrics: { leader: (l) => leadership.push(`b:${l}`) } });
    await waitFor(() => a.isLeader || b.isLeader, "a leader");
    expect(a.isLeader && b.isLeader).toBe(false);

    // 15 tickets x 24 events; writes of one ticket are serialised (as the ticket row lock does in services).
    const tickets = 15;
    const perTicket = 24;
    let killed = false;
    const admin = await mysql.createConnection({ uri: d.db.url });
    const writers = Array.from({ length: tickets }, async (_, i) => {
      for (let seq = 0; seq < perTicket; seq += 3) {
        await writeTicketEvents(d.orm.em, def, i + 1, [seq, seq + 1, seq + 2]);
        a.notify();
        b.notify();
        if (!killed && i === 0 && seq >= 12) {
          killed = true;
          // Cut the leader's lease connection: its lock is released and the standby must take over.
          const [rows] = await admin.query<mysql.RowDataPacket[]>("SELECT IS_USED_LOCK(?) AS holder", [
            `ostmesh_outbox_relay_${d.db.name}`,
          ]);
          const holder = rows[0]?.holder;
          if (holder) await admin.query(`KILL CONNECTION ${Number(holder)}`);
        }
      }
    });
    await Promise.all(writers);
    await admin.end();

    await waitFor(() => received.length >= tickets * perTicket, "all events", 20_000);
    await waitFor(async () => (await pending(d)) === 0, "all rows marked");
    await new Promise((resolve) => setTimeout(resolve, 200));
    await handle.stop();
    expect(killed).toBe(true);
    expect(duplicates(received)).toEqual([]);
    expect(received).toHaveLength(tickets * perTicket);
    expect(orderViolation(received)).toBeUndefined();
    expect(await streamMessages(def.name)).toBe(tickets * perTicket);
    // The killed leader stepped down, and leadership was taken again.
    expect(leadership.filter((x) => x.endsWith(":false")).length).toBeGreaterThanOrEqual(1);
    expect(leadership.filter((x) => x.endsWith(":true")).length).toBeGreaterThanOrEqual(2);
  });

  it("lets a standby ask for the lease on its own schedule, not on every wake-up (one per commit)", async () => {
    const d = await database("relaystandby");
    const leader = relay(d);
    await waitFor(() => leader.isLeader, "the leader leads");
    // The lease connections' queries, to see the standby's first try fail while the leader holds the lease.
    const queries = vi.spyOn(mysql.Connection.prototype, "query");
    try {
      // A standby whose next try is a minute away, woken again and again after the leader has gone.
      const standby = relay(d, { standbyRetryMs: 60_000 });
      await waitFor(() => refusedLeases(queries.mock) >= 1, "the standby's first try");
      expect(standby.isLeader).toBe(false);
      await leader.stop();
      for (let i = 0; i < 20; i++) {
        standby.notify();
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
      expect(standby.isLeader).toBe(false);
      // Stopping still ends its wait at once.
      const stopped = Date.now();
      await standby.stop();
      expect(Date.now() - stopped).toBeLessThan(5_000);
    } finally {
      queries.mockRestore();
    }
  });

  it("hands over at once on stop, after finishing the batch in flight, and releases the lock", async () => {
    const d = await database("relaystop");
    const def = testStream("stop");
    streams.push(def.name);
    await ensureStreams(bus.jsm, def);
    let inFlight: ((ids: readonly string[]) => void) | undefined;
    const batchStarted = new Promise<readonly string[]>((resolve) => {
      inFlight = resolve;
    });
    const first = relay(d, {
      afterPublish: async (ids) => {
        inFlight?.(ids);
        await new Promise((resolve) => setTimeout(resolve, 300));
      },
    });
    await waitFor(() => first.isLeader, "first relay leads");
    await writeTicketEvents(d.orm.em, def, 1, [0, 1, 2]);
    first.notify();
    const ids = await batchStarted;
    await first.stop();
    expect(first.isLeader).toBe(false);
    expect(await pending(d)).toBe(0);
    expect(ids).toHaveLength(3);
    const [free] = await d.orm.em
      .fork()
      .execute<{ free: number }[]>("SELECT IS_FREE_LOCK(?) AS free", [`ostmesh_outbox_relay_${d.db.name}`]);
    expect(Number(free?.free)).toBe(1);

    const second = relay(d);
    await waitFor(() => second.isLeader, "second relay leads");
    await writeTicketEvents(d.orm.em, def, 1, [3]);
    second.notify();
    await waitFor(async () => (await pending(d)) === 0, "second relay publishes");
    expect(await streamMessages(def.name)).toBe(4);
  });

  it("checks the lease in the round trip that selects a batch, and keeps it when the server refuses that read", async () => {
    const d = await database("relayrefused");
    const def = testStream("refused");
    streams.push(def.name);
    await ensureStreams(bus.jsm, def);
    const queries = vi.spyOn(mysql.Connection.prototype, "query");
    const sqlOf = (args: readonly unknown[]) => {
      const first = args[0];
      return typeof first === "object" && first !== null && "sql" in first
        ? String(first.sql)
        : String(first);
    };
    const { logger, lines } = capturingLogger();
    try {
      const leader = relay(d, { logger });
      await waitFor(() => leader.isLeader, "the leader leads");
      await writeTicketEvents(d.orm.em, def, 1, [0, 1]);
      leader.notify();
      await waitFor(async () => (await pending(d)) === 0, "the first rows published");
      const selections = queries.mock.calls.map(sqlOf).filter((q) => q.includes("FROM ostmesh_outbox WHERE"));
      expect(selections.length).toBeGreaterThan(0);
      for (const q of selections)
        expect(q).toMatch(/^SELECT IS_USED_LOCK\(\?\) = CONNECTION_ID\(\) AS mine; SELECT /);
      expect(queries.mock.calls.map(sqlOf).filter((q) => /^SELECT IS_USED_LOCK\(\?\)[^;]*$/.test(q))).toEqual(
        [],
      );

      // The table gone for a while: the cycles fail, the relay keeps its lease, and carries on after.
      const admin = await mysql.createConnection({ uri: d.db.url });
      await admin.query("RENAME TABLE ostmesh_outbox TO ostmesh_outbox_away");
      leader.notify();
      await waitFor(() => lines.some((l) => l.msg === "outbox relay cycle failed"), "a failed cycle");
      expect(leader.isLeader).toBe(true);
      await admin.query("RENAME TABLE ostmesh_outbox_away TO ostmesh_outbox");
      await admin.end();
      await writeTicketEvents(d.orm.em, def, 1, [2]);
      leader.notify();
      await waitFor(async () => (await pending(d)) === 0, "the later row published");
      expect(await streamMessages(def.name)).toBe(3);
      expect(leader.isLeader).toBe(true);
      expect(
        lines.filter((l) => l.msg === "outbox relay stepped down" || l.msg === "outbox relay lost its lease"),
      ).toEqual([]);
    } finally {
      queries.mockRestore();
    }
  });
});
