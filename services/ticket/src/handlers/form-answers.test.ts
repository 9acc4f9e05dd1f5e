/**
 * Custom answers stored and read as osTicket 1.18.1 stores and reads them: list fields (`list-<id>`) as
 * `{"<item id>":"<value>"}` with the item ids in `__cdata` and the values in the search index; date fields
 * as the date picker writes them (`Y-m-d H:i:s T`), indexed as the helpdesk prints dates; choice and list
 * answers read back as their labels; and the first message of a portal or staff-panel ticket untitled.
 */
import { TicketSource } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertUser, type TicketHarness, ticketHarness } from "../testing/harness.ts";

let h: TicketHarness;
let gadget = 0;
let widget = 0;
let sprocket = 0;
let listId = 0;

/** Enabled, and visible and editable for agents and end users. */
const FLAGS = 0x3301;

beforeAll(async () => {
  h = await ticketHarness("form-answers");
  const list = await h.exec(
    "INSERT INTO ost_list SET name = 'Products', name_plural = 'Products', sort_mode = 'SortCol', masks = 0," +
      " type = NULL, configuration = '', created = NOW(), updated = NOW()",
  );
  listId = list.insertId;
  const item = (value: string, extra: string | null, status: number, sort: number) =>
    h
      .exec("INSERT INTO ost_list_items SET list_id = ?, status = ?, value = ?, extra = ?, sort = ?", [
        listId,
        status,
        value,
        extra,
        sort,
      ])
      .then((r) => r.insertId);
  gadget = await item("Gadget Max", "GMX", 1, 1);
  widget = await item("Widget", "WDG", 0, 2);
  sprocket = await item("Sprocket", null, 1, 3);

  const [ticketForm] = await h.query("SELECT id FROM ost_form WHERE type = 'T' ORDER BY id LIMIT 1");
  const field = (formId: unknown, type: string, label: string, name: string, config: unknown, sort: number) =>
    h.exec(
      "INSERT INTO ost_form_field SET form_id = ?, flags = ?, type = ?, label = ?, name = ?, configuration = ?," +
        " sort = ?, created = NOW(), updated = NOW()",
      [formId, FLAGS, type, label, name, config === null ? null : JSON.stringify(config), sort],
    );
  await field(ticketForm?.id, `list-${listId}`, "Product", "product", null, 40);
  await field(ticketForm?.id, "datetime", "Delivery", "delivery", { time: false }, 41);
  await field(
    ticketForm?.id,
    "datetime",
    "Call at",
    "callat",
    { time: true, timezone: "America/New_York" },
    42,
  );
  await h.exec(
    "ALTER TABLE ost_ticket__cdata ADD COLUMN product mediumtext, ADD COLUMN delivery mediumtext, ADD COLUMN callat mediumtext",
  );
  const form = await h.exec(
    "INSERT INTO ost_form SET type = 'G', flags = 1, title = 'Order', name = '', created = NOW(), updated = NOW()",
  );
  await field(form.insertId, `list-${listId}`, "Spare part", "spare", null, 1);
  await field(form.insertId, "datetime", "Shipped", "shipped", null, 2);
  await field(form.insertId, "choices", "Country", "country", { choices: "us:United States\nfr:France" }, 3);
  await h.exec(
    "INSERT INTO ost_help_topic_form SET topic_id = 1, form_id = ?, sort = 2, extra = '{\"disable\":[]}'",
    [form.insertId],
  );
  const [contactForm] = await h.query("SELECT id FROM ost_form WHERE type = 'U' ORDER BY id LIMIT 1");
  await field(contactForm?.id, `list-${listId}`, "Tier", "tier", null, 40);
  await field(contactForm?.id, "datetime", "Customer since", "since", { time: false }, 41);
  await h.exec("ALTER TABLE ost_user__cdata ADD COLUMN tier mediumtext, ADD COLUMN since mediumtext");
  await h.setConfig("default_timezone", "UTC");
  await h.setConfig("date_formats", "");
  await h.exec("UPDATE ost_staff SET timezone = 'UTC' WHERE staff_id = 1");
});
afterAll(async () => {
  await h?.close();
});

