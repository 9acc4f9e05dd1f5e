import { createHash } from "node:crypto";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdempotencyConflictError, purgeExpiredIdempotency, withIdempotency } from "./idempotency.ts";
import { runMigrations } from "./migrate.ts";
import { createOrm, type Orm } from "./orm.ts";
import { execute, query } from "./sql.ts";

const hash = (s: string) => createHash("sha256").update(s).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("withIdempotency", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await createScratchDatabase({ label: "idem", from: "empty" });
    orm = await createOrm({ url: db.url, pool: { max: 6 } });
    await runMigrations(orm);
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  it("runs once and replays the stored response for the same request", async () => {
    let runs = 0;
    const opts = { scope: "svc.Create:u1", key: "k-replay", requestHash: hash("a"), ttl: 60 };
    const first = await withIdempotency(orm.em.fork(), opts, async () => ({ id: ++runs, note: "créé" }));
    const second = await withIdempotency(orm.em.fork(), opts, async () => ({ id: ++runs, note: "again" }));
    expect(first).toEqual({ response: { id: 1, note: "créé" }, replayed: false });
    expect(second).toEqual({ response: { id: 1, note: "créé" }, replayed: true });
    expect(runs).toBe(1);
  });

  it("throws a conflict error when the key is reused with a different request", async () => {
    const opts = { scope: "svc.Create:u1", key: "k-conflict", requestHash: hash("a"), ttl: 60 };
    await withIdempotency(orm.em.fork(), opts, async () => "ok");
    const other = withIdempotency(orm.em.fork(), { ...opts, requestHash: hash("b") }, async () => "never");
    await expect(other).rejects.toBeInstanceOf(IdempotencyConflictError);
    await expect(other).rejects.toThrow(/k-conflict.*different request/);
  });

  it("keeps keys apart per scope", async () => {
    const base = { key: "k-scope", requestHash: hash("a"), ttl: 60 };
    const a = await withIdempotency(orm.em.fork(), { ...base, scope: "svc.A:u1" }, async () => "a");
    const b = await withIdempotency(orm.em.fork(), { ...base, scope: "svc.A:u2" }, async () => "b");
    expect([a.response, b.response, a.replayed, b.replayed]).toEqual(["a", "b", false, false]);
  });

  it("lets exactly one of several concurrent calls run; the others wait and replay", async () => {
    let runs = 0;
    const opts = { scope: "svc.Create:race", key: "k-race", requestHash: hash("same"), ttl: 60 };
    const results = await Promise.all(
      [1, 2, 3].map(() =>
        withIdempotency(orm.em.fork(), opts, async (em) => {
          runs++;
          await execute(em, "INSERT INTO ostmesh_inbox (consumer, message_id) VALUES ('race', ?)", [
            String(runs),
          ]);
          await sleep(150);
          return { run: runs };
        }),
      ),
    );
    expect(runs).toBe(1);
    expect(results.map((r) => r.response)).toEqual([{ run: 1 }, { run: 1 }, { run: 1 }]);
    expect(results.filter((r) => r.replayed)).toHaveLength(2);
    expect(
      await query(orm.em.fork(), "SELECT message_id FROM ostmesh_inbox WHERE consumer = 'race'"),
    ).toHaveLength(1);
  });

  it("rolls the claim back with the caller's transaction, so a retry runs again", async () => {
    const opts = { scope: "svc.Create:rb", key: "k-rollback", requestHash: hash("x"), ttl: 60 };
    await expect(
      orm.em.fork().transactional(async (em) => {
        await withIdempotency(em, opts, async () => "first");
        throw new Error("caller failed later");
      }),
    ).rejects.toThrow("caller failed later");
    const retry = await withIdempotency(orm.em.fork(), opts, async () => "second");
    expect(retry).toEqual({ response: "second", replayed: false });
  });

  it("does not store anything when run throws", async () => {
    const opts = { scope: "svc.Create:err", key: "k-throw", requestHash: hash("x"), ttl: 60 };
    await expect(
      withIdempotency(orm.em.fork(), opts, async () => {
        throw new Error("handler failed");
      }),
    ).rejects.toThrow("handler failed");
    const rows = await query(orm.em.fork(), "SELECT * FROM ostmesh_idempotency WHERE idem_key = 'k-throw'");
    expect(rows).toEqual([]);
  });

  it("waiting calls run themselves when the first call rolls back", async () => {
    const opts = { scope: "svc.Create:rb2", key: "k-wait-rb", requestHash: hash("x"), ttl: 60 };
    let claimed = () => {};
    const firstRuns = new Promise<void>((resolve) => {
      claimed = resolve;
    });
    const first = withIdempotency(orm.em.fork(), opts, async () => {
      claimed();
      await sleep(150);
      throw new Error("first failed");
    });
    // The second call comes while the first holds the key (it runs only once its row is inserted).
    await firstRuns;
    const second = withIdempotency(orm.em.fork(), opts, async () => "second ran");
    await expect(first).rejects.toThrow("first failed");
    expect(await second).toEqual({ response: "second ran", replayed: false });
  });

  it("takes over an expired record, and purges expired ones", async () => {
    const opts = { scope: "svc.Create:exp", key: "k-expired", requestHash: hash("x"), ttl: 60 };
    await withIdempotency(orm.em.fork(), opts, async () => "old");
    await execute(
      orm.em.fork(),
      "UPDATE ostmesh_idempotency SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE idem_key = 'k-expired'",
    );
    const again = await withIdempotency(
      orm.em.fork(),
      { ...opts, requestHash: hash("y") },
      async () => "new",
    );
    expect(again).toEqual({ response: "new", replayed: false });
    await execute(
      orm.em.fork(),
      "UPDATE ostmesh_idempotency SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE idem_key = 'k-expired'",
    );
    expect(await purgeExpiredIdempotency(orm.em.fork())).toBe(1);
    expect(
      await query(orm.em.fork(), "SELECT 1 FROM ostmesh_idempotency WHERE idem_key = 'k-expired'"),
    ).toEqual([]);
  });

  it("stores binary responses through a codec", async () => {
    const codec = { encode: (v: Uint8Array) => v, decode: (b: Uint8Array) => new Uint8Array(b) };
    const opts = { scope: "svc.Bin:u1", key: "k-bin", requestHash: hash("x"), ttl: 60 };
    const bytes = new Uint8Array([0, 255, 1, 128]);
    await withIdempotency(orm.em.fork(), opts, async () => bytes, codec);
    const replay = await withIdempotency(orm.em.fork(), opts, async () => new Uint8Array([9]), codec);
    expect(replay.replayed).toBe(true);
    expect([...replay.response]).toEqual([0, 255, 1, 128]);
  });

  it("rejects malformed options before touching the database", async () => {
    const ok = { scope: "s", key: "k", requestHash: hash("x"), ttl: 60 };
    const run = async () => "x";
    await expect(withIdempotency(orm.em.fork(), { ...ok, scope: "" }, run)).rejects.toThrow(/scope/);
    await expect(withIdempotency(orm.em.fork(), { ...ok, key: "k".repeat(129) }, run)).rejects.toThrow(/key/);
    await expect(withIdempotency(orm.em.fork(), { ...ok, requestHash: "abc" }, run)).rejects.toThrow(
      /requestHash/,
    );
    await expect(withIdempotency(orm.em.fork(), { ...ok, ttl: 0 }, run)).rejects.toThrow(/ttl/);
  });
});
