import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { EntityManager, Orm } from "./orm.ts";
import { DeferredBatchError, defer, execute, executePrepared, query } from "./sql.ts";
import { type PoolKind, type ScratchPools, scratchPools } from "./testing/pools.ts";

let pools: ScratchPools;
/** Every command (round trip) each pool's connections sent, as the text of the query (or "execute"). */
const sent: Record<PoolKind, string[]> = { batched: [], oneByOne: [] };

/** Records each mysql2 command a pool's connections write to the server, below every wrapper. */
async function recordCommands(orm: Orm, into: string[]): Promise<void> {
  const pool: object = await orm.em.getConnection().getNativeClient();
  const record = (raw: unknown) => {
    if (typeof raw !== "object" || raw === null) return;
    const add: unknown = Reflect.get(raw, "addCommand");
    if (typeof add !== "function") return;
    Reflect.set(raw, "addCommand", (command: unknown) => {
      const sql: unknown = typeof command === "object" && command !== null ? Reflect.get(command, "sql") : "";
      const name: unknown =
        typeof command === "object" && command !== null ? command.constructor.name : "unknown";
      if (name === "Query" || name === "Execute") into.push(name === "Query" ? String(sql) : "execute");
      return Reflect.apply(add, raw, [command]);
    });
  };
  const all: unknown = Reflect.get(pool, "_allConnections");
  const length = Number(Reflect.get(all as object, "length") ?? 0);
  for (let i = 0; i < length; i++) record(Reflect.apply(Reflect.get(all as object, "get"), all, [i]));
  Reflect.apply(Reflect.get(pool, "on"), pool, ["connection", record]);
}

beforeAll(async () => {
  // One connection each, so every transaction below runs on the connection that is recorded.
  pools = await scratchPools("held", 1);
  await execute(
    pools.orms.batched.em.fork(),
    "CREATE TABLE held_row (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(32) NOT NULL, UNIQUE KEY tag (tag))",
  );
  await query(pools.orms.oneByOne.em.fork(), "SELECT 1"); // connected, its session set up: only the tests' commands below
  await recordCommands(pools.orms.batched, sent.batched);
  await recordCommands(pools.orms.oneByOne, sent.oneByOne);
});

afterAll(async () => {
  await pools?.close();
});

beforeEach(() => {
  sent.batched.length = 0;
  sent.oneByOne.length = 0;
});

const tags = async (em: EntityManager, prefix: string) =>
  (await query(em, "SELECT tag FROM held_row WHERE tag LIKE ? ORDER BY id", [`${prefix}%`])).map(
    (r) => r.tag,
  );

const oneLine = (sql: string) => sql.replace(/\s+/g, " ");