/** The ticket's answers by field name: value and value_id as stored. */
async function answers(ticketId: number): Promise<Record<string, [unknown, unknown]>> {
  const rows = await h.query(
    "SELECT f.name, v.value, v.value_id FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
      " JOIN ost_form_field f ON f.id = v.field_id WHERE e.object_type = 'T' AND e.object_id = ?",
    [ticketId],
  );
  return Object.fromEntries(rows.map((r) => [String(r.name), [r.value, r.value_id]]));
}

async function cdata(ticketId: number) {
  const [row] = await h.query("SELECT product, delivery, callat FROM ost_ticket__cdata WHERE ticket_id = ?", [
    ticketId,
  ]);
  return row;
}

async function searchContent(ticketId: number): Promise<string[]> {
  const [row] = await h.query("SELECT content FROM ost__search WHERE object_type = 'T' AND object_id = ?", [
    ticketId,
  ]);
  return String(row?.content ?? "").split("\n");
}

const json = (id: number, value: string) => JSON.stringify({ [id]: value });

describe("list fields", () => {
  it("stores an item named by id, value or abbreviation as osTicket does, and drops an unknown one", async () => {
    const service = await h.service();
    const create = async (product: string, spare: string, legacy = false) =>
      (
        await h.client.createTicket(
          {
            requester: { email: "buyer@example.com", name: "Buyer" },
            subject: "Order",
            message: "Please",
            topicId: 1,
            answers: { product, spare },
            ...(legacy ? { legacy: { source: "API" } } : {}),
          },
          { headers: service },
        )
      ).ticket?.id ?? 0;

    const byLabel = await create("Gadget Max", "sprocket");
    expect(await answers(byLabel)).toMatchObject({
      product: [json(gadget, "Gadget Max"), null],
      spare: [json(sprocket, "Sprocket"), null],
    });
    expect((await cdata(byLabel))?.product).toBe(String(gadget));
    expect(await searchContent(byLabel)).toEqual(expect.arrayContaining(["Gadget Max", "Sprocket"]));

    const byId = await create(String(gadget), "WDG", true);
    // A disabled item is still found by its abbreviation.
    expect(await answers(byId)).toMatchObject({
      product: [json(gadget, "Gadget Max"), null],
      spare: [json(widget, "Widget"), null],
    });

    // An unknown item and a disabled item's id select nothing (osTicket reports no error for either).
    const unknown = await create("Nothing like it", String(widget));
    expect(await answers(unknown)).toMatchObject({ product: [null, null], spare: [null, null] });
    expect((await cdata(unknown))?.product).toBe("");
  });

  it("reads the legacy API's numbers, lists and objects as osTicket's widgets do (typed_answers)", async () => {
    const service = await h.service();
    const typed = (value: unknown) => JSON.stringify(value);
    const res = await h.client.createTicket(
      {
        requester: { email: "typed.buyer@example.com", name: "Typed Buyer" },
        subject: "Typed order",
        message: "Please",
        topicId: 1,
        // The texts the gateway also sends (PHP's string casts) serve every other field.
        answers: { product: "", spare: "", country: "us,fr" },
        legacy: {
          source: "API",
          typedAnswers: {
            // An integer names any item by id, a disabled one too.
            product: typed(widget),
            // A list selects each value, in the order sent.
            spare: typed({
              array: [
                ["0", sprocket],
                ["1", "GMX"],
              ],
            }),
          },
        },
      },
      { headers: service },
    );
    const id = res.ticket?.id ?? 0;
    expect(await answers(id)).toMatchObject({
      product: [json(widget, "Widget"), null],
      spare: [`{"${sprocket}":"Sprocket","${gadget}":"Gadget Max"}`, null],
      // A comma list of a choice field's keys is a selection (ChoiceField::to_php).
      country: ['{"us":"United States","fr":"France"}', null],
    });
    expect(await searchContent(id)).toEqual(
      expect.arrayContaining(["Widget", "Sprocket, Gadget Max", "United States, France"]),
    );
  });

  it("reads choice and list answers back as their labels, with the list item's id", async () => {
    const service = await h.service();
    const created = await h.client.createTicket(
      {
        requester: { email: "reader@example.com", name: "Reader" },
        subject: "Read me",
        message: "Hi",
        topicId: 1,
        answers: { product: String(sprocket), country: "us" },
      },
      { headers: service },
    );
    const id = created.ticket?.id ?? 0;
    expect((await answers(id)).country).toEqual([JSON.stringify({ us: "United States" }), null]);
    const got = await h.client.getTicket({ lookup: { case: "ticketId", value: id } }, { headers: service });
    const byName = Object.fromEntries(got.ticket?.answers.map((a) => [a.name, [a.value, a.valueId]]) ?? []);
    expect(byName.product).toEqual(["Sprocket", sprocket]);
    expect(byName.country).toEqual(["United States", 0]);
  });

  it("UpdateTicket stores the item as osTicket's inline editor does", async () => {
    const service = await h.service();
    const created = await h.client.createTicket(
      {
        requester: { email: "editor@example.com", name: "Editor" },
        subject: "Edit me",
        message: "Hi",
        topicId: 1,
        answers: { product: "Gadget Max" },
      },
      { headers: service },
    );
    const id = created.ticket?.id ?? 0;
    await h.client.updateTicket(
      { ticketId: id, patch: { answers: { product: "Sprocket" } }, updateMask: { paths: ["answers"] } },
      { headers: await h.agent() },
    );
    expect((await answers(id)).product).toEqual([json(sprocket, "Sprocket"), null]);
    expect((await cdata(id))?.product).toBe(String(sprocket));
    const content = await searchContent(id);
    expect(content).toContain("Sprocket");
    expect(content).not.toContain("Gadget Max");
    // Cleared: NULL, and the edited event logs each side's database form (SelectionField::to_database).
    await h.client.updateTicket(
      { ticketId: id, patch: { answers: { product: "" } }, updateMask: { paths: ["answers"] } },
      { headers: await h.agent() },
    );
    expect((await answers(id)).product).toEqual([null, null]);
    const [field] = await h.query("SELECT id FROM ost_form_field WHERE name = 'product'");
    const events = await h.query(
      "SELECT te.data FROM ost_thread_event te JOIN ost_event e ON e.id = te.event_id JOIN ost_thread th ON th.id = te.thread_id" +
        " WHERE e.name = 'edited' AND th.object_type = 'T' AND th.object_id = ? ORDER BY te.id",
      [id],
    );
    expect(events.map((e) => JSON.parse(String(e.data)).fields?.[String(field?.id)])).toEqual([
      [json(gadget, "Gadget Max"), json(sprocket, "Sprocket")],
      [json(sprocket, "Sprocket"), null],
    ]);
  });
});

