import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyRecommendedIndexes, dropRecommendedIndexes, recommendedIndexes } from "./indexes.ts";
import { runMigrations } from "./migrate.ts";
import { createOrm, type Orm } from "./orm.ts";
import { execute, query } from "./sql.ts";

describe("recommended indexes (opt-in)", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await createScratchDatabase({ label: "indexes" });
    orm = await createOrm({ url: db.url });
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  const columns = () =>
    query(
      orm.em.fork(),
      "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1, ORDINAL_POSITION",
    );
  const indexes = (prefix: string) =>
    query(
      orm.em.fork(),
      "SELECT TABLE_NAME t, INDEX_NAME n, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME LIKE ? GROUP BY 1, 2 ORDER BY 1, 2",
      [prefix],
    );

  it("are not created by the default migrations", async () => {
    await runMigrations(orm);
    expect(await indexes("ostmesh\\_%")).toEqual([]);
  });

  it("are added on request, only additively, and a second run finds them present", async () => {
    const columnsBefore = await columns();
    const osticketIndexesBefore = await indexes("%");
    const report = await applyRecommendedIndexes(orm);
    expect(report.map((r) => `${r.name}:${r.status}`)).toEqual(
      recommendedIndexes.map((i) => `${i.name}:created`),
    );
    expect(await indexes("ostmesh\\_%")).toEqual([
      { t: "ost_ticket", n: "ostmesh_lastupdate", c: "lastupdate" },
      { t: "ost_ticket", n: "ostmesh_number", c: "number" },
      { t: "ost_ticket", n: "ostmesh_status_created", c: "status_id,created" },
      { t: "ost_ticket", n: "ostmesh_updated", c: "updated" },
    ]);
    expect(await columns()).toEqual(columnsBefore);
    const after = (await indexes("%")).filter((r) => !String(r.n).startsWith("ostmesh_"));
    expect(after).toEqual(osticketIndexesBefore);
    const again = await applyRecommendedIndexes(orm);
    expect(again.map((r) => r.status)).toEqual(recommendedIndexes.map(() => "present"));
  });

  it("let lookups by ticket number use an index", async () => {
    const em = orm.em.fork();
    for (let i = 0; i < 50; i++)
      await execute(em, "INSERT INTO ost_ticket SET number = ?, created = NOW(), updated = NOW()", [
        String(100000 + i),
      ]);
    const [plan] = await query(em, "EXPLAIN SELECT ticket_id FROM ost_ticket WHERE number = '100007'");
    expect(String(plan?.possible_keys)).toContain("ostmesh_number");
    expect(plan?.key).toBe("ostmesh_number");
  });

  it("let a page of tickets by last activity be read in index order", async () => {
    const [plan] = await query(
      orm.em.fork(),
      "EXPLAIN SELECT ticket_id FROM ost_ticket ORDER BY lastupdate DESC, ticket_id DESC LIMIT 50",
    );
    expect(plan?.key).toBe("ostmesh_lastupdate");
    expect(String(plan?.Extra)).not.toContain("filesort");
  });

  it("skip an index whose columns an existing index already leads with, and a missing table", async () => {
    const report = await applyRecommendedIndexes(orm, [
      { table: "ost_ticket", name: "ostmesh_dept", columns: ["dept_id"], why: "test" },
      { table: "ost_no_such_table", name: "ostmesh_x", columns: ["x"], why: "test" },
    ]);
    expect(report).toEqual([
      { table: "ost_ticket", name: "ostmesh_dept", status: "covered", coveredBy: "dept_id" },
      { table: "ost_no_such_table", name: "ostmesh_x", status: "missing-table" },
    ]);
  });

  it("are removed again on request, and never drop an index that is not ostmesh's", async () => {
    const report = await dropRecommendedIndexes(orm);
    expect(report.map((r) => r.status)).toEqual(recommendedIndexes.map(() => "dropped"));
    expect(await indexes("ostmesh\\_%")).toEqual([]);
    expect((await dropRecommendedIndexes(orm)).map((r) => r.status)).toEqual(
      recommendedIndexes.map(() => "absent"),
    );
    await expect(
      dropRecommendedIndexes(orm, [{ table: "ost_ticket", name: "created", columns: ["created"], why: "x" }]),
    ).rejects.toThrow(/not an ostmesh index/);
    const kept = (await indexes("created")).filter((r) => r.t === "ost_ticket");
    expect(kept).toEqual([{ t: "ost_ticket", n: "created", c: "created" }]);
  });

  it("surface DDL errors", async () => {
    await expect(
      applyRecommendedIndexes(orm, [
        { table: "ost_ticket", name: "ostmesh_bad", columns: ["no_such_column"], why: "x" },
      ]),
    ).rejects.toThrow(/no_such_column/);
  });
});