describe("transaction control on a multipleStatements pool", () => {
  const em = () => pools.orms.batched.em.fork();

  it("sends begin with the first statement and commit with the writes still deferred", async () => {
    await em().transactional(async (tx) => {
      await query(tx, "SELECT COUNT(*) AS n FROM held_row");
      await execute(tx, "INSERT INTO held_row (tag) VALUES (?)", ["rides-a"]);
      defer(tx, "INSERT INTO held_row (tag) VALUES (?)", ["rides-b"]);
    });
    expect(sent.batched.map(oneLine)).toEqual([
      "begin; SELECT COUNT(*) AS n FROM held_row",
      "INSERT INTO held_row (tag) VALUES ('rides-a')",
      "INSERT INTO held_row (tag) VALUES ('rides-b'); commit",
    ]);
    expect(await tags(em(), "rides-")).toEqual(["rides-a", "rides-b"]);
  });

  it("runs a transaction of deferred writes only in one round trip, and one without statements in none", async () => {
    await em().transactional(async (tx) => {
      defer(tx, "INSERT INTO held_row (tag) VALUES (?)", ["only-deferred"]);
    });
    expect(sent.batched.map(oneLine)).toEqual([
      "begin; INSERT INTO held_row (tag) VALUES ('only-deferred'); commit",
    ]);
    sent.batched.length = 0;
    expect(await em().transactional(async () => 42)).toBe(42);
    await expect(
      em().transactional(async () => {
        throw new Error("before any statement");
      }),
    ).rejects.toThrow("before any statement");
    expect(sent.batched).toEqual([]);
    expect(await tags(em(), "only-")).toEqual(["only-deferred"]);
  });

  it("applies an isolation level asked for to the transaction it opens", async () => {
    const level = await em().transactional(
      async (tx) => {
        await query(tx, "SELECT COUNT(*) AS n FROM held_row"); // InnoDB starts the transaction at its first read
        const [row] = await query(
          tx,
          "SELECT trx_isolation_level AS level FROM information_schema.innodb_trx WHERE trx_mysql_thread_id = CONNECTION_ID()",
        );
        return row?.level;
      },
      { isolationLevel: "read committed" },
    );
    expect(level).toBe("READ COMMITTED");
    expect(sent.batched[0]).toMatch(/^set transaction isolation level read committed;\s*begin;\s*SELECT/);
  });

  it("rolls back everything when a deferred write fails at commit, with the deferred failure's error", async () => {
    await execute(em(), "INSERT INTO held_row (tag) VALUES (?)", ["taken"]);
    sent.batched.length = 0;
    const failure = await em()
      .transactional(async (tx) => {
        await execute(tx, "INSERT INTO held_row (tag) VALUES (?)", ["undone"]);
        defer(tx, "INSERT INTO held_row (tag) VALUES (?)", ["taken"]);
      })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DeferredBatchError);
    expect((failure as DeferredBatchError).errno).toBeUndefined();
    expect(sent.batched.map(oneLine).slice(-2)).toEqual([
      "INSERT INTO held_row (tag) VALUES ('taken'); commit",
      "rollback",
    ]);
    expect(await tags(em(), "undone")).toEqual([]);
  });

  it("sends what is held before a prepared statement, which runs inside the transaction", async () => {
    await expect(
      em().transactional(async (tx) => {
        await execute(tx, "INSERT INTO held_row (tag) VALUES (?)", ["prepared-a"]);
        await executePrepared(tx, "INSERT INTO held_row (tag) VALUES (?)", ["prepared-b"]);
        expect(await tags(tx, "prepared-")).toEqual(["prepared-a", "prepared-b"]);
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await tags(em(), "prepared-")).toEqual([]);
  });
});

describe("a connection back in its pool", () => {
  it("holds nothing of a transaction that was neither committed nor rolled back", async () => {
    // The ORM's pool, one connection: open a transaction on it by hand, release it untouched, use it again.
    const pool: object = await pools.orms.batched.em.getConnection().getNativeClient();
    const acquire = () =>
      new Promise<{ query: (...args: unknown[]) => unknown; release(): void }>((resolve, reject) => {
        Reflect.apply(Reflect.get(pool, "getConnection"), pool, [
          (error: Error | null, conn: { query: (...args: unknown[]) => unknown; release(): void }) =>
            error ? reject(error) : resolve(conn),
        ]);
      });
    const run = (conn: { query: (...args: unknown[]) => unknown }, sql: string) =>
      new Promise<unknown>((resolve, reject) => {
        conn.query(sql, [], (error: Error | null, result: unknown) =>
          error ? reject(error) : resolve(result),
        );
      });
    const first = await acquire();
    await run(first, "begin"); // held, never sent
    first.release();
    const again = await acquire();
    try {
      sent.batched.length = 0;
      const rows = await run(again, "SELECT @@in_transaction AS open");
      expect(rows).toEqual([{ open: 0 }]);
      expect(sent.batched).toEqual(["SELECT @@in_transaction AS open"]);
    } finally {
      again.release();
    }
  });
});

describe("transaction control on a pool of single statements", () => {
  it("leaves begin and commit to round trips of their own", async () => {
    await pools.orms.oneByOne.em.fork().transactional(async (tx) => {
      await query(tx, "SELECT 1 AS one");
      defer(tx, "INSERT INTO held_row (tag) VALUES (?)", ["single-a"]);
    });
    expect(sent.oneByOne.map(oneLine)).toEqual([
      "begin",
      "SELECT 1 AS one",
      "INSERT INTO held_row (tag) VALUES ('single-a')",
      "commit",
    ]);
  });
});
