import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError } from "@connectrpc/connect";
import { rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TicketHarness, ticketHarness } from "../testing/harness.ts";

let h: TicketHarness;
let admin: Headers;
/** Form field ids by variable name (subject, priority, asset, tier, urgent, notes). */
const fieldIds: Record<string, number> = {};

beforeAll(async () => {
  h = await ticketHarness("update");
  admin = await h.agent();
  const form = await h.exec(
    "INSERT INTO ost_form SET type = 'G', flags = 1, title = 'Asset', name = '', created = NOW(), updated = NOW()",
  );
  const fields: Array<[string, string, string, string | null]> = [
    ["text", "Asset tag", "asset", null],
    ["choices", "Tier", "tier", JSON.stringify({ choices: "a:Alpha\nb:Beta" })],
    ["bool", "Urgent", "urgent", null],
    ["memo", "Notes", "notes", null],
  ];
  for (const [sort, [type, label, name, configuration]] of fields.entries()) {
    await h.exec(
      "INSERT INTO ost_form_field SET form_id = ?, flags = 769, type = ?, label = ?, name = ?, configuration = ?, sort = ?, created = NOW(), updated = NOW()",
      [form.insertId, type, label, name, configuration, sort + 1],
    );
  }
  for (const row of await h.query(
    "SELECT id, name FROM ost_form_field WHERE name IN ('subject', 'priority', 'asset', 'tier', 'urgent', 'notes')",
  ))
    fieldIds[String(row.name)] = Number(row.id);
  await h.exec(
    "INSERT INTO ost_help_topic_form SET topic_id = 1, form_id = ?, sort = 2, extra = '{\"disable\":[]}'",
    [form.insertId],
  );
});
afterAll(async () => {
  await h?.close();
});

const violations = (e: ConnectError) =>
  e
    .findDetails(ValidationErrorsSchema)[0]
    ?.violations.map((v) => ({ field: v.field, legacyKey: v.legacyKey }));

/** The data of the ticket's `edited` thread events, oldest first. */
async function editedEvents(ticketId: number): Promise<unknown[]> {
  const rows = await h.query(
    "SELECT te.data FROM ost_thread_event te JOIN ost_event e ON e.id = te.event_id" +
      " JOIN ost_thread th ON th.id = te.thread_id WHERE e.name = 'edited' AND th.object_type = 'T' AND th.object_id = ?" +
      " ORDER BY te.id",
    [ticketId],
  );
  return rows.map((r) => JSON.parse(String(r.data)));
}

async function ticketColumns(ticketId: number) {
  const [row] = await h.query(
    "SELECT isoverdue, DATE_FORMAT(duedate, '%Y-%m-%d %H:%i:%s') AS duedate," +
      " DATE_FORMAT(est_duedate, '%Y-%m-%d %H:%i:%s') AS est_duedate FROM ost_ticket WHERE ticket_id = ?",
    [ticketId],
  );
  return row ?? {};
}

const inDays = (days: number) => {
  const date = new Date(Date.now() + days * 86_400_000);
  date.setUTCSeconds(0, 0);
  return timestampFromDate(date);
};

async function newTicket(): Promise<number> {
  const res = await h.client.createTicket(
    {
      requester: { email: "editor@example.com", name: "Ed Itor" },
      subject: "Before the edit",
      message: "edit me",
      topicId: 1,
      answers: { asset: "A-1" },
    },
    { headers: admin },
  );
  return res.ticket?.id ?? 0;
}

