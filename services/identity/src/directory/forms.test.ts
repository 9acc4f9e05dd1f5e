import { Code, ConnectError } from "@connectrpc/connect";
import { allEntities, createOrm, type EntityManager, execute, type Orm, query } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerValues, type BaseForm, baseForm, searchableAnswers, writeAnswers } from "./forms.ts";
import { ORG_FORM as ORG } from "./organizations.ts";

describe("directory/forms: answers of an object with a form entry and cdata", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  let em: EntityManager;
  let form: BaseForm;

  beforeAll(async () => {
    db = await createScratchDatabase({ label: "dirforms" });
    orm = await createOrm({ url: db.url, entities: allEntities });
    em = orm.em.fork();
    form = await baseForm(em, "O");
  });
  afterAll(async () => {
    await orm?.close();
    await db?.drop();
  });

  async function newOrganization(name: string): Promise<number> {
    const { insertId } = await execute(
      em,
      "INSERT INTO ost_organization SET name = ?, created = NOW(), updated = NOW()",
      [name],
    );
    return insertId;
  }

  async function storedValues(orgId: number): Promise<Record<string, string | null>> {
    const rows = await query(
      em,
      "SELECT f.name, v.value FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
        " JOIN ost_form_field f ON f.id = v.field_id WHERE e.object_type = 'O' AND e.object_id = ?",
      [orgId],
    );
    return Object.fromEntries(rows.map((r) => [String(r.name), r.value === null ? null : String(r.value)]));
  }

  function fieldId(name: string): number {
    const field = form.fields.find((f) => f.name === name);
    if (!field) throw new Error(`no field ${name}`);
    return field.id;
  }

  it("maps answers to field ids, normalized, and names the object in errors for own or unknown fields", () => {
    const values = answerValues(ORG, form.fields, { phone: "555-123-4567 x12", website: " example.org " });
    expect(values.get(fieldId("phone"))).toEqual({ value: "5551234567X12" });
    expect(values.get(fieldId("website"))).toEqual({ value: "example.org" });
    expect(values.size).toBe(2);
    for (const name of ["name", "nope"]) {
      let error: ConnectError | undefined;
      try {
        answerValues(ORG, form.fields, { [name]: "x" });
      } catch (e) {
        error = ConnectError.from(e);
      }
      expect(error?.code).toBe(Code.InvalidArgument);
      expect(error?.rawMessage).toBe(`unknown organization field "${name}"`);
    }
  });

  it('"new" writes a value row for every stored field, empty unless given, and the cdata row', async () => {
    const orgId = await newOrganization("Forms New");
    await writeAnswers(
      em,
      ORG,
      form,
      orgId,
      answerValues(ORG, form.fields, { website: "example.org" }),
      "new",
    );
    expect(await storedValues(orgId)).toEqual({
      address: null,
      phone: null,
      website: "example.org",
      notes: null,
    });
    const [cdata] = await query(
      em,
      "SELECT name, address, website FROM ost_organization__cdata WHERE org_id = ?",
      [orgId],
    );
    expect(cdata).toEqual({ name: null, address: "", website: "example.org" });
    expect(await searchableAnswers(em, "O", orgId)).toEqual(["example.org"]);
  });

  it('"changed" writes nothing without answers, only the given fields otherwise, and bumps the entry', async () => {
    const orgId = await newOrganization("Forms Changed");
    await writeAnswers(em, ORG, form, orgId, new Map(), "changed");
    expect(
      await query(em, "SELECT id FROM ost_form_entry WHERE object_type = 'O' AND object_id = ?", [orgId]),
    ).toEqual([]);

    // Without an entry yet, the entry is created with every stored field, as osTicket writes a new one.
    await writeAnswers(em, ORG, form, orgId, answerValues(ORG, form.fields, { notes: "first" }), "changed");
    expect(await storedValues(orgId)).toEqual({ address: null, phone: null, website: null, notes: "first" });

    await execute(
      em,
      "UPDATE ost_form_entry SET updated = '2001-01-01 00:00:00' WHERE object_type = 'O' AND object_id = ?",
      [orgId],
    );
    await writeAnswers(
      em,
      ORG,
      form,
      orgId,
      answerValues(ORG, form.fields, { phone: "555 1234", notes: "" }),
      "changed",
    );
    expect(await storedValues(orgId)).toEqual({
      address: null,
      phone: "5551234",
      website: null,
      notes: null,
    });
    const [entry] = await query(
      em,
      "SELECT YEAR(updated) AS y FROM ost_form_entry WHERE object_type = 'O' AND object_id = ?",
      [orgId],
    );
    expect(Number(entry?.y)).toBeGreaterThan(2001);
    const [cdata] = await query(em, "SELECT phone, notes FROM ost_organization__cdata WHERE org_id = ?", [
      orgId,
    ]);
    expect(cdata).toEqual({ phone: "5551234", notes: "" });
    expect(await searchableAnswers(em, "O", orgId)).toEqual(["555-1234"]);
  });
});
