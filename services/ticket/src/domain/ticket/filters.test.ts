import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TicketDeniedError } from "../errors.ts";
import { SYSTEM_ACTOR, type TicketDomainEvent } from "../ports.ts";
import { fixedClock, type Harness, openHarness, seededRandom } from "../testing/harness.ts";
import { type CreateTicketInput, createTicket } from "./create-ticket.ts";
import { ruleHolds } from "./filters.ts";

let h: Harness;

beforeAll(async () => {
  h = await openHarness("filters");
  await h.setConfig("verify_email_addrs", "0");
});
afterAll(async () => {
  await h?.close();
});

/** Only the stock SYSTEM BAN LIST (filter 1) survives from one case to the next. */
beforeEach(async () => {
  await h.tx(async (tx) => {
    await tx.run("DELETE FROM ost_filter_rule WHERE filter_id <> 1");
    await tx.run("DELETE FROM ost_filter_action WHERE filter_id <> 1");
    await tx.run("DELETE FROM ost_filter WHERE id <> 1");
  });
});

interface FilterSpec {
  name: string;
  rules: Array<[what: string, how: string, val: string, isactive?: number]>;
  actions: Array<[type: string, config: Record<string, unknown>]>;
  execorder?: number;
  isactive?: number;
  target?: string;
  emailId?: number;
  matchAll?: boolean;
  stop?: boolean;
}

async function addFilter(spec: FilterSpec): Promise<number> {
  return h.tx(async (tx) => {
    const { insertId } = await tx.run(
      "INSERT INTO ost_filter SET execorder = ?, isactive = ?, match_all_rules = ?, stop_onmatch = ?, target = ?," +
        " email_id = ?, name = ?, notes = '', created = NOW(), updated = NOW()",
      [
        spec.execorder ?? 99,
        spec.isactive ?? 1,
        spec.matchAll ? 1 : 0,
        spec.stop ? 1 : 0,
        spec.target ?? "Any",
        spec.emailId ?? 0,
        spec.name,
      ],
    );
    for (const [what, how, val, isactive = 1] of spec.rules)
      await tx.run(
        "INSERT INTO ost_filter_rule SET filter_id = ?, what = ?, how = ?, val = ?, isactive = ?, notes = '', created = NOW(), updated = NOW()",
        [insertId, what, how, val, isactive],
      );
    for (const [sort, [type, config]] of spec.actions.entries())
      await tx.run(
        "INSERT INTO ost_filter_action SET filter_id = ?, sort = ?, type = ?, configuration = ?, updated = NOW()",
        [insertId, sort + 1, type, JSON.stringify(config)],
      );
    return insertId;
  });
}

let serial = 0;
function input(extra: Partial<CreateTicketInput> = {}): CreateTicketInput {
  serial++;
  return {
    requester: { email: `filtered${serial}@example.com`, name: "Filtered User" },
    subject: "Server down in rack 4",
    message: "The mail server is down since 9:00.",
    source: "API",
    legacy: true,
    ...extra,
  };
}

function create(request: CreateTicketInput) {
  return h.tx((tx) =>
    createTicket(tx, request, SYSTEM_ACTOR, {
      clock: fixedClock("2026-11-26T07:21:27Z"),
      metadata: h.metadata(),
      random: seededRandom(serial),
    }),
  );
}

async function ticketRow(ticketId: number) {
  const [row] = await h.query(
    "SELECT t.dept_id, t.staff_id, t.team_id, t.sla_id, t.topic_id, t.status_id, c.priority" +
      " FROM ost_ticket t JOIN ost_ticket__cdata c ON c.ticket_id = t.ticket_id WHERE t.ticket_id = ?",
    [ticketId],
  );
  return row ?? {};
}

async function events(threadId: number) {
  return h.query(
    "SELECT e.name AS state, te.data, te.username, te.staff_id, te.team_id, te.dept_id, te.topic_id" +
      " FROM ost_thread_event te JOIN ost_event e ON e.id = te.event_id WHERE te.thread_id = ? ORDER BY te.id",
    [threadId],
  );
}

/** Creates a ticket and says whether a filter routing matches to department 2 (Sales) fired. */
async function routed(request: CreateTicketInput = input()): Promise<boolean> {
  const created = await create(request);
  return created.deptId === 2;
}

const toSales: FilterSpec["actions"] = [["dept", { dept_id: 2 }]];

