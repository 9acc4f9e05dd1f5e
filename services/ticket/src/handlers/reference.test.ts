import { Code } from "@connectrpc/connect";
import { rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertUser, type TicketHarness, ticketHarness } from "../testing/harness.ts";

let h: TicketHarness;
let admin: Headers;
let endUser: Headers;

beforeAll(async () => {
  h = await ticketHarness("reference");
  admin = await h.agent();
  endUser = await h.endUser(await insertUser(h, { name: "Rita Reader", email: "rita@example.com" }));
});
afterAll(async () => {
  await h?.close();
});

describe("reference data", () => {
  it("lists departments by full name, public ones for end users, inactive ones for agents on request", async () => {
    await h.exec(
      "INSERT INTO ost_department SET pid = 1, name = 'Billing', signature = '', ispublic = 0, flags = 4, path = '/1/', created = NOW(), updated = NOW()",
    );
    const child = await h.query("SELECT id FROM ost_department WHERE name = 'Billing'");
    await h.exec("UPDATE ost_department SET path = ? WHERE name = 'Billing'", [`/1/${child[0]?.id}/`]);
    await h.exec(
      "INSERT INTO ost_department SET name = 'Old', signature = '', ispublic = 1, flags = 8, path = '/', created = NOW(), updated = NOW()",
    );
    const { departments } = await h.client.listDepartments({}, { headers: admin });
    expect(departments.map((d) => d.fullName)).toEqual([
      "Maintenance",
      "Sales",
      "Support",
      "Support / Billing",
    ]);
    expect(departments.find((d) => d.name === "Sales")).toMatchObject({
      slaId: 1,
      isActive: true,
      isPublic: true,
    });
    const forUsers = await h.client.listDepartments({}, { headers: endUser });
    expect(forUsers.departments.map((d) => d.name)).not.toContain("Billing");
    const withOld = await h.client.listDepartments({ includeInactive: true }, { headers: admin });
    expect(withOld.departments.map((d) => d.name)).toContain("Old");
    const denied = await rejectionOf(
      h.client.listDepartments({ includeInactive: true }, { headers: endUser }),
    );
    expect(denied.code).toBe(Code.PermissionDenied);
  });

  it("pages reference lists with tokens", async () => {
    const first = await h.client.listDepartments({ pageSize: 2 }, { headers: admin });
    expect(first.departments.map((d) => d.name)).toEqual(["Maintenance", "Sales"]);
    const second = await h.client.listDepartments(
      { pageSize: 2, pageToken: first.nextPageToken },
      { headers: admin },
    );
    expect(second.departments.map((d) => d.name)).toEqual(["Support", "Billing"]);
    expect(second.nextPageToken).toBe("");
    const wrong = await rejectionOf(
      h.client.listSlas({ pageToken: first.nextPageToken }, { headers: admin }),
    );
    expect(wrong.code).toBe(Code.InvalidArgument);
    expect(wrong.findDetails(ValidationErrorsSchema)[0]?.violations[0]?.field).toBe("page_token");
    const negative = await rejectionOf(h.client.listPriorities({ pageSize: -1 }, { headers: admin }));
    expect(negative.findDetails(ValidationErrorsSchema)[0]?.violations[0]?.field).toBe("page_size");
  });

  it("lists help topics with their defaults, alphabetically or in the admin's order", async () => {
    const { helpTopics } = await h.client.listHelpTopics({}, { headers: admin });
    expect(helpTopics.map((t) => t.fullName)).toEqual([
      "Feedback",
      "General Inquiry",
      "Report a Problem",
      "Report a Problem / Access Issue",
    ]);
    expect(helpTopics.find((t) => t.id === 11)).toMatchObject({ parentId: 10, slaId: 1, formIds: [2] });
    await h.setConfig("help_topic_sort_mode", "m");
    await h.exec("UPDATE ost_help_topic SET sort = 20 - CAST(topic_id AS SIGNED)");
    const manual = await h.client.listHelpTopics({}, { headers: admin });
    expect(manual.helpTopics.map((t) => t.id)).toEqual([11, 10, 2, 1]);
    await h.setConfig("help_topic_sort_mode", "a");
    await h.exec("UPDATE ost_help_topic SET ispublic = 0 WHERE topic_id = 2");
    const publicOnly = await h.client.listHelpTopics({ publicOnly: true }, { headers: admin });
    expect(publicOnly.helpTopics.map((t) => t.id)).not.toContain(2);
    const forUsers = await h.client.listHelpTopics({}, { headers: endUser });
    expect(forUsers.helpTopics.map((t) => t.id)).not.toContain(2);
    const anonymous = await h.client.listHelpTopics({});
    expect(anonymous.helpTopics.map((t) => t.id)).not.toContain(2);
    const denied = await rejectionOf(
      h.client.listHelpTopics({ includeInactive: true }, { headers: endUser }),
    );
    expect(denied.code).toBe(Code.PermissionDenied);
    await h.exec("UPDATE ost_help_topic SET ispublic = 1 WHERE topic_id = 2");
  });

  it("lists priorities most urgent first, statuses by state, and SLA plans", async () => {
    const { priorities } = await h.client.listPriorities({}, { headers: admin });
    expect(priorities.map((p) => [p.key, p.urgency, p.isDefault])).toEqual([
      ["emergency", 1, false],
      ["high", 2, false],
      ["normal", 3, true],
      ["low", 4, false],
    ]);
    const closed = await h.client.listStatuses({ states: [TicketState.CLOSED] }, { headers: admin });
    expect(closed.statuses.map((s) => [s.name, s.allowReopen])).toEqual([
      ["Resolved", true],
      ["Closed", true],
    ]);
    const all = await h.client.listStatuses({}, { headers: admin });
    expect(all.statuses.map((s) => s.id)).toEqual([1, 2, 3, 4, 5]);
    expect(all.statuses[0]).toMatchObject({ isDefault: true, isInternal: true, state: TicketState.OPEN });
    const { slas } = await h.client.listSlas({}, { headers: admin });
    expect(slas).toMatchObject([
      { id: 1, name: "Default SLA", gracePeriodHours: 18, isActive: true, isDefault: true },
    ]);
    // SLA plans are not for end users (access rule).
    expect((await rejectionOf(h.client.listSlas({}, { headers: endUser }))).code).toBe(Code.PermissionDenied);
  });

  it("returns a topic's forms: contact form, ticket form, then the topic's own, without disabled fields", async () => {
    const form = await h.exec(
      "INSERT INTO ost_form SET type = 'G', flags = 1, title = 'Device', name = '', created = NOW(), updated = NOW()",
    );
    await h.exec(
      "INSERT INTO ost_form_field (form_id, flags, type, label, name, configuration, sort, created, updated) VALUES" +
        " (?, 769, 'choices', 'Model', 'model', '{\"choices\":\"x1:Model X1\\\\ny2:Model Y2\"}', 1, NOW(), NOW())," +
        " (?, 12289, 'text', 'Serial (agents)', 'serial', NULL, 2, NOW(), NOW())," +
        " (?, 0, 'text', 'Disabled', 'off', NULL, 3, NOW(), NOW())",
      [form.insertId, form.insertId, form.insertId],
    );
    await h.exec(
      "INSERT INTO ost_help_topic_form SET topic_id = 10, form_id = ?, sort = 2, extra = '{\"disable\":[]}'",
      [form.insertId],
    );
    // The topic disables the ticket form's priority field.
    await h.exec(
      "UPDATE ost_help_topic_form SET extra = '{\"disable\":[22]}' WHERE topic_id = 10 AND form_id = 2",
    );
    const res = await h.client.getHelpTopicForm({ topicId: 10 }, { headers: admin });
    expect(res.helpTopic?.name).toBe("Report a Problem");
    expect(res.forms.map((f) => f.type)).toEqual(["U", "T", "G"]);
    expect(res.forms[1]?.fields.map((f) => f.name)).toEqual(["subject", "message"]);
    expect(res.forms[2]?.fields.map((f) => f.name)).toEqual(["model", "serial"]);
    expect(res.forms[2]?.fields[0]?.choices.map((c) => [c.key, c.label])).toEqual([
      ["x1", "Model X1"],
      ["y2", "Model Y2"],
    ]);
    // End users see only the fields they may see.
    const portal = await h.client.getHelpTopicForm({ topicId: 10 }, { headers: endUser });
    expect(portal.forms[2]?.fields.map((f) => f.name)).toEqual(["model"]);
    const noTopic = await h.client.getHelpTopicForm({ topicId: 0 }, { headers: admin });
    expect(noTopic.helpTopic).toBeUndefined();
    expect(noTopic.forms[1]?.fields.find((f) => f.name === "priority")?.choices.map((c) => c.key)).toEqual([
      "4",
      "3",
      "2",
      "1",
    ]);
    expect((await rejectionOf(h.client.getHelpTopicForm({ topicId: 999 }, { headers: admin }))).code).toBe(
      Code.NotFound,
    );
    await h.exec("UPDATE ost_help_topic SET ispublic = 0 WHERE topic_id = 1");
    expect((await rejectionOf(h.client.getHelpTopicForm({ topicId: 1 }))).code).toBe(Code.NotFound);
    expect((await h.client.getHelpTopicForm({ topicId: 1 }, { headers: admin })).helpTopic?.id).toBe(1);
  });
});