describe("a new requester's contact-form answers", () => {
  it("are stored as the contact form's list and date fields store them, and indexed in the user's row", async () => {
    const created = await h.client.createTicket(
      {
        requester: { email: "new.customer@example.com", name: "New Customer" },
        subject: "Hello",
        message: "First ticket",
        answers: { tier: "gmx", since: "2026-12-03" },
      },
      { headers: await h.service() },
    );
    const userId = Number(created.ticket?.requester?.id);
    const rows = await h.query(
      "SELECT f.name, v.value, v.value_id FROM ost_form_entry e JOIN ost_form_entry_values v ON v.entry_id = e.id" +
        " JOIN ost_form_field f ON f.id = v.field_id WHERE e.object_type = 'U' AND e.object_id = ?",
      [userId],
    );
    const stored = Object.fromEntries(rows.map((r) => [String(r.name), [r.value, r.value_id]]));
    expect(stored).toMatchObject({
      tier: [json(gadget, "Gadget Max"), null],
      since: ["2026-12-03 00:00:00 UTC", null],
    });
    const [mirror] = await h.query("SELECT tier, since FROM ost_user__cdata WHERE user_id = ?", [userId]);
    expect(mirror).toEqual({ tier: String(gadget), since: "2026-12-03 00:00:00 UTC" });
    const [index] = await h.query(
      "SELECT content FROM ost__search WHERE object_type = 'U' AND object_id = ?",
      [userId],
    );
    const content = String(index?.content ?? "").split("\n");
    // The answers, then (after a space) the user's addresses, as osTicket writes the U row.
    expect(content).toEqual(expect.arrayContaining(["Gadget Max", "12/3/26 new.customer@example.com"]));
    expect(content).not.toContain("gmx");
    // An unknown item selects nothing, as on the ticket form.
    const unknown = await h.client.createTicket(
      {
        requester: { email: "other.customer@example.com", name: "Other Customer" },
        subject: "Hello",
        message: "First ticket",
        answers: { tier: "Nothing like it" },
      },
      { headers: await h.service() },
    );
    const [none] = await h.query("SELECT tier FROM ost_user__cdata WHERE user_id = ?", [
      Number(unknown.ticket?.requester?.id),
    ]);
    expect(none?.tier).toBe("");
  });
});