describe("rule tests as Filter::matches runs them", () => {
  it("equal / not_equal compare case-insensitively (ASCII only)", () => {
    expect(ruleHolds("equal", "Server Down", "server down")).toBe(true);
    expect(ruleHolds("equal", "Server Down", "server down ")).toBe(false);
    expect(ruleHolds("equal", "É", "é")).toBe(false);
    expect(ruleHolds("not_equal", "abc", "ABC")).toBe(false);
    expect(ruleHolds("not_equal", "abc", "abd")).toBe(true);
    expect(ruleHolds("equal", "", "")).toBe(true);
  });

  it("contains / dn_contain / starts find an empty value at position 0 (PHP 8 stripos)", () => {
    expect(ruleHolds("contains", "Server DOWN now", "down")).toBe(true);
    expect(ruleHolds("contains", "Server", "down")).toBe(false);
    expect(ruleHolds("contains", "anything", "")).toBe(true);
    expect(ruleHolds("dn_contain", "anything", "")).toBe(false);
    expect(ruleHolds("dn_contain", "Server", "down")).toBe(true);
    expect(ruleHolds("starts", "Server down", "SERVER")).toBe(true);
    expect(ruleHolds("starts", "The server", "server")).toBe(false);
    expect(ruleHolds("starts", "x", "")).toBe(true);
  });

  it("ends counts the value in characters; an empty value always ends", () => {
    expect(ruleHolds("ends", "ticket from Zürich", "ZÜRICH")).toBe(false);
    expect(ruleHolds("ends", "ticket from Zürich", "zürich")).toBe(true);
    expect(ruleHolds("ends", "abc", "")).toBe(true);
    expect(ruleHolds("ends", "bc", "abc")).toBe(false);
    expect(ruleHolds("ends", "abc", "ABC")).toBe(true);
  });

  it("match / not_match use preg_match: an invalid pattern never matches and always not-matches", () => {
    expect(ruleHolds("match", "Buy Viagra", "/viagra/i")).toBe(true);
    expect(ruleHolds("match", "Buy Viagra", "/viagra/")).toBe(false);
    expect(ruleHolds("match", "viagra", "viagra")).toBe(false);
    expect(ruleHolds("not_match", "viagra", "viagra")).toBe(true);
    expect(ruleHolds("not_match", "Buy Viagra", "/viagra/i")).toBe(false);
    expect(ruleHolds("match", "", "/^$/")).toBe(true);
    expect(ruleHolds("bogus", "a", "a")).toBeUndefined();
  });
});

describe("which filters run", () => {
  it("matches the subject (a ticket form field), the body and the requester", async () => {
    await addFilter({ name: "subject", rules: [["field.20", "contains", "SERVER DOWN"]], actions: toSales });
    expect(await routed()).toBe(true);
    expect(await routed(input({ subject: "Printer" }))).toBe(false);
  });

  it("matches the body as given, the e-mail address and the name", async () => {
    await addFilter({ name: "body", rules: [["body", "match", "/mail server/i"]], actions: toSales });
    expect(await routed()).toBe(true);
    expect(await routed(input({ message: "nothing to see" }))).toBe(false);
    await addFilter({ name: "who", rules: [["email", "ends", "@vip.example"]], actions: toSales });
    expect(
      await routed(input({ message: "x", requester: { email: "boss@VIP.example", name: "Boss" } })),
    ).toBe(true);
  });

  it("match_all_rules needs every rule; otherwise any rule is enough; inactive rules count too", async () => {
    await addFilter({
      name: "all",
      matchAll: true,
      rules: [
        ["field.20", "contains", "server"],
        ["body", "contains", "printer"],
      ],
      actions: toSales,
    });
    expect(await routed()).toBe(false);
    expect(await routed(input({ message: "printer too" }))).toBe(true);
    await addFilter({
      name: "any",
      rules: [
        ["field.20", "equal", "nope"],
        ["body", "contains", "9:00", 0],
      ],
      actions: [["dept", { dept_id: 3 }]],
    });
    expect((await create(input({ subject: "Other" }))).deptId).toBe(3);
  });

  it("skips an inactive filter, another channel's filter and another mailbox's filter", async () => {
    await addFilter({ name: "off", isactive: 0, rules: [["body", "contains", ""]], actions: toSales });
    await addFilter({ name: "web", target: "Web", rules: [["body", "contains", ""]], actions: toSales });
    await addFilter({
      name: "mbox",
      target: "Email",
      emailId: 1,
      rules: [["body", "contains", ""]],
      actions: [["dept", { dept_id: 3 }]],
    });
    expect((await create(input())).deptId).toBe(1);
    await addFilter({ name: "api", target: "API", rules: [["body", "contains", ""]], actions: toSales });
    expect((await create(input())).deptId).toBe(2);
  });

  it("a mailbox filter runs for its own mailbox's e-mail only", async () => {
    await addFilter({
      name: "mbox",
      target: "Email",
      emailId: 1,
      rules: [["body", "contains", ""]],
      actions: [["pri", { priority: 4 }]],
    });
    await h.setConfig("accept_unregistered_email", "1");
    const mail = (emailId: number) =>
      input({ source: "Email", origin: "email", emailId, requester: { email: `m${serial}@example.com` } });
    const own = await create(mail(1));
    expect((await ticketRow(own.ticketId)).priority).toBe("4");
    await h.tx((tx) =>
      tx.run(
        "INSERT INTO ost_email SET email_id = 50, noautoresp = 0, priority_id = 2, dept_id = 1, topic_id = 0, email = 'other@example.org', name = 'Other', created = NOW(), updated = NOW()",
      ),
    );
    const other = await create(mail(50));
    expect((await ticketRow(other.ticketId)).priority).toBe("2");
  });

  it("runs in execorder, a later action overwriting an earlier one, until a filter stops on match", async () => {
    await addFilter({ name: "second", execorder: 2, rules: [["body", "contains", ""]], actions: toSales });
    await addFilter({
      name: "first",
      execorder: 1,
      rules: [["body", "contains", ""]],
      actions: [["dept", { dept_id: 3 }]],
    });
    expect((await create(input())).deptId).toBe(2);
    await addFilter({
      name: "stopper",
      execorder: 1,
      stop: true,
      rules: [["body", "contains", ""]],
      actions: [["sla", { sla_id: 1 }]],
    });
    const r = await create(input());
    expect(r.deptId).toBe(3);
    const edited = (await events(r.threadId)).filter((e) => e.state === "edited");
    expect(edited.map((e) => JSON.parse(String(e.data)).filter)).toEqual(["first", "stopper"]);
  });
});

