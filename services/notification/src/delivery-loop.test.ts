import { capturingLogger } from "@ostmesh/bus/testing/log.ts";
import { createOrm, execute, type Orm, query, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  backoffMs,
  claimLeased,
  DeliveryLoop,
  forEachConcurrently,
  type LeaseClaim,
} from "./delivery-loop.ts";
import { num } from "./osticket/reads.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the delivery loop", () => {
  it("runs a round at start, then on notify() at once, not before the poll interval otherwise", async () => {
    const started: number[] = [];
    const loop = new DeliveryLoop({
      logger: capturingLogger().logger,
      roundFailedMessage: "round failed",
      pollIntervalMs: 60_000,
      batchSize: 10,
      round: async () => {
        started.push(Date.now());
        return 0;
      },
    });
    loop.start();
    loop.start(); // a second start does not start a second loop
    await sleep(100);
    expect(started).toHaveLength(1);
    const notified = Date.now();
    loop.notify();
    await sleep(100);
    expect(started).toHaveLength(2);
    expect((started[1] ?? 0) - notified).toBeLessThan(100);
    await loop.stop();
    expect(started).toHaveLength(2);
  });

  it("runs the next round at once after a full batch, and polls again after a short one", async () => {
    // The clock is the test's: the poll interval cannot run out early on a busy machine.
    vi.useFakeTimers();
    try {
      const claims = [5, 5, 2, 0];
      let rounds = 0;
      const loop = new DeliveryLoop({
        logger: capturingLogger().logger,
        roundFailedMessage: "round failed",
        pollIntervalMs: 400,
        batchSize: 5,
        round: async () => claims[rounds++] ?? 0,
      });
      loop.start();
      await vi.advanceTimersByTimeAsync(100);
      expect(rounds).toBe(3); // two full batches back to back, then the short one: waiting for the poll
      await vi.advanceTimersByTimeAsync(300);
      expect(rounds).toBeGreaterThanOrEqual(4); // the next poll
      await loop.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("logs a failed round and goes on; stop() waits for the round in progress", async () => {
    const { logger, lines } = capturingLogger();
    let rounds = 0;
    let finished = false;
    let secondStarted = () => {};
    const second = new Promise<void>((resolve) => {
      secondStarted = resolve;
    });
    const loop = new DeliveryLoop({
      logger,
      roundFailedMessage: "test round failed",
      pollIntervalMs: 20,
      batchSize: 10,
      round: async () => {
        rounds++;
        if (rounds === 1) throw new Error("database gone");
        secondStarted();
        await sleep(150);
        finished = true;
        return 0;
      },
    });
    loop.start();
    // The second round has begun: stop() below comes while it is still running.
    await second;
    expect(rounds).toBe(2);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 50, msg: "test round failed", error: "Error: database gone" }),
    );
    await loop.stop();
    expect(finished).toBe(true);
    expect(rounds).toBe(2);
  });
});

describe("forEachConcurrently", () => {
  it("works every item, in order of start, never more than `concurrency` at once", async () => {
    let running = 0;
    let peak = 0;
    const startedOrder: number[] = [];
    await forEachConcurrently([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      startedOrder.push(n);
      running++;
      peak = Math.max(peak, running);
      await sleep(10 + (n % 3) * 5);
      running--;
    });
    expect(startedOrder).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(peak).toBe(3);
    await forEachConcurrently([], 4, async () => {
      throw new Error("never called");
    });
  });

  it("rejects with a failure", async () => {
    await expect(
      forEachConcurrently([1, 2], 2, async (n) => {
        if (n === 2) throw new Error("second failed");
      }),
    ).rejects.toThrow("second failed");
  });
});

describe("backoffMs", () => {
  it("doubles from the initial delay and stops at the cap", () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffMs(n, 100, 1_000))).toEqual([
      100, 100, 200, 400, 800, 1_000, 1_000,
    ]);
  });
});

describe("claimLeased on a real queue table", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  const claim = (limit: number, leaseMs = 60_000): LeaseClaim => ({
    table: "ostmesh_email",
    dueSql:
      "SELECT id FROM ostmesh_email WHERE status = 1 AND (lease_until IS NULL OR lease_until < NOW(6))" +
      " ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
    dueParams: [limit],
    leaseMs,
    load: (tx, ids, marks) => query(tx, `SELECT id, subject FROM ostmesh_email WHERE id IN (${marks})`, ids),
  });

  beforeAll(async () => {
    db = await createScratchDatabase({ label: "deliveryloop", from: "empty" });
    orm = await createOrm({ url: db.url, pool: { max: 6 } });
    await runMigrations(orm);
    for (let i = 1; i <= 6; i++)
      await execute(
        orm.em.fork(),
        "INSERT INTO ostmesh_email (event_id, template, recipient, from_address, subject, body_html, message_id)" +
          " VALUES (?, 'ticket.alert', 'a@example.org', 'f@example.org', ?, '', ?)",
        [`e${i}`, `mail ${i}`, `<m${i}@x>`],
      );
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it("gives concurrent claimers disjoint rows, leases them, and frees a row whose lease ran out", async () => {
    const [a, b] = await Promise.all([
      claimLeased(orm.em.fork(), claim(3)),
      claimLeased(orm.em.fork(), claim(3)),
    ]);
    // Disjoint (a row another claimer holds is skipped; which ones depends on what InnoDB locked).
    const first = [...(a ?? []), ...(b ?? [])].map((r) => num(r.id));
    expect(new Set(first).size).toBe(first.length);
    expect(first.length).toBeGreaterThanOrEqual(3);
    expect(a?.[0]?.subject ?? b?.[0]?.subject).toMatch(/^mail \d$/);
    // The rest goes to the next claimer; then nothing is left while the leases hold.
    const rest = (await claimLeased(orm.em.fork(), claim(10))).map((r) => num(r.id));
    expect([...first, ...rest].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await claimLeased(orm.em.fork(), claim(10))).toEqual([]);
    const leased = await query(
      orm.em.fork(),
      "SELECT COUNT(*) AS n FROM ostmesh_email WHERE lease_until > NOW(6)",
    );
    expect(num(leased[0]?.n)).toBe(6);

    // A worker that died: its lease ends, and the row is claimed again.
    await execute(
      orm.em.fork(),
      "UPDATE ostmesh_email SET lease_until = NOW(6) - INTERVAL 1 SECOND WHERE id = 4",
    );
    const again = await claimLeased(orm.em.fork(), claim(10, 1_000));
    expect(again.map((r) => num(r.id))).toEqual([4]);
    const [row] = await query(
      orm.em.fork(),
      "SELECT lease_until > NOW(6) AS held, lease_until < NOW(6) + INTERVAL 2 SECOND AS short FROM ostmesh_email WHERE id = 4",
    );
    expect(row).toMatchObject({ held: 1, short: 1 });
  });
});
