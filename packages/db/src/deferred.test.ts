import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EntityManager } from "./orm.ts";
import {
  DeferredBatchError,
  defer,
  deferRecoverable,
  discardDeferred,
  execute,
  executeBatch,
  flushDeferred,
  hasDeferred,
  hasUnsettledDeferred,
  query,
  queryBatch,
  settleDeferred,
} from "./sql.ts";
import { type ScratchPools, scratchPools } from "./testing/pools.ts";

let pools: ScratchPools;

beforeAll(async () => {
  pools = await scratchPools("deferred", 3);
  await execute(
    pools.orms.batched.em.fork(),
    "CREATE TABLE deferred_row (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(32) NOT NULL, n INT NOT NULL, UNIQUE KEY tag (tag))",
  );
});

afterAll(async () => {
  await pools?.close();
});

const rowsTagged = async (em: EntityManager, prefix: string) =>
  (await query(em, "SELECT tag, n FROM deferred_row WHERE tag LIKE ? ORDER BY id", [`${prefix}%`])).map(
    (r) => `${r.tag}=${r.n}`,
  );

describe.each(["batched", "oneByOne"] as const)("deferred statements (%s pool)", (pool) => {
  const orm = () => pools.orms[pool];

  it("reach the server in order, before the next statement of the transaction, which sees them", async () => {
    const p = `${pool}-order-`;
    const seen = await orm()
      .em.fork()
      .transactional(async (tx) => {
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, ?)", [`${p}a`, 1]);
        defer(tx, "UPDATE deferred_row SET n = n + ? WHERE tag = ?", [10, `${p}a`]);
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, ?), (?, ?)", [`${p}b`, 2, `${p}'c;`, 3]);
        expect(hasDeferred(tx)).toBe(true);
        const inserted = await execute(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, ?)", [`${p}d`, 4]);
        expect(inserted.insertId).toBeGreaterThan(0);
        expect(inserted.affectedRows).toBe(1);
        expect(hasDeferred(tx)).toBe(false);
        return rowsTagged(tx, p);
      });
    expect(seen).toEqual([`${p}a=11`, `${p}b=2`, `${p}'c;=3`, `${p}d=4`]);
    expect(await rowsTagged(orm().em.fork(), p)).toEqual(seen);
  });

  it("are sent by flushDeferred, and queryBatch answers each SELECT of one call in order", async () => {
    const p = `${pool}-batch-`;
    await orm()
      .em.fork()
      .transactional(async (tx) => {
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, ?), (?, ?)", [`${p}x`, 7, `${p}y`, 8]);
        await flushDeferred(tx);
        expect(hasDeferred(tx)).toBe(false);
        defer(tx, "UPDATE deferred_row SET n = 70 WHERE tag = ?", [`${p}x`]);
        const [first, empty, count] = await queryBatch(tx, [
          { sql: "SELECT n FROM deferred_row WHERE tag = ?", params: [`${p}x`] },
          { sql: "SELECT n FROM deferred_row WHERE tag = 'nothing here'" },
          { sql: "SELECT COUNT(*) AS c FROM deferred_row WHERE tag LIKE ?", params: [`${p}%`] },
        ]);
        expect(first).toEqual([{ n: 70 }]);
        expect(empty).toEqual([]);
        expect(Number(count?.[0]?.c)).toBe(2);
      });
    expect(await rowsTagged(orm().em.fork(), p)).toEqual([`${p}x=70`, `${p}y=8`]);
  });

  it("still queued at the end of the transaction are sent before it commits", async () => {
    const p = `${pool}-commit-`;
    await orm()
      .em.fork()
      .transactional(async (tx) => {
        await execute(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 1)", [`${p}a`]);
        defer(tx, "UPDATE deferred_row SET n = 2 WHERE tag = ?", [`${p}a`]);
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 3)", [`${p}b`]);
      });
    expect(await rowsTagged(orm().em.fork(), p)).toEqual([`${p}a=2`, `${p}b=3`]);
  });

  it("report their result to onResult when they travel, and settleDeferred sends those still waiting", async () => {
    const p = `${pool}-result-`;
    const ids: Record<string, number> = {};
    const recorded = (tag: string) => (r: { insertId: number; affectedRows: number }) => {
      expect(r.affectedRows).toBe(1);
      ids[tag] = r.insertId;
    };
    await orm()
      .em.fork()
      .transactional(async (tx) => {
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 1)", [`${p}a`], recorded("a"));
        expect(hasUnsettledDeferred(tx)).toBe(true);
        await execute(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 2)", [`${p}b`]);
        expect(hasUnsettledDeferred(tx)).toBe(false);
        expect(ids.a).toBeGreaterThan(0);
        defer(tx, "UPDATE deferred_row SET n = 3 WHERE tag = ?", [`${p}b`]);
        await settleDeferred(tx); // nothing waits for a result: still queued
        expect(hasDeferred(tx)).toBe(true);
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 4)", [`${p}c`], recorded("c"));
        await settleDeferred(tx);
        expect(hasDeferred(tx)).toBe(false);
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 5)", [`${p}d`], recorded("d"));
      });
    const rows = await query(
      orm().em.fork(),
      "SELECT id, tag FROM deferred_row WHERE tag LIKE ? ORDER BY id",
      [`${p}%`],
    );
    const idOf = Object.fromEntries(rows.map((r) => [String(r.tag).slice(p.length), Number(r.id)]));
    // The one still waiting at commit was sent before it, with its result.
    expect(ids).toEqual({ a: idOf.a, c: idOf.c, d: idOf.d });
    expect(await rowsTagged(orm().em.fork(), p)).toEqual([`${p}a=1`, `${p}b=3`, `${p}c=4`, `${p}d=5`]);
  });

  it("are never sent when their transaction rolls back, nor by a later transaction", async () => {
    const p = `${pool}-rollback-`;
    await expect(
      orm()
        .em.fork()
        .transactional(async (tx) => {
          defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, ?)", [`${p}lost`, 1]);
          throw new Error("give up");
        }),
    ).rejects.toThrow("give up");
    for (let i = 0; i < 3; i++)
      await orm()
        .em.fork()
        .transactional(async (tx) => {
          await execute(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, ?)", [`${p}kept${i}`, i]);
        });
    expect(await rowsTagged(orm().em.fork(), p)).toEqual([`${p}kept0=0`, `${p}kept1=1`, `${p}kept2=2`]);
    // discardDeferred forgets them by hand.
    await orm()
      .em.fork()
      .transactional(async (tx) => {
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 9)", [`${p}dropped`]);
        discardDeferred(tx);
        expect(hasDeferred(tx)).toBe(false);
      });
    expect(await rowsTagged(orm().em.fork(), `${p}dropped`)).toEqual([]);
  });

  it("queued before a savepoint are sent before it opens; those queued inside are sent with it or dropped when it rolls back", async () => {
    const p = `${pool}-savepoint-`;
    await orm()
      .em.fork()
      .transactional(async (tx) => {
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 1)", [`${p}outer`]);
        await expect(
          tx.transactional(async (inner) => {
            // The outer statement has reached the server before anything in the savepoint.
            expect(await rowsTagged(inner, p)).toEqual([`${p}outer=1`]);
            defer(inner, "INSERT INTO deferred_row (tag, n) VALUES (?, 2)", [`${p}undone`]);
            throw new Error("undo the savepoint");
          }),
        ).rejects.toThrow("undo the savepoint");
        await tx.transactional(async (inner) => {
          defer(inner, "INSERT INTO deferred_row (tag, n) VALUES (?, 3)", [`${p}released`]);
        });
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 4)", [`${p}last`]);
      });
    expect(await rowsTagged(orm().em.fork(), p)).toEqual([`${p}outer=1`, `${p}released=3`, `${p}last=4`]);
  });

  it("fail the statement they travel with when one of them fails, without that failure's errno, and the transaction writes nothing", async () => {
    const p = `${pool}-fail-`;
    await execute(orm().em.fork(), "INSERT INTO deferred_row (tag, n) VALUES (?, 1)", [`${p}taken`]);
    const failure = await orm()
      .em.fork()
      .transactional(async (tx) => {
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 2)", [`${p}new`]);
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 3)", [`${p}taken`]); // duplicate key
        await execute(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 4)", [`${p}after`]);
      })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DeferredBatchError);
    expect((failure as DeferredBatchError).errno).toBeUndefined();
    expect((failure as Error).message).toMatch(/Duplicate entry/);
    expect(((failure as Error).cause as { errno?: number }).errno).toBe(1062);
    expect(await rowsTagged(orm().em.fork(), p)).toEqual([`${p}taken=1`]);
  });

  it("leave the caller its own statement's error (with its errno) when they succeeded and that statement failed", async () => {
    const p = `${pool}-own-`;
    await execute(orm().em.fork(), "INSERT INTO deferred_row (tag, n) VALUES (?, 1)", [`${p}taken`]);
    const seen = await orm()
      .em.fork()
      .transactional(async (tx) => {
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 2)", [`${p}deferred`]);
        const own = await execute(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 3)", [`${p}taken`]).catch(
          (error: unknown) => error,
        );
        expect(own).not.toBeInstanceOf(DeferredBatchError);
        expect((own as { errno?: number }).errno).toBe(1062);
        return rowsTagged(tx, p);
      });
    expect(seen).toEqual([`${p}taken=1`, `${p}deferred=2`]);
    expect(await rowsTagged(orm().em.fork(), p)).toEqual(seen);
  });

  it("go with executeBatch's writes, which run in order, see each other's LAST_INSERT_ID() and stop at their first failure with its own error", async () => {
    const p = `${pool}-chain-`;
    await execute(orm().em.fork(), "INSERT INTO deferred_row (tag, n) VALUES (?, 1)", [`${p}taken`]);
    const seen = await orm()
      .em.fork()
      .transactional(async (tx) => {
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 2)", [`${p}deferred`]);
        const [first, second] = await executeBatch(tx, [
          { sql: "INSERT INTO deferred_row (tag, n) VALUES (?, 3)", params: [`${p}first`] },
          { sql: "INSERT INTO deferred_row (tag, n) VALUES (?, LAST_INSERT_ID())", params: [`${p}second`] },
        ]);
        expect(first?.affectedRows).toBe(1);
        expect(second?.insertId).toBeGreaterThan(first?.insertId ?? 0);
        const [row] = await query(tx, "SELECT n FROM deferred_row WHERE tag = ?", [`${p}second`]);
        expect(row?.n).toBe(first?.insertId);
        const failed = await executeBatch(tx, [
          { sql: "INSERT INTO deferred_row (tag, n) VALUES (?, 4)", params: [`${p}taken`] },
          { sql: "INSERT INTO deferred_row (tag, n) VALUES (?, 5)", params: [`${p}never`] },
        ]).catch((error: unknown) => error);
        expect(failed).not.toBeInstanceOf(DeferredBatchError);
        expect((failed as { errno?: number }).errno).toBe(1062);
        return rowsTagged(tx, p);
      });
    expect(seen).toEqual([
      `${p}taken=1`,
      `${p}deferred=2`,
      `${p}first=3`,
      expect.stringMatching(new RegExp(`^${p}second=\\d+$`)),
    ]);
    expect(await rowsTagged(orm().em.fork(), p)).toEqual(seen);
  });

  it("that fail and are recovered from let the transaction go on: the rest is sent again after the recovery, with LAST_INSERT_ID() as before", async () => {
    const p = `${pool}-recover-`;
    await execute(orm().em.fork(), "INSERT INTO deferred_row (tag, n) VALUES (?, 1)", [`${p}taken`]);
    const errors: unknown[] = [];
    const ids: number[] = [];
    const seen = await orm()
      .em.fork()
      .transactional(async (tx) => {
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 2)", [`${p}first`], (r) =>
          ids.push(r.insertId),
        );
        deferRecoverable(
          tx,
          "INSERT INTO deferred_row (tag, n) VALUES (?, 3)",
          [`${p}taken`],
          async (error) => {
            errors.push(error);
            // The recovery's own writes change LAST_INSERT_ID(); what follows sees the first row's id again.
            await execute(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 30)", [`${p}instead`]);
            return true;
          },
        );
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, LAST_INSERT_ID())", [`${p}after`]);
        const own = await execute(tx, "UPDATE deferred_row SET n = n + 100 WHERE tag = ?", [`${p}after`]);
        expect(own.affectedRows).toBe(1);
        return rowsTagged(tx, p);
      });
    expect(errors).toHaveLength(1);
    expect((errors[0] as { errno?: number }).errno).toBe(1062);
    expect(ids).toHaveLength(1);
    expect(seen).toEqual([
      `${p}taken=1`,
      `${p}first=2`,
      `${p}instead=30`,
      `${p}after=${(ids[0] ?? 0) + 100}`,
    ]);
    expect(await rowsTagged(orm().em.fork(), p)).toEqual(seen);
  });

  it("that fail and are not recovered from fail the statement they travel with, and the transaction writes nothing", async () => {
    const p = `${pool}-unrecovered-`;
    await execute(orm().em.fork(), "INSERT INTO deferred_row (tag, n) VALUES (?, 1)", [`${p}taken`]);
    const failure = await orm()
      .em.fork()
      .transactional(async (tx) => {
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 2)", [`${p}first`]);
        deferRecoverable(
          tx,
          "INSERT INTO deferred_row (tag, n) VALUES (?, 3)",
          [`${p}taken`],
          async () => false,
        );
        await execute(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 4)", [`${p}own`]);
      })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DeferredBatchError);
    expect(((failure as Error).cause as { errno?: number }).errno).toBe(1062);
    expect(await rowsTagged(orm().em.fork(), p)).toEqual([`${p}taken=1`]);
  });

  it("that are still queued at the end are sent before the commit, and recovered from there", async () => {
    const p = `${pool}-recover-commit-`;
    await execute(orm().em.fork(), "INSERT INTO deferred_row (tag, n) VALUES (?, 1)", [`${p}taken`]);
    let recovered = 0;
    await orm()
      .em.fork()
      .transactional(async (tx) => {
        await execute(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 2)", [`${p}own`]);
        deferRecoverable(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 3)", [`${p}taken`], async () => {
          recovered++;
          return true;
        });
        defer(tx, "INSERT INTO deferred_row (tag, n) VALUES (?, 4)", [`${p}last`]);
      });
    expect(recovered).toBe(1);
    expect(await rowsTagged(orm().em.fork(), p)).toEqual([`${p}taken=1`, `${p}own=2`, `${p}last=4`]);
  });

  it("cannot be queued outside a transaction", () => {
    expect(() => defer(orm().em.fork(), "UPDATE deferred_row SET n = 0")).toThrow(/no transaction/);
  });
});

describe("DeferredBatchError", () => {
  it("keeps the errno of a deadlock or lock wait timeout, so the transaction is retried, and of nothing else", () => {
    expect(new DeferredBatchError(Object.assign(new Error("Deadlock found"), { errno: 1213 }), 2).errno).toBe(
      1213,
    );
    expect(
      new DeferredBatchError(Object.assign(new Error("Lock wait timeout"), { errno: 1205 }), 1).errno,
    ).toBe(1205);
    expect(
      new DeferredBatchError(Object.assign(new Error("Duplicate entry"), { errno: 1062 }), 1).errno,
    ).toBe(undefined);
  });
});