describe("UpdateTicket", () => {
  it("changes the masked fields only, as osTicket's edit writes them, with one ticket.updated event", async () => {
    const id = await newTicket();
    const events = (await h.events()).length;
    const due = new Date(Date.now() + 3 * 86_400_000);
    due.setUTCSeconds(0, 0);
    const res = await h.client.updateTicket(
      {
        ticketId: id,
        patch: {
          subject: "After the edit",
          priorityId: 4,
          slaId: 0,
          dueDate: timestampFromDate(due),
          answers: { asset: "B-2" },
        },
        updateMask: { paths: ["subject", "priority_id", "due_date", "answers"] },
      },
      { headers: admin },
    );
    expect(res.ticket).toMatchObject({
      subject: "After the edit",
      priority: { id: 4, name: "Emergency" },
      sla: { id: 1 },
    });
    expect(res.ticket?.dueDate?.seconds).toBe(BigInt(due.getTime() / 1000));
    expect(res.ticket?.answers.find((a) => a.name === "asset")?.value).toBe("B-2");
    expect(
      await h.query("SELECT subject, priority FROM ost_ticket__cdata WHERE ticket_id = ?", [id]),
    ).toEqual([{ subject: "After the edit", priority: "4" }]);
    expect(
      await h.query("SELECT title FROM ost__search WHERE object_type = 'T' AND object_id = ?", [id]),
    ).toEqual([{ title: `${res.ticket?.number} After the edit` }]);
    // One edited row for the whole edit, as Ticket::update logs it: the due date as the column holds it
    // (DB-local text), answers under `fields` in their database form (a priority as [label, id]).
    const { duedate } = await ticketColumns(id);
    expect(duedate).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:00$/);
    expect(await editedEvents(id)).toEqual([
      {
        duedate: [null, duedate],
        fields: {
          [fieldIds.subject ?? 0]: ["Before the edit", "After the edit"],
          [fieldIds.priority ?? 0]: [
            ["Normal", 2],
            ["Emergency", 4],
          ],
          [fieldIds.asset ?? 0]: ["A-1", "B-2"],
        },
      },
    ]);
    const all = (await h.events()).slice(events);
    expect(all.map((e) => e.type)).toEqual(["ticket.updated"]);
    if (all[0]?.payload.case !== "ticketUpdated") throw new Error("unexpected payload");
    expect(all[0].payload.value.changed?.paths).toEqual(["subject", "priority_id", "due_date", "answers"]);
  });

  it("recomputes the SLA due date with a new plan and clears it without one", async () => {
    const id = await newTicket();
    const none = await h.client.updateTicket(
      { ticketId: id, patch: { slaId: 0 }, updateMask: { paths: ["sla_id"] } },
      { headers: admin },
    );
    expect(none.ticket?.sla).toBeUndefined();
    expect(none.ticket?.estDueDate).toBeUndefined();
    const back = await h.client.updateTicket(
      { ticketId: id, patch: { slaId: 1 }, updateMask: { paths: ["sla_id"] } },
      { headers: admin },
    );
    expect(back.ticket?.sla?.id).toBe(1);
    expect(back.ticket?.estDueDate).toBeDefined();
    const topic = await h.client.updateTicket(
      { ticketId: id, patch: { helpTopicId: 2 }, updateMask: { paths: ["help_topic_id"] } },
      { headers: admin },
    );
    expect(topic.ticket?.helpTopic?.id).toBe(2);
  });

  it("writes nothing when nothing changes", async () => {
    const id = await newTicket();
    const counts = await h.counts();
    const res = await h.client.updateTicket(
      { ticketId: id, patch: { subject: "Before the edit" }, updateMask: { paths: ["subject"] } },
      { headers: admin },
    );
    expect(res.ticket?.subject).toBe("Before the edit");
    expect(await h.counts()).toEqual(counts);
  });

  it("refuses bad masks and values, naming the fields, and writes nothing", async () => {
    const id = await newTicket();
    const counts = await h.counts();
    const empty = await rejectionOf(h.client.updateTicket({ ticketId: id, patch: {} }, { headers: admin }));
    expect(violations(empty)).toEqual([{ field: "update_mask", legacyKey: "" }]);
    const unknownPath = await rejectionOf(
      h.client.updateTicket({ ticketId: id, updateMask: { paths: ["status_id"] } }, { headers: admin }),
    );
    expect(violations(unknownPath)).toEqual([{ field: "update_mask", legacyKey: "" }]);
    const bad = await rejectionOf(
      h.client.updateTicket(
        {
          ticketId: id,
          patch: { subject: "", priorityId: 9, slaId: 9, helpTopicId: 99, answers: { nope: "x" } },
          updateMask: { paths: ["subject", "priority_id", "sla_id", "help_topic_id", "answers"] },
        },
        { headers: admin },
      ),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(violations(bad)).toEqual([
      { field: "patch.subject", legacyKey: "20" },
      { field: "patch.answers.nope", legacyKey: "answers.nope" },
      { field: "patch.priority_id", legacyKey: "priorityId" },
      { field: "patch.sla_id", legacyKey: "slaId" },
      { field: "patch.help_topic_id", legacyKey: "topicId" },
    ]);
    const past = await rejectionOf(
      h.client.updateTicket(
        {
          ticketId: id,
          patch: { dueDate: timestampFromDate(new Date(Date.now() - 86_400_000)) },
          updateMask: { paths: ["due_date"] },
        },
        { headers: admin },
      ),
    );
    expect(violations(past)).toEqual([{ field: "patch.due_date", legacyKey: "duedate" }]);
    expect(await h.counts()).toEqual(counts);
    const missing = await rejectionOf(
      h.client.updateTicket(
        { ticketId: 987654, updateMask: { paths: ["subject"] }, patch: { subject: "x" } },
        { headers: admin },
      ),
    );
    expect(missing.code).toBe(Code.NotFound);
    const endUser = await rejectionOf(
      h.client.updateTicket({ ticketId: id, updateMask: { paths: ["subject"] }, patch: { subject: "x" } }),
    );
    expect(endUser.code).toBe(Code.Unauthenticated);
  });

  it("mirrors the edit into whatever columns ost_ticket__cdata still has, and skips it when the table is gone", async () => {
    const id = await newTicket();
    const edit = (subject: string) =>
      h.client.updateTicket(
        {
          ticketId: id,
          patch: { subject, priorityId: 1 },
          updateMask: { paths: ["subject", "priority_id"] },
        },
        { headers: admin },
      );
    await h.query("ALTER TABLE ost_ticket__cdata DROP COLUMN priority");
    try {
      expect((await edit("Column dropped")).ticket).toMatchObject({
        subject: "Column dropped",
        priority: { id: 1 },
      });
      expect(await h.query("SELECT * FROM ost_ticket__cdata WHERE ticket_id = ?", [id])).toEqual([
        { ticket_id: id, subject: "Column dropped" },
      ]);
      await h.query("RENAME TABLE ost_ticket__cdata TO ost_ticket__cdata_away");
      try {
        expect((await edit("Table gone")).ticket?.subject).toBe("Table gone");
      } finally {
        await h.query("RENAME TABLE ost_ticket__cdata_away TO ost_ticket__cdata");
      }
      expect(await h.query("SELECT subject FROM ost_ticket__cdata WHERE ticket_id = ?", [id])).toEqual([
        { subject: "Column dropped" },
      ]);
    } finally {
      await h.query("ALTER TABLE ost_ticket__cdata ADD COLUMN priority mediumtext DEFAULT NULL");
    }
  });

  it("logs each field type's change the way its getChanges() records it", async () => {
    const id = await newTicket();
    const notes = `<p>${"word ".repeat(60)}</p>`;
    await h.client.updateTicket(
      {
        ticketId: id,
        patch: { answers: { asset: "", tier: "a", urgent: "1", notes } },
        updateMask: { paths: ["answers"] },
      },
      { headers: admin },
    );
    await h.client.updateTicket(
      {
        ticketId: id,
        patch: { priorityId: 0, answers: { tier: "" } },
        updateMask: { paths: ["priority_id", "answers"] },
      },
      { headers: admin },
    );
    await h.client.updateTicket(
      { ticketId: id, patch: { priorityId: 3 }, updateMask: { paths: ["priority_id"] } },
      { headers: admin },
    );
    const field = (name: string) => String(fieldIds[name]);
    expect(await editedEvents(id)).toEqual([
      {
        fields: {
          [field("asset")]: ["A-1", ""],
          // Never answered: false; a choice is stored (and logged) as {"key":"label"} JSON.
          [field("tier")]: [false, '{"a":"Alpha"}'],
          [field("urgent")]: ["0", "1"],
          // A memo's values are logged tag-free and cut at 200 bytes, as the inline editor logs them.
          [field("notes")]: ["", `${"word ".repeat(39)}word ...`],
        },
      },
      {
        fields: {
          [field("priority")]: [["Normal", 2], null],
          [field("tier")]: ['{"a":"Alpha"}', null],
        },
      },
      { fields: { [field("priority")]: [false, ["High", 3]] } },
    ]);
  });

  it("stamps lastupdate on every edit, as the inline field editor does", async () => {
    const id = await newTicket();
    await h.query(
      "UPDATE ost_ticket SET lastupdate = '2001-02-03 04:05:06', updated = '2001-02-03 04:05:06' WHERE ticket_id = ?",
      [id],
    );
    await h.client.updateTicket(
      { ticketId: id, patch: { answers: { asset: "C-3" } }, updateMask: { paths: ["answers"] } },
      { headers: admin },
    );
    const [row] = await h.query(
      "SELECT lastupdate > NOW() - INTERVAL 1 HOUR AS fresh, updated > NOW() - INTERVAL 1 HOUR AS touched" +
        " FROM ost_ticket WHERE ticket_id = ?",
      [id],
    );
    expect(row).toEqual({ fresh: 1, touched: 1 });
  });

  it("clears the overdue flag and recomputes the SLA due date when the due date or SLA plan changes", async () => {
    const id = await newTicket();
    const stale = { isoverdue: 1, est_duedate: "2001-02-03 04:05:00" };
    // Overdue with a stale est_duedate; the due date kept unless one is given.
    const markOverdue = (duedate?: string) =>
      h.query(
        "UPDATE ost_ticket SET isoverdue = 1, est_duedate = ?, duedate = IFNULL(?, duedate) WHERE ticket_id = ?",
        [stale.est_duedate, duedate ?? null, id],
      );
    const { est_duedate: slaDue } = await ticketColumns(id);
    expect(slaDue).toMatch(/^\d{4}-/);

    // A subject edit leaves the flag alone (only SLA and due date edits recompute).
    await markOverdue();
    await h.client.updateTicket(
      { ticketId: id, patch: { subject: "Still overdue" }, updateMask: { paths: ["subject"] } },
      { headers: admin },
    );
    expect(await ticketColumns(id)).toMatchObject(stale);

    await h.client.updateTicket(
      { ticketId: id, patch: { dueDate: inDays(5) }, updateMask: { paths: ["due_date"] } },
      { headers: admin },
    );
    expect(await ticketColumns(id)).toMatchObject({ isoverdue: 0, est_duedate: slaDue });

    await markOverdue();
    await h.client.updateTicket({ ticketId: id, updateMask: { paths: ["due_date"] } }, { headers: admin });
    expect(await ticketColumns(id)).toMatchObject({ isoverdue: 0, duedate: null, est_duedate: slaDue });

    // A new plan: clearOverdue drops a due date already past, est_duedate follows the plan.
    await markOverdue("2001-01-01 00:00:00");
    await h.client.updateTicket(
      { ticketId: id, patch: { slaId: 0 }, updateMask: { paths: ["sla_id"] } },
      { headers: admin },
    );
    expect(await ticketColumns(id)).toMatchObject({ isoverdue: 0, duedate: null, est_duedate: null });
    await h.query("UPDATE ost_ticket SET isoverdue = 1 WHERE ticket_id = ?", [id]);
    await h.client.updateTicket(
      { ticketId: id, patch: { slaId: 1 }, updateMask: { paths: ["sla_id"] } },
      { headers: admin },
    );
    expect(await ticketColumns(id)).toMatchObject({ isoverdue: 0, est_duedate: slaDue });
  });

  it("refuses a due date on a closed ticket but lets one be cleared", async () => {
    const id = await newTicket();
    await h.query(
      "UPDATE ost_ticket SET status_id = (SELECT id FROM ost_ticket_status WHERE state = 'closed' ORDER BY id LIMIT 1)," +
        " closed = NOW(), duedate = NOW() + INTERVAL 2 DAY WHERE ticket_id = ?",
      [id],
    );
    const counts = await h.counts();
    const refused = await rejectionOf(
      h.client.updateTicket(
        { ticketId: id, patch: { dueDate: inDays(3) }, updateMask: { paths: ["due_date"] } },
        { headers: admin },
      ),
    );
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(violations(refused)).toEqual([{ field: "patch.due_date", legacyKey: "duedate" }]);
    expect(refused.rawMessage).toContain("Due date can NOT be set on a closed ticket");
    expect(await h.counts()).toEqual(counts);
    const cleared = await h.client.updateTicket(
      { ticketId: id, updateMask: { paths: ["due_date"] } },
      { headers: admin },
    );
    expect(cleared.ticket?.dueDate).toBeUndefined();
    expect((await ticketColumns(id)).duedate).toBeNull();
  });
});
