import { Code, ConnectError } from "@connectrpc/connect";
import { allEntities, createOrm, execute, type Orm } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprint } from "../paging.ts";
import {
  Conditions,
  cleanName,
  escapeLike,
  inOrderOf,
  maskPaths,
  pageByName,
  searchWords,
} from "./common.ts";

function errorOf(work: () => unknown): ConnectError | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    return ConnectError.from(error);
  }
}

describe("directory/common: the helpers users and organizations share", () => {
  it("splits a query into words and escapes LIKE's wildcards", () => {
    expect(searchWords("  acme \t widgets\n")).toEqual(["acme", "widgets"]);
    expect(searchWords("   ")).toEqual([]);
    expect(escapeLike("50%_off\\now")).toBe("50\\%\\_off\\\\now");
  });

  it("collects conditions in order, one per word with the word's pattern at every mark", () => {
    const c = new Conditions()
      .add("x.org_id = ?", 7)
      .containsEveryWord(["a%b", "c"], "(x.name LIKE ? OR x.mail LIKE ?)")
      .add("x.flag = 1");
    expect(c.sql).toEqual([
      "x.org_id = ?",
      "(x.name LIKE ? OR x.mail LIKE ?)",
      "(x.name LIKE ? OR x.mail LIKE ?)",
      "x.flag = 1",
    ]);
    expect(c.params).toEqual([7, "%a\\%b%", "%a\\%b%", "%c%", "%c%"]);
    expect(new Conditions().containsEveryWord(["w"], "x.name LIKE ?").params).toEqual(["%w%"]);
    expect(new Conditions().containsEveryWord([], "x.name LIKE ?").sql).toEqual([]);
  });

  it("validates an update mask: known paths once each, in the order given", () => {
    const known = ["name", "status", "answers"] as const;
    expect(maskPaths(known, ["status", "name", "status"])).toEqual(["status", "name"]);
    const none = errorOf(() => maskPaths(known, []));
    expect(none?.code).toBe(Code.InvalidArgument);
    expect(none?.rawMessage).toBe("update_mask must name at least one field");
    const unknown = errorOf(() => maskPaths(known, ["name", "domain"]));
    expect(unknown?.code).toBe(Code.InvalidArgument);
    expect(unknown?.rawMessage).toBe('update_mask: unknown path "domain"');
  });

  it("cleans a name as osTicket does: tags and astral characters out, whitespace collapsed", () => {
    expect(cleanName("  <b>Acme</b>\t\n Corp 🚀 ")).toBe("Acme Corp");
    expect(cleanName("<i></i>")).toBe("");
  });

  it("returns objects in the order of the ids asked for, skipping missing ones", () => {
    const byId = new Map([
      [1, "one"],
      [3, "three"],
    ]);
    expect(inOrderOf([3, 2, 1], byId)).toEqual(["three", "one"]);
    expect(inOrderOf([], byId)).toEqual([]);
  });

  describe("pageByName against osTicket's ost_organization", () => {
    let db: ScratchDatabase;
    let orm: Orm;
    const ids = new Map<string, number>();
    const from = { table: "ost_organization", alias: "o" };

    beforeAll(async () => {
      db = await createScratchDatabase({ label: "dircommon" });
      orm = await createOrm({ url: db.url, entities: allEntities });
      for (const name of ["Zeta Pg", "Alpha Pg", "Mid Pg", "Alpha Pg", "Other"]) {
        const { insertId } = await execute(
          orm.em.fork(),
          "INSERT INTO ost_organization SET name = ?, created = NOW(), updated = NOW()",
          [name],
        );
        ids.set(ids.has(name) ? `${name} 2` : name, insertId);
      }
    });
    afterAll(async () => {
      await orm?.close();
      await db?.drop();
    });

    it("pages by name then id under the conditions, each token tied to its filters", async () => {
      const em = orm.em.fork();
      const conditions = new Conditions().containsEveryWord(["pg"], "o.name LIKE ?");
      const filters = { q: ["pg"] };
      const first = await pageByName(em, from, conditions, filters, { pageSize: 2, pageToken: "" });
      expect(first.ids).toEqual([ids.get("Alpha Pg"), ids.get("Alpha Pg 2")]);
      expect(first.nextPageToken).not.toBe("");
      const second = await pageByName(em, from, conditions, filters, {
        pageSize: 2,
        pageToken: first.nextPageToken,
      });
      expect(second.ids).toEqual([ids.get("Mid Pg"), ids.get("Zeta Pg")]);
      expect(second.nextPageToken).toBe("");
      // The conditions are not changed by paging.
      expect(conditions.sql).toEqual(["o.name LIKE ?"]);

      const otherFilters = await pageByName(
        em,
        from,
        conditions,
        { q: ["x"] },
        {
          pageSize: 2,
          pageToken: first.nextPageToken,
        },
      ).catch((e: unknown) => ConnectError.from(e));
      expect(otherFilters).toBeInstanceOf(ConnectError);
      expect((otherFilters as ConnectError).code).toBe(Code.InvalidArgument);
    });

    it("refuses a token whose cursor is not a name and an id, and a negative page size", async () => {
      const em = orm.em.fork();
      const filters = { q: [] };
      const token = Buffer.from(JSON.stringify({ f: "", k: [] })).toString("base64url");
      // A well-formed token (right fingerprint) with an id where the name belongs.
      const swapped = Buffer.from(JSON.stringify({ f: fingerprint(filters), k: [1, "Alpha"] })).toString(
        "base64url",
      );
      for (const pageToken of [token, swapped]) {
        const error = await pageByName(em, from, new Conditions(), filters, { pageSize: 2, pageToken }).catch(
          (e: unknown) => ConnectError.from(e),
        );
        expect((error as ConnectError).rawMessage).toBe("page_token is invalid for this request");
      }
      const negative = await pageByName(em, from, new Conditions(), filters, {
        pageSize: -1,
        pageToken: "",
      }).catch((e: unknown) => ConnectError.from(e));
      expect((negative as ConnectError).code).toBe(Code.InvalidArgument);
    });
  });
});