describe("date fields", () => {
  it("stores dates as the date picker writes them and indexes them as the helpdesk prints dates", async () => {
    const agent = await h.agent();
    const created = await h.client.createTicket(
      {
        requester: { email: "dates@example.com", name: "Dates" },
        subject: "When",
        message: "Soon",
        topicId: 1,
        source: TicketSource.PHONE,
        answers: { delivery: "2026-12-03", callat: "2026-12-03 14:30", shipped: "2026-11-30" },
      },
      { headers: agent },
    );
    const id = created.ticket?.id ?? 0;
    expect(await answers(id)).toMatchObject({
      delivery: ["2026-12-03 00:00:00 UTC", null],
      // The field's own zone: the time as entered (read as UTC) shown in New York.
      callat: ["2026-12-03 09:30:00 EST", null],
      shipped: ["2026-11-30 00:00:00 UTC", null],
    });
    expect(await cdata(id)).toMatchObject({ delivery: "2026-12-03 00:00:00 UTC" });
    const content = await searchContent(id);
    expect(content).toEqual(expect.arrayContaining(["12/3/26", "12/3/26 2:30 PM", "11/30/26"]));
    expect(content.join("\n")).not.toContain("2026-12-03");
  });

  it("stores the API's ticket-form date as the picker writes it, as osTicket's PHP does, and indexes it", async () => {
    const created = await h.client.createTicket(
      {
        requester: { email: "api-dates@example.com", name: "Api Dates" },
        subject: "When",
        message: "Soon",
        topicId: 1,
        answers: { delivery: "2026-12-03", shipped: "2026-12-04" },
        legacy: { source: "API" },
      },
      { headers: await h.service() },
    );
    const id = created.ticket?.id ?? 0;
    // Ticket::create parses the ticket form's values first, but stores what the date picker widget reads.
    expect(await answers(id)).toMatchObject({
      delivery: ["2026-12-03 00:00:00 UTC", null],
      shipped: ["2026-12-04 00:00:00 UTC", null],
    });
    expect(await searchContent(id)).toEqual(expect.arrayContaining(["12/3/26", "12/4/26"]));
  });
});

describe("the first message of a portal or staff-panel ticket", () => {
  const firstMessage = async (ticketId: number) => {
    const [row] = await h.query(
      "SELECT te.title, te.source, s.title AS search_title FROM ost_thread_entry te JOIN ost_thread th ON th.id = te.thread_id" +
        " LEFT JOIN ost__search s ON s.object_type = 'H' AND s.object_id = te.id" +
        " WHERE th.object_type = 'T' AND th.object_id = ? ORDER BY te.id LIMIT 1",
      [ticketId],
    );
    return row;
  };

  it("is untitled, and the portal's has no source; an API ticket's keeps both", async () => {
    const owner = await insertUser(h, { name: "Portal User", email: "portal@example.com" });
    const portal = await h.client.createTicket(
      { subject: "From the portal", message: "Hello", topicId: 1 },
      { headers: await h.endUser(owner) },
    );
    expect(await firstMessage(portal.ticket?.id ?? 0)).toEqual({ title: null, source: "", search_title: "" });

    const staff = await h.client.createTicket(
      {
        requester: { email: "caller@example.com", name: "Caller" },
        subject: "On the phone",
        message: "Called",
        topicId: 1,
        source: TicketSource.PHONE,
      },
      { headers: await h.agent() },
    );
    expect(await firstMessage(staff.ticket?.id ?? 0)).toEqual({
      title: null,
      source: "Phone",
      search_title: "",
    });

    const api = await h.client.createTicket(
      { requester: { email: "api@example.com", name: "Api" }, subject: "By API", message: "Hi" },
      { headers: await h.service() },
    );
    expect(await firstMessage(api.ticket?.id ?? 0)).toEqual({
      title: "By API",
      source: "API",
      search_title: "By API",
    });
  });
});
