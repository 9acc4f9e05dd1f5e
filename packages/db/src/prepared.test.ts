import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrm, type EntityManager, type Orm } from "./orm.ts";
import { execute, executePrepared, query, queryPrepared } from "./sql.ts";

let db: ScratchDatabase;
let orm: Orm;

beforeAll(async () => {
  db = await createScratchDatabase({ label: "prepared" });
  orm = await createOrm({
    url: db.url,
    entities: [],
    pool: { min: 0, max: 3 },
    extra: { discovery: { warnWhenNoEntities: false } },
  });
  await execute(
    orm.em.fork(),
    "CREATE TABLE prepared_blob (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(32), data LONGBLOB)",
  );
});

afterAll(async () => {
  await orm?.close(true);
  await db?.drop();
});

/** Prepared statements executed so far on the connection `em` runs on. */
async function stmtExecutions(em: EntityManager): Promise<number> {
  const [row] = await query(em, "SHOW SESSION STATUS LIKE 'Com_stmt_execute'");
  return Number(row?.Value);
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe("executePrepared / queryPrepared", () => {
  it("run as prepared statements on the transaction's own connection, inside the transaction", async () => {
    const big = Buffer.concat([ALL_BYTES, Buffer.alloc(512_000, 0x27), Buffer.from("\\'\"\0")]);
    let insertedId = 0;
    await expect(
      orm.em.fork().transactional(async (em) => {
        const before = await stmtExecutions(em);
        const [{ id: connectionId } = { id: 0 }] = await query(em, "SELECT CONNECTION_ID() AS id");
        const result = await executePrepared(em, "INSERT INTO prepared_blob SET tag = ?, data = ?", [
          "tx",
          big,
        ]);
        insertedId = result.insertId;
        expect(result).toEqual({ affectedRows: 1, insertId: expect.any(Number) });
        // The ORM's own queries on this transaction see the uncommitted row, byte for byte.
        const [seen] = await query(em, "SELECT data FROM prepared_blob WHERE id = ?", [insertedId]);
        expect(Buffer.compare(Buffer.from(seen?.data as Uint8Array), big)).toBe(0);
        const [read] = await queryPrepared(
          em,
          "SELECT data, CONNECTION_ID() AS cid FROM prepared_blob WHERE id = ?",
          [insertedId],
        );
        expect(read?.cid).toBe(connectionId);
        expect(Buffer.isBuffer(read?.data)).toBe(true);
        expect(Buffer.compare(read?.data as Buffer, big)).toBe(0);
        // Both statements went through the binary protocol on this very connection.
        expect((await stmtExecutions(em)) - before).toBe(2);
        // Other connections do not see the row before commit.
        expect(await query(orm.em.fork(), "SELECT id FROM prepared_blob WHERE id = ?", [insertedId])).toEqual(
          [],
        );
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await query(orm.em.fork(), "SELECT id FROM prepared_blob WHERE id = ?", [insertedId])).toEqual([]);
  });

  it("commits with the transaction and serves savepoints", async () => {
    const id = await orm.em.fork().transactional(async (em) => {
      const { insertId } = await executePrepared(em, "INSERT INTO prepared_blob SET tag = ?, data = ?", [
        "commit",
        ALL_BYTES,
      ]);
      await expect(
        em.transactional(async (inner) => {
          await executePrepared(inner, "UPDATE prepared_blob SET tag = ? WHERE id = ?", ["inner", insertId]);
          throw new Error("undo the savepoint");
        }),
      ).rejects.toThrow("undo the savepoint");
      return insertId;
    });
    const rows = await queryPrepared(orm.em.fork(), "SELECT tag, data FROM prepared_blob WHERE id = ?", [id]);
    expect(rows).toEqual([{ tag: "commit", data: ALL_BYTES }]);
  });

  it("work without a transaction, on a pooled connection with osTicket's session settings", async () => {
    const em = orm.em.fork();
    const { insertId, affectedRows } = await executePrepared(
      em,
      "INSERT INTO prepared_blob SET tag = ?, data = ?",
      ["auto", Buffer.alloc(0)],
    );
    expect(affectedRows).toBe(1);
    const [row] = await queryPrepared(
      em,
      "SELECT LENGTH(data) AS n, @@session.sql_mode AS mode, @@session.time_zone AS tz FROM prepared_blob WHERE id = ?",
      [insertId],
    );
    expect(row).toMatchObject({ mode: "", tz: "SYSTEM" });
    expect(Number(row?.n)).toBe(0);
    const { affectedRows: deleted } = await executePrepared(em, "DELETE FROM prepared_blob WHERE tag = ?", [
      "auto",
    ]);
    expect(deleted).toBe(1);
    expect(await queryPrepared(em, "SELECT id FROM prepared_blob WHERE tag = ?", ["auto"])).toEqual([]);
  });

  it("report SQL errors, leave the transaction usable for its rollback, and refuse an aborted signal", async () => {
    await expect(
      executePrepared(orm.em.fork(), "INSERT INTO no_such_table SET x = ?", [1]),
    ).rejects.toMatchObject({
      code: "ER_NO_SUCH_TABLE",
    });
    await expect(
      orm.em.fork().transactional(async (em) => {
        await executePrepared(em, "INSERT INTO prepared_blob SET tag = ?, data = ?", ["failing", ALL_BYTES]);
        await queryPrepared(em, "SELECT no_such_column FROM prepared_blob");
      }),
    ).rejects.toMatchObject({ code: "ER_BAD_FIELD_ERROR" });
    expect(
      await queryPrepared(orm.em.fork(), "SELECT id FROM prepared_blob WHERE tag = ?", ["failing"]),
    ).toEqual([]);

    const aborted = AbortSignal.abort(new Error("caller went away"));
    await expect(
      executePrepared(orm.em.fork(), "INSERT INTO prepared_blob SET tag = ?", ["never"], { signal: aborted }),
    ).rejects.toThrow("caller went away");
    expect(
      await queryPrepared(orm.em.fork(), "SELECT id FROM prepared_blob WHERE tag = ?", ["never"]),
    ).toEqual([]);
    await expect(executePrepared(orm.em.fork(), "SELECT 1")).resolves.toEqual({
      affectedRows: 0,
      insertId: 0,
    });
    await expect(
      queryPrepared(orm.em.fork(), "DELETE FROM prepared_blob WHERE tag = ?", ["x"]),
    ).rejects.toThrow(/no result set/);
  });

  it("keep the transactions of concurrent callers apart", async () => {
    const tags = ["c1", "c2", "c3"];
    // No transaction commits before all have read: each must see its own uncommitted row only.
    let arrived = 0;
    let release: () => void = () => undefined;
    const allRead = new Promise<void>((resolve) => {
      release = resolve;
    });
    const seen = await Promise.all(
      tags.map((tag) =>
        orm.em.fork().transactional(async (em) => {
          await executePrepared(em, "INSERT INTO prepared_blob SET tag = ?, data = ?", [
            tag,
            Buffer.from(tag),
          ]);
          const rows = await queryPrepared(
            em,
            "SELECT tag FROM prepared_blob WHERE tag LIKE 'c_' ORDER BY tag",
          );
          if (++arrived === tags.length) release();
          await allRead;
          return rows.map((r) => r.tag);
        }),
      ),
    );
    expect(seen).toEqual([["c1"], ["c2"], ["c3"]]);
  });

  it("appear in the ORM's query log, failures as errors", async () => {
    const lines: string[] = [];
    const logged = await createOrm({
      url: db.url,
      entities: [],
      pool: { max: 1 },
      debug: ["query"],
      logger: (line) => lines.push(line),
      extra: { discovery: { warnWhenNoEntities: false } },
    });
    try {
      await executePrepared(logged.em.fork(), "INSERT INTO prepared_blob SET tag = ?, data = ?", [
        "log",
        ALL_BYTES,
      ]);
      await queryPrepared(logged.em.fork(), "SELECT data FROM prepared_blob WHERE tag = ?", ["log"]);
      await expect(queryPrepared(logged.em.fork(), "SELECT nope FROM prepared_blob")).rejects.toThrow();
    } finally {
      await logged.close(true);
    }
    const ours = lines.filter((l) => l.includes("prepared_blob"));
    expect(ours).toHaveLength(3);
    expect(ours[0]).toMatch(/INSERT INTO prepared_blob SET tag = \?, data = \?.*1 row affected/);
    expect(ours[1]).toMatch(/SELECT data FROM prepared_blob.*1 result/);
    // The bytes themselves are never logged.
    expect(ours.join("\n")).not.toContain("\\x");
    expect(ours[2]).toContain("SELECT nope");
  });
});
