import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TicketHarness, ticketHarness } from "../testing/harness.ts";

let h: TicketHarness;
let admin: Headers;

beforeAll(async () => {
  h = await ticketHarness("update");
  admin = await h.agent();
  const form = await h.exec(
    "INSERT INTO ost_form SET type = 'G', flags = 1, title = 'Asset', name = '', created = NOW(), updated = NOW()",
  );
  await h.exec(
    "INSERT INTO ost_form_field SET form_id = ?, flags = 769, type = 'text', label = 'Asset tag', name = 'asset', sort = 1, created = NOW(), updated = NOW()",
    [form.insertId],
  );
  await h.exec(
    "INSERT INTO ost_help_topic_form SET topic_id = 1, form_id = ?, sort = 2, extra = '{\"disable\":[]}'",
    [form.insertId],
  );
});
afterAll(async () => {
  await h?.close();
});

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("the call succeeded");
}

const violations = (e: ConnectError) =>
  e
    .findDetails(ValidationErrorsSchema)[0]
    ?.violations.map((v) => ({ field: v.field, legacyKey: v.legacyKey }));

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
    const edited = await h.query(
      "SELECT te.data FROM ost_thread_event te JOIN ost_event e ON e.id = te.event_id WHERE e.name = 'edited' AND te.thread_id = ? ORDER BY te.id",
      [res.ticket?.threadId],
    );
    expect(edited).toHaveLength(2);
    expect(JSON.parse(String(edited[1]?.data)).fields).toBeDefined();
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
    const empty = await failure(h.client.updateTicket({ ticketId: id, patch: {} }, { headers: admin }));
    expect(violations(empty)).toEqual([{ field: "update_mask", legacyKey: "" }]);
    const unknownPath = await failure(
      h.client.updateTicket({ ticketId: id, updateMask: { paths: ["status_id"] } }, { headers: admin }),
    );
    expect(violations(unknownPath)).toEqual([{ field: "update_mask", legacyKey: "" }]);
    const bad = await failure(
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
    const past = await failure(
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
    const missing = await failure(
      h.client.updateTicket(
        { ticketId: 987654, updateMask: { paths: ["subject"] }, patch: { subject: "x" } },
        { headers: admin },
      ),
    );
    expect(missing.code).toBe(Code.NotFound);
    const endUser = await failure(
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
});
