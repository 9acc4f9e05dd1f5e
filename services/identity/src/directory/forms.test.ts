import { Code } from "@connectrpc/connect";
import { allEntities, createOrm, type EntityManager, execute, type Orm, query } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  answersOf,
  answerValues,
  type BaseForm,
  baseForm,
  searchableAnswers,
  writeAnswers,
} from "./forms.ts";
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

  /** Writes `answers` of organization `orgId` through answerValues, as the RPCs do. */
  async function answer(
    orgId: number,
    answers: Record<string, string>,
    mode: "new" | "changed",
    onForm: BaseForm = form,
  ): Promise<void> {
    await writeAnswers(em, ORG, onForm, orgId, await answerValues(em, ORG, onForm.fields, answers), mode);
  }

  function fieldId(name: string): number {
    const field = form.fields.find((f) => f.name === name);
    if (!field) throw new Error(`no field ${name}`);
    return field.id;
  }

  it("maps answers to field ids, normalized, and names the object in errors for own or unknown fields", async () => {
    const values = await answerValues(em, ORG, form.fields, {
      phone: "555-123-4567 x12",
      website: " example.org ",
    });
    expect(values.get(fieldId("phone"))).toMatchObject({
      value: "5551234567X12",
      cdata: "5551234567X12",
      searchable: "(555) 123-4567 x12",
    });
    // TextboxField::parse strips tags and emoji, and keeps the spaces (it does not trim).
    expect(values.get(fieldId("website"))).toMatchObject({ value: " example.org ", cdata: " example.org " });
    expect(values.size).toBe(2);
    for (const name of ["name", "nope"]) {
      const error = await rejectionOf(answerValues(em, ORG, form.fields, { [name]: "x" }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toBe(`unknown organization field "${name}"`);
    }
  });

  it('"new" writes a value row for every stored field, empty unless given, and the cdata row', async () => {
    const orgId = await newOrganization("Forms New");
    await answer(orgId, { website: "example.org" }, "new");
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
    await answer(orgId, { notes: "first" }, "changed");
    expect(await storedValues(orgId)).toEqual({ address: null, phone: null, website: null, notes: "first" });

    await execute(
      em,
      "UPDATE ost_form_entry SET updated = '2001-01-01 00:00:00' WHERE object_type = 'O' AND object_id = ?",
      [orgId],
    );
    await answer(orgId, { phone: "555 1234", notes: "" }, "changed");
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

  describe("custom fields an admin added: a list, choices, a date", () => {
    let custom: BaseForm;
    let gold = 0;

    beforeAll(async () => {
      const { insertId: listId } = await execute(
        em,
        "INSERT INTO ost_list SET name = 'Tier', sort_mode = 'SortCol', configuration = '', created = NOW(), updated = NOW()",
      );
      ({ insertId: gold } = await execute(
        em,
        "INSERT INTO ost_list_items SET list_id = ?, status = 1, value = 'Gold', extra = 'G', sort = 1",
        [listId],
      ));
      await execute(
        em,
        "INSERT INTO ost_list_items SET list_id = ?, status = 1, value = 'Silver', sort = 2",
        [listId],
      );
      const oForm = form.formId;
      const field = (name: string, label: string, type: string, configuration: string | null) =>
        execute(
          em,
          "INSERT INTO ost_form_field SET form_id = ?, flags = 0x3301, type = ?, label = ?, name = ?, configuration = ?," +
            " sort = 90, created = NOW(), updated = NOW()",
          [oForm, type, label, name, configuration],
        );
      await field("tier", "Tier", `list-${listId}`, '{"widget":"dropdown"}');
      await field("size", "Size", "choices", '{"choices":"s:Small\\nl:Large"}');
      await field("since", "Customer since", "datetime", '{"time":false}');
      await execute(
        em,
        "UPDATE ost_config SET value = 'UTC' WHERE namespace = 'core' AND `key` = 'default_timezone'",
      );
      custom = await baseForm(em, "O");
    });

    const id = (name: string) => custom.fields.find((f) => f.name === name)?.id ?? 0;

    it("stores a list item, found by value or abbreviation, as osTicket's selection field does", async () => {
      for (const given of ["Gold", "G", String(gold)]) {
        const values = await answerValues(em, ORG, custom.fields, { tier: given });
        expect(values.get(id("tier"))).toMatchObject({
          value: `{"${gold}":"Gold"}`,
          cdata: String(gold),
          searchable: "Gold",
        });
      }
    });

    it("stores a choice by key or label, with its label", async () => {
      for (const given of ["l", "Large"]) {
        const values = await answerValues(em, ORG, custom.fields, { size: given });
        expect(values.get(id("size"))).toMatchObject({
          value: '{"l":"Large"}',
          cdata: "l",
          searchable: "Large",
        });
      }
    });

    it("stores a date as the date picker writes it, in the helpdesk's zone", async () => {
      const values = await answerValues(em, ORG, custom.fields, { since: "2026-12-01" });
      expect(values.get(id("since"))).toMatchObject({ value: "2026-12-01 00:00:00 UTC" });
    });

    it("refuses what the field cannot hold, naming the field", async () => {
      for (const [name, given, problem] of [
        ["tier", "Bronze", 'Tier: no item "Bronze" in its list'],
        ["size", "xl", 'Size: "xl" is not one of its choices (s, l)'],
        ["since", "someday", "Customer since: enter a date (2026-12-01, 2026-12-01 14:30 or 12/01/2026)"],
      ] as const) {
        const error = await rejectionOf(answerValues(em, ORG, custom.fields, { [name]: given }));
        expect(error.code).toBe(Code.InvalidArgument);
        expect(error.rawMessage).toBe(problem);
      }
    });

    it("indexes the list's value, the choice's label and the date as the helpdesk prints it", async () => {
      const orgId = await newOrganization("Forms Custom");
      await answer(orgId, { tier: "G", size: "s", since: "2026-12-01" }, "new", custom);
      const rows = await query(
        em,
        "SELECT f.name, v.value, v.value_id FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
          " JOIN ost_form_field f ON f.id = v.field_id WHERE e.object_type = 'O' AND e.object_id = ? AND f.sort = 90" +
          " ORDER BY f.id",
        [orgId],
      );
      expect(rows).toEqual([
        { name: "tier", value: `{"${gold}":"Gold"}`, value_id: null },
        { name: "size", value: '{"s":"Small"}', value_id: null },
        { name: "since", value: "2026-12-01 00:00:00 UTC", value_id: null },
      ]);
      // The date as DatetimeField::toString prints it with the helpdesk's date format (the locale's short one).
      expect(await searchableAnswers(em, "O", orgId)).toEqual(["Gold", "Small", "12/1/26"]);
      // Read back as people read them: the labels, the list item's id.
      const answers = (await answersOf(em, "O", [orgId], new Set())).get(orgId) ?? [];
      expect(answers.filter((a) => ["tier", "size"].includes(a.name))).toMatchObject([
        { name: "tier", value: "Gold", valueId: gold },
        { name: "size", value: "Small", valueId: 0 },
      ]);
    });
  });
});