describe("what the actions do to the ticket", () => {
  it("sets department, priority, SLA, help topic and status, with one edited event each", async () => {
    await addFilter({
      name: "route",
      rules: [["field.20", "starts", "server"]],
      actions: [
        ["dept", { dept_id: 2 }],
        ["pri", { priority: 4 }],
        ["sla", { sla_id: 1 }],
        ["topic", { topic_id: 10 }],
        ["status", { status_id: 1 }],
      ],
    });
    const r = await create(input());
    expect(await ticketRow(r.ticketId)).toMatchObject({
      dept_id: 2,
      sla_id: 1,
      topic_id: 10,
      status_id: 1,
      priority: "4",
    });
    const logged = await events(r.threadId);
    expect(logged.map((e) => e.state)).toEqual(["created", "edited", "edited", "edited", "edited", "edited"]);
    expect(logged.slice(1).map((e) => e.data)).toEqual([
      '{"value":"Sales","filter":"route","type":"Department"}',
      '{"value":"Emergency","filter":"route","type":"Priority"}',
      '{"value":"Default SLA","filter":"route","type":"SLA"}',
      '{"value":"Report a Problem","filter":"route","type":"Topic"}',
      // FA_SetStatus looks the status id up as a team (team 1).
      '{"value":"Level I Support","filter":"route","type":"Ticket Status"}',
    ]);
    expect(logged[1]).toMatchObject({ username: "Ticket Filter", dept_id: 2, topic_id: 10, staff_id: 0 });
  });

  it("assigns the agent and the team as auto-assignment by 'Ticket Filter'", async () => {
    await addFilter({
      name: "assign",
      rules: [["body", "contains", "mail"]],
      actions: [
        ["agent", { staff_id: 1 }],
        ["team", { team_id: 1 }],
      ],
    });
    const r = await create(input());
    expect(await ticketRow(r.ticketId)).toMatchObject({ staff_id: 1, team_id: 1 });
    const logged = await events(r.threadId);
    expect(logged.map((e) => [e.state, e.username, e.data])).toEqual([
      ["created", "SYSTEM", null],
      ["edited", "Ticket Filter", '{"value":"Admin User","filter":"assign","type":"Agent"}'],
      ["edited", "Ticket Filter", '{"value":"Level I Support","filter":"assign","type":"Team"}'],
      ["assigned", "Ticket Filter", '{"staff":1}'],
      ["assigned", "Ticket Filter", '{"team":1}'],
    ]);
  });

  it("leaves an assignee the agent picked in the staff panel alone (osTicket's assignId wins)", async () => {
    await addFilter({
      name: "assign",
      rules: [["body", "contains", "mail"]],
      actions: [
        ["agent", { staff_id: 1 }],
        ["team", { team_id: 1 }],
      ],
    });
    const pickedTeam = await h.tx(async (tx) => {
      const { insertId } = await tx.run(
        "INSERT INTO ost_team SET lead_id = 0, flags = 1, name = 'Picked team', created = NOW(), updated = NOW()",
      );
      return insertId;
    });
    const picked = await h.tx((tx) =>
      createTicket(
        tx,
        input({ legacy: false, origin: "staff", source: "Phone", topicId: 1, teamId: pickedTeam }),
        { kind: "staff", staffId: 1 },
        { clock: fixedClock("2026-11-26T07:21:27Z"), metadata: h.metadata(), random: seededRandom(serial) },
      ),
    );
    expect(await ticketRow(picked.ticketId)).toMatchObject({ staff_id: 0, team_id: pickedTeam });
    // The filter still matched: its edited events are logged.
    const logged = await events(picked.threadId);
    expect(logged.filter((e) => e.state === "edited").map((e) => e.data)).toEqual([
      '{"value":"Admin User","filter":"assign","type":"Agent"}',
      '{"value":"Level I Support","filter":"assign","type":"Team"}',
    ]);
    // Through the API, where there is no picking, the filter assigns.
    const api = await create(input());
    expect(await ticketRow(api.ticketId)).toMatchObject({ staff_id: 1, team_id: 1 });
  });

  it("ignores an inactive department or topic but still logs the event; an unknown one is false", async () => {
    await h.tx((tx) => tx.run("UPDATE ost_department SET flags = 0 WHERE id = 3"));
    try {
      await addFilter({
        name: "stale",
        rules: [["body", "contains", ""]],
        actions: [
          ["dept", { dept_id: 3 }],
          ["sla", { sla_id: 99 }],
        ],
      });
      const r = await create(input());
      // Ticket::selectSLAId drops an SLA plan that does not exist.
      expect(await ticketRow(r.ticketId)).toMatchObject({ dept_id: 1, sla_id: 0 });
      expect((await events(r.threadId)).slice(1).map((e) => e.data)).toEqual([
        '{"value":"Maintenance","filter":"stale","type":"Department"}',
        '{"value":false,"filter":"stale","type":"SLA"}',
      ]);
    } finally {
      await h.tx((tx) => tx.run("UPDATE ost_department SET flags = 4 WHERE id = 3"));
    }
  });

  it("noresp turns the auto-response off", async () => {
    await addFilter({ name: "quiet", rules: [["body", "contains", ""]], actions: [["noresp", {}]] });
    const emitted: unknown[] = [];
    await h.tx((tx) =>
      createTicket(tx, input(), SYSTEM_ACTOR, {
        clock: fixedClock("2026-11-26T07:21:27Z"),
        metadata: h.metadata(),
        random: seededRandom(serial),
        emit: async (event) => {
          emitted.push(event);
        },
      }),
    );
    expect(emitted).toContainEqual(expect.objectContaining({ type: "ticket.created", autorespond: false }));
  });

  it("reject refuses the ticket before anything is written, naming the filter", async () => {
    const id = await addFilter({
      name: "spam",
      rules: [["body", "match", "/viagra/i"]],
      actions: [
        ["dept", { dept_id: 2 }],
        ["reject", {}],
      ],
    });
    const before = await h.counts();
    const refused = await create(input({ message: "cheap VIAGRA" })).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TicketDeniedError);
    expect(refused).toMatchObject({ errno: 403, filter: { id, name: "spam" } });
    expect((refused as TicketDeniedError).email).toMatch(/^filtered\d+@example\.com$/);
    expect(await h.counts()).toEqual(before);
  });

  it("the ban list still refuses first, as the ban list", async () => {
    await addFilter({ name: "spam", rules: [["body", "contains", ""]], actions: [["reject", {}]] });
    const refused = await create(input({ requester: { email: "test@example.com", name: "T" } })).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(TicketDeniedError);
    expect((refused as TicketDeniedError).filter).toBeUndefined();
  });
});

describe("stored user and organization data, the priority field and e-mail metadata", () => {
  it("a known user's stored contact-form answers as field.<id> (the phone as PhoneField shows it)", async () => {
    await addFilter({ name: "phone", rules: [["field.3", "equal", "(555) 123-4567"]], actions: toSales });
    const requester = { email: `phone${serial}@example.com`, name: "Phone User", phone: "555.123.4567" };
    // A requester who is no user yet is matched on the contact form as sent, formatted the same way.
    expect(await routed(input({ requester }))).toBe(true);
    // Once stored, the user's answer is what the filters see, whatever the request says.
    expect(await routed(input({ requester: { email: requester.email } }))).toBe(true);
    expect(await routed(input({ requester: { email: requester.email, phone: "1" } }))).toBe(true);
    expect(await routed(input({ requester: { email: `other${serial}@example.com`, name: "O" } }))).toBe(
      false,
    );
  });

  it("the user's organization: its name as the organization form's name field, and its stored answers", async () => {
    const user = await create(input());
    await h.tx(async (tx) => {
      await tx.run("UPDATE ost_user SET org_id = 1 WHERE id = ?", [user.userId]);
      const { insertId } = await tx.run(
        "INSERT INTO ost_form_entry SET form_id = 4, object_id = 1, object_type = 'O', sort = 1, created = NOW(), updated = NOW()",
      );
      await tx.run(
        "INSERT INTO ost_form_entry_values SET entry_id = ?, field_id = 30, value = 'https://osticket.com'",
        [insertId],
      );
    });
    const again = (): CreateTicketInput => input({ requester: { userId: user.userId } });
    await addFilter({ name: "org name", rules: [["field.27", "equal", "osticket"]], actions: toSales });
    expect(await routed(again())).toBe(true);
    await h.tx((tx) => tx.run("DELETE FROM ost_filter WHERE name = 'org name'"));
    await addFilter({
      name: "org site",
      rules: [["field.30", "contains", "osticket.com"]],
      actions: toSales,
    });
    expect(await routed(again())).toBe(true);
    expect(await routed(input())).toBe(false);
  });

  it("a stored list answer's items: their properties as field.<id>.<property id>, their abbreviation as .abb", async () => {
    const ids = await h.tx(async (tx) => {
      const { insertId: listId } = await tx.run(
        "INSERT INTO ost_list (name, name_plural, sort_mode, masks, type, configuration, notes, created, updated)" +
          " VALUES ('Region', 'Regions', 'SortCol', 0, NULL, '{}', '', NOW(), NOW())",
      );
      const { insertId: formId } = await tx.run(
        "INSERT INTO ost_form (type, flags, title, created, updated) VALUES (?, 0, 'Region Properties', NOW(), NOW())",
        [`L${listId}`],
      );
      const field = async (form: number, type: string, name: string, sort: number, configuration = "{}") =>
        (
          await tx.run(
            "INSERT INTO ost_form_field (form_id, flags, type, label, name, configuration, sort, created, updated)" +
              " VALUES (?, 1, ?, ?, ?, ?, ?, NOW(), NOW())",
            [form, type, name, name, configuration, sort],
          )
        ).insertId;
      const manager = await field(formId, "text", "manager", 1);
      const tier = await field(formId, "choices", "tier", 2, JSON.stringify({ choices: "g:Gold\ns:Silver" }));
      const item = async (value: string, extra: string | null, properties: object | null) =>
        (
          await tx.run(
            "INSERT INTO ost_list_items (list_id, status, value, extra, sort, properties) VALUES (?, 1, ?, ?, 1, ?)",
            [listId, value, extra, properties ? JSON.stringify(properties) : null],
          )
        ).insertId;
      const europe = await item("Europe", "EU", { [manager]: "Ann", [tier]: { g: "Gold" } });
      const asia = await item("Asia", "AS", { [manager]: "Bo" });
      const region = await field(1, `list-${listId}`, "region", 20);
      return { formId, manager, tier, europe, asia, region };
    });
    try {
      const user = await create(input());
      await h.tx(async (tx) => {
        const entry = await tx.first(
          "SELECT id FROM ost_form_entry WHERE object_type = 'U' AND object_id = ?",
          [user.userId],
        );
        await tx.run(
          "INSERT INTO ost_form_entry_values (entry_id, field_id, value) VALUES (?, ?, ?)" +
            " ON DUPLICATE KEY UPDATE value = VALUES(value)",
          // Asia first: the answer's order counts, not the ids' (a JS object would reorder integer keys).
          [Number(entry?.id), ids.region, `{"${ids.asia}":"Asia","${ids.europe}":"Europe"}`],
        );
      });
      const again = (): CreateTicketInput => input({ requester: { userId: user.userId } });
      const routedBy = async (what: string, value: string) => {
        await addFilter({ name: what, rules: [[what, "equal", value]], actions: toSales });
        try {
          return await routed(again());
        } finally {
          await h.tx((tx) => tx.run("DELETE FROM ost_filter WHERE name = ?", [what]));
        }
      };
      const field = `field.${ids.region}`;
      expect(await routedBy(field, "Asia, Europe")).toBe(true);
      // Each item's value in the answer's order, joined by a space (an unset property is empty).
      expect(await routedBy(`${field}.${ids.manager}`, "Bo Ann")).toBe(true);
      expect(await routedBy(`${field}.abb`, "AS EU")).toBe(true);
      // " Gold", trimmed as every filter value is.
      expect(await routedBy(`${field}.${ids.tier}`, "Gold")).toBe(true);
      expect(await routedBy(`${field}.${ids.manager}`, "Ann Bo")).toBe(false);
      // Another requester has no such answer.
      await addFilter({ name: "abb", rules: [[`${field}.abb`, "equal", "AS EU"]], actions: toSales });
      expect(await routed(input())).toBe(false);
    } finally {
      await h.tx((tx) => tx.run("DELETE FROM ost_form_field WHERE id = ?", [ids.region]));
    }
  });

  it("the request's own list answers: the item's value, its properties and abbreviation as sub-fields", async () => {
    const ids = await h.tx(async (tx) => {
      const { insertId: listId } = await tx.run(
        "INSERT INTO ost_list (name, name_plural, sort_mode, masks, type, configuration, notes, created, updated)" +
          " VALUES ('Site', 'Sites', 'SortCol', 0, NULL, '{}', '', NOW(), NOW())",
      );
      const { insertId: formId } = await tx.run(
        "INSERT INTO ost_form (type, flags, title, created, updated) VALUES (?, 0, 'Site Properties', NOW(), NOW())",
        [`L${listId}`],
      );
      const ticketForm = await tx.first("SELECT id FROM ost_form WHERE type = 'T' ORDER BY id LIMIT 1");
      const contactForm = await tx.first("SELECT id FROM ost_form WHERE type = 'U' ORDER BY id LIMIT 1");
      const field = async (form: number, type: string, name: string, sort: number) =>
        (
          await tx.run(
            "INSERT INTO ost_form_field (form_id, flags, type, label, name, configuration, sort, created, updated)" +
              " VALUES (?, 0x3301, ?, ?, ?, '{}', ?, NOW(), NOW())",
            [form, type, name, name, sort],
          )
        ).insertId;
      const manager = await field(formId, "text", "manager", 1);
      const { insertId: berlin } = await tx.run(
        "INSERT INTO ost_list_items (list_id, status, value, extra, sort, properties) VALUES (?, 1, 'Berlin', 'BER', 1, ?)",
        [listId, JSON.stringify({ [manager]: "Ann" })],
      );
      const site = await field(Number(ticketForm?.id), `list-${listId}`, "site", 30);
      const home = await field(Number(contactForm?.id), `list-${listId}`, "home", 30);
      return { manager, berlin, site, home };
    });
    const routedBy = async (what: string, value: string, answers: Record<string, string>) => {
      await addFilter({ name: what, rules: [[what, "equal", value]], actions: toSales });
      try {
        return await routed(input({ answers }));
      } finally {
        await h.tx((tx) => tx.run("DELETE FROM ost_filter WHERE name = ?", [what]));
      }
    };
    try {
      const site = `field.${ids.site}`;
      // The API's ticket form: Ticket::create's parse finds the item by abbreviation (or id) first.
      expect(await routedBy(site, "Berlin", { site: "BER" })).toBe(true);
      expect(await routedBy(site, "BER", { site: "BER" })).toBe(false);
      expect(await routedBy(site, "Berlin", { site: String(ids.berlin) })).toBe(true);
      expect(await routedBy(`${site}.${ids.manager}`, "Ann", { site: "BER" })).toBe(true);
      expect(await routedBy(`${site}.abb`, "BER", { site: "berlin" })).toBe(true);
      // A text naming no item is no answer.
      expect(await routedBy(site, "Nowhere", { site: "Nowhere" })).toBe(false);
      // A new requester's contact form: the item's value.
      expect(await routedBy(`field.${ids.home}`, "Berlin", { home: "BER" })).toBe(true);
    } finally {
      await h.tx((tx) => tx.run("DELETE FROM ost_form_field WHERE id IN (?, ?)", [ids.site, ids.home]));
    }
  });

  it("a new requester: the organization whose domain matches the address", async () => {
    await h.tx((tx) => tx.run("UPDATE ost_organization SET domain = 'org-domain.example' WHERE id = 1"));
    try {
      await addFilter({ name: "org", rules: [["field.27", "equal", "osTicket"]], actions: toSales });
      expect(await routed(input({ requester: { email: `n${serial}@org-domain.example`, name: "N" } }))).toBe(
        true,
      );
      expect(await routed(input())).toBe(false);
    } finally {
      await h.tx((tx) => tx.run("UPDATE ost_organization SET domain = '' WHERE id = 1"));
    }
  });

  it("the ticket form's priority field as the priority's name; an unknown id as nothing", async () => {
    await addFilter({
      name: "high",
      rules: [["field.22", "equal", "High"]],
      actions: [["dept", { dept_id: 2 }]],
    });
    await addFilter({
      name: "none",
      rules: [["field.22", "equal", ""]],
      actions: [["dept", { dept_id: 3 }]],
    });
    expect((await create(input({ priority: 3 }))).deptId).toBe(2);
    expect((await create(input({ priority: "3" }))).deptId).toBe(2);
    expect((await create(input({ priority: 99 }))).deptId).toBe(3);
    expect((await create(input({ priority: 2 }))).deptId).toBe(1);
  });

  it("replyto: the ticket is the Reply-To's; earlier actions stay, and the filters run again on it", async () => {
    const known = await create(
      input({ requester: { email: `known${serial}@example.com`, name: "Known One" } }),
    );
    await addFilter({
      name: "relay",
      execorder: 1,
      rules: [["email", "starts", "relay"]],
      actions: [
        ["sla", { sla_id: 1 }],
        ["replyto", {}],
        ["pri", { priority: 4 }],
      ],
    });
    await addFilter({
      name: "known",
      execorder: 2,
      rules: [["name", "equal", "Known One"]],
      actions: toSales,
    });
    const mail = (replyTo: { email: string; name?: string }) =>
      input({
        source: "Email",
        origin: "email",
        emailId: 1,
        requester: { email: `relay${serial}@example.com`, name: "Relay" },
        replyTo,
      });
    await h.setConfig("accept_unregistered_email", "1");
    const r = await create(mail({ email: `KNOWN${serial - 1}@example.com`, name: "Someone Else" }));
    expect(r.userId).toBe(known.userId);
    // The SLA set before the replyto stays; the priority after it never ran; the re-run matched the name.
    expect(await ticketRow(r.ticketId)).toMatchObject({ sla_id: 1, dept_id: 2, priority: "2" });
    // A new Reply-To address without a name is created with the name the filters saw.
    const fresh = await create(mail({ email: `fresh${serial}@example.com` }));
    const [owner] = await h.query("SELECT name FROM ost_user WHERE id = ?", [fresh.userId]);
    expect(owner).toEqual({ name: "Relay" });
    expect(fresh.userCreated).toBe(true);
  });

  it("reply-to, reply-to-name and addressee are what the create input says", async () => {
    await addFilter({
      name: "meta",
      matchAll: true,
      rules: [
        ["reply-to", "equal", "a@b.example"],
        ["reply-to-name", "equal", "A B"],
        ["addressee", "equal", " x@y.example Zed z@y.example"],
      ],
      actions: toSales,
    });
    const meta = {
      replyTo: { email: " a@b.example ", name: "A B" },
      recipients: [
        { name: "", email: "x@y.example" },
        { name: "Zed", email: "z@y.example" },
      ],
    };
    expect(await routed(input(meta))).toBe(true);
    expect(await routed(input({ ...meta, recipients: [] }))).toBe(false);
  });
});

describe("the canned and email actions (Ticket::postCannedReply, FA_SendEmail)", () => {
  const clock = fixedClock("2026-11-26T07:21:27Z");

  async function createEmitting(request: CreateTicketInput) {
    const emitted: TicketDomainEvent[] = [];
    const created = await h.tx((tx) =>
      createTicket(tx, request, SYSTEM_ACTOR, {
        clock,
        metadata: h.metadata(),
        random: seededRandom(serial),
        emit: async (event) => {
          emitted.push(event);
        },
      }),
    );
    return { created, emitted };
  }

  async function cannedResponse(response: string, enabled = 1): Promise<number> {
    return h.tx(async (tx) => {
      const { insertId } = await tx.run(
        "INSERT INTO ost_canned_response (dept_id, isenabled, title, response, created, updated)" +
          " VALUES (2, ?, ?, ?, NOW(), NOW())",
        [enabled, `canned ${serial}-${Math.random()}`, response],
      );
      return insertId;
    });
  }

  async function cannedFile(cannedId: number, fileName: string, attachmentName: string | null) {
    return h.tx(async (tx) => {
      const { insertId } = await tx.run(
        "INSERT INTO ost_file (ft, bk, type, size, `key`, signature, name, created)" +
          " VALUES ('T', 'D', 'text/plain', 5, ?, ?, ?, NOW())",
        [`key${serial}${fileName}`, `sig${serial}${fileName}`, fileName],
      );
      await tx.run(
        "INSERT INTO ost_attachment (object_id, type, file_id, name, inline) VALUES (?, 'C', ?, ?, 0)",
        [cannedId, insertId, attachmentName],
      );
      return insertId;
    });
  }

  async function responses(threadId: number) {
    return h.query(
      "SELECT id, pid, staff_id, user_id, type, flags, poster, source, title, body, format, ip_address, recipients" +
        " FROM ost_thread_entry WHERE thread_id = ? AND type = 'R' ORDER BY id",
      [threadId],
    );
  }

  it("posts the canned response, variables filled in, as SYSTEM (Canned Reply)'s response with its files", async () => {
    // osTicket's stock sample canned response (canned_id 2 of a fresh install).
    await addFilter({
      name: "canned",
      rules: [["body", "contains", ""]],
      actions: [["canned", { canned_id: 2 }]],
    });
    const readme = await cannedFile(2, "readme.txt", null);
    const renamed = await cannedFile(2, "terms.txt", "Terms of service.txt");
    const sameName = await cannedFile(2, "Guide.txt", "guide.TXT");
    const { created, emitted } = await createEmitting(input({ ipAddress: "10.0.0.7" }));

    const [reply, ...more] = await responses(created.threadId);
    expect(more).toEqual([]);
    expect(reply).toMatchObject({
      pid: created.messageEntryId,
      staff_id: 0,
      user_id: 0,
      poster: "SYSTEM (Canned Reply)",
      source: "",
      title: null,
      format: "html",
      // BALANCED (html) | SYSTEM (no author); no recipients (postReply is given no reply-to).
      flags: 0x40 | 0x80,
      recipients: null,
      ip_address: "10.0.0.7",
      // The sanitised HTML (HtmlThreadEntryBody::getClean) of the filled-in canned response.
      body: `Hi Filtered, <br /> <br /> Your ticket #${created.number} created on 11/26/26 7:21 AM is in Support department.`,
    });
    const files = await h.query(
      "SELECT file_id, name, inline FROM ost_attachment WHERE type = 'H' AND object_id = ? ORDER BY file_id",
      [Number(reply?.id)],
    );
    expect(files).toEqual([
      { file_id: readme, name: null, inline: 0 },
      { file_id: renamed, name: "Terms of service.txt", inline: 0 },
      { file_id: sameName, name: null, inline: 0 },
    ]);
    const [ticket] = await h.query(
      "SELECT t.isanswered, th.lastresponse IS NOT NULL AS responded FROM ost_ticket t" +
        " JOIN ost_thread th ON th.object_id = t.ticket_id AND th.object_type = 'T' WHERE t.ticket_id = ?",
      [created.ticketId],
    );
    // Answered by onResponse, then marked unanswered again.
    expect(ticket).toEqual({ isanswered: 0, responded: 1 });

    // The canned reply replaces the new-ticket auto-response; its entry's event e-mails nobody as a reply.
    expect(emitted.map((e) => e.type)).toEqual(["ticket.created", "ticket.response.posted"]);
    expect(emitted[0]).toMatchObject({
      autorespond: false,
      cannedReplyEntryId: reply?.id,
      cannedReplyAutorespond: true,
    });
    expect(emitted[1]).toMatchObject({ entryId: reply?.id, staffId: 0, notify: false });
  });

  it("a disabled or unknown canned response posts nothing and leaves the auto-response", async () => {
    const disabled = await cannedResponse("Never sent", 0);
    await addFilter({
      name: "disabled canned",
      rules: [["body", "contains", ""]],
      actions: [["canned", { canned_id: disabled }]],
    });
    const { created, emitted } = await createEmitting(input());
    expect(await responses(created.threadId)).toEqual([]);
    expect(emitted.map((e) => e.type)).toEqual(["ticket.created"]);
    expect(emitted[0]).toMatchObject({ autorespond: true });
    expect(emitted[0]).not.toHaveProperty("cannedReplyEntryId");
  });

  it("the last canned action wins; with noresp or autorespond off the reply is posted but not e-mailed", async () => {
    const first = await cannedResponse("<p>first</p>");
    const second = await cannedResponse("<p>second, %{ticket.unknown}%{other.thing} for %{ticket.email}</p>");
    await addFilter({
      name: "two canned",
      rules: [["body", "contains", ""]],
      actions: [
        ["canned", { canned_id: first }],
        ["noresp", {}],
        ["canned", { canned_id: second }],
      ],
    });
    const request = input();
    const { created, emitted } = await createEmitting(request);
    const [reply] = await responses(created.threadId);
    expect(reply?.body).toBe(`<p>second, %{other.thing} for ${request.requester.email}</p>`);
    expect(emitted[0]).toMatchObject({ autorespond: false, cannedReplyAutorespond: false });

    await h.tx((tx) => tx.run("DELETE FROM ost_filter_action WHERE type = 'noresp'"));
    const off = await createEmitting(input({ autorespond: false }));
    expect(await responses(off.created.threadId)).toHaveLength(1);
    expect(off.emitted[0]).toMatchObject({ autorespond: false, cannedReplyAutorespond: false });
  });

  it("with rich text off the canned response is posted as text", async () => {
    await h.setConfig("enable_richtext", "0");
    try {
      const long = "word ".repeat(20).trim();
      const canned = await cannedResponse(
        `<p>Line one<br>Line &amp; two</p><p>Ticket %{ticket}</p><div>${long}</div>`,
      );
      await addFilter({
        name: "text canned",
        rules: [["body", "contains", ""]],
        actions: [["canned", { canned_id: canned }]],
      });
      const { created } = await createEmitting(input());
      const [reply] = await responses(created.threadId);
      expect(reply).toMatchObject({
        format: "text",
        flags: 0x80,
        // Format::html2text's simple conversion, wrapped at 90 bytes; stored escaped as any text body.
        body: `Line one\nLine &amp; two\n\nTicket ${created.number}\n\n${"word ".repeat(18).trim()}\nword word`,
      });
    } finally {
      await h.setConfig("enable_richtext", "1");
    }
  });

  it("email: each applied filter's Send an Email action rides on ticket.created, %{user} as the requester", async () => {
    await addFilter({
      name: "notify sales",
      execorder: 1,
      rules: [["field.20", "contains", "rack"]],
      actions: [
        [
          "email",
          {
            recipients: "sales@example.com, %{user}",
            subject: "New: %{ticket.subject}",
            message: "<p>%{recipient.name} opened %{ticket.number}</p>",
            from: 1,
          },
        ],
        ["email", { recipients: "ops@example.com", subject: "s", message: "m" }],
      ],
    });
    // Matched after the first one stops: never runs.
    await addFilter({
      name: "after stop",
      execorder: 3,
      rules: [["body", "contains", ""]],
      actions: [["email", { recipients: "late@example.com", subject: "s", message: "m" }]],
    });
    await addFilter({
      name: "stopper",
      execorder: 2,
      stop: true,
      rules: [["body", "contains", ""]],
      actions: [],
    });
    await addFilter({
      name: "not matching",
      execorder: 1,
      rules: [["subject", "contains", "printer"]],
      actions: [["email", { recipients: "nobody@example.com", subject: "s", message: "m" }]],
    });
    const request = input();
    const { emitted } = await createEmitting(request);
    expect(emitted[0]).toMatchObject({
      type: "ticket.created",
      filterEmails: [
        {
          filterName: "notify sales",
          recipients: `sales@example.com, "Filtered User" <${request.requester.email}>`,
          subject: "New: %{ticket.subject}",
          message: "<p>%{recipient.name} opened %{ticket.number}</p>",
          fromEmailId: 1,
        },
        { filterName: "notify sales", recipients: "ops@example.com", fromEmailId: 0 },
      ],
    });
  });
});
