import { type EntityManager, execute } from "@ostmesh/db";
import type { Event } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "../testing/env.ts";
import {
  type MailPipeline,
  mailsOf,
  setCoreConfig,
  startMailPipeline,
  replayedTicketEvent as ticketEvent,
} from "../testing/mail.ts";
import { replayApiCreateTicket } from "../testing/osticket-php.ts";
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from "../testing/smtp.ts";

describe("assignment and transfer alerts (osTicket's assigned.alert and transfer.alert)", () => {
  let env: TestEnv;
  let smtp: TestSmtpServer;
  let mail: MailPipeline;
  let em: EntityManager;
  let noteId = 0;

  const setConfig = (values: Record<string, string>) => setCoreConfig(em, values);
  const alertsOf = (event: Event, expected: number) => mailsOf(env, smtp, event, expected);
  const recipients = (mails: ReceivedMail[]) => mails.flatMap((m) => m.rcptTo).sort();

  beforeAll(async () => {
    env = await createTestEnv("alerts");
    em = env.orm.em.fork();
    smtp = await startSmtpServer();
    await replayApiCreateTicket(em);
    // Support: Jane (2), Vic (4, on vacation), Tina (5, the team's lead); Sales: Sam (3).
    await execute(
      em,
      "INSERT INTO ost_staff (staff_id, dept_id, role_id, username, firstname, lastname, passwd, email, isactive," +
        " isadmin, onvacation, created, updated) VALUES (2, 1, 1, 'agent2', 'Jane', 'Agent', '', 'jane@example.org', 1, 0, 0, NOW(), NOW())," +
        " (3, 2, 1, 'agent3', 'Sam', 'Sales', '', 'sam@example.org', 1, 0, 0, NOW(), NOW())," +
        " (4, 1, 1, 'agent4', 'Vic', 'Vacation', '', 'vic@example.org', 1, 0, 1, NOW(), NOW())," +
        " (5, 1, 1, 'agent5', 'Tina', 'Lead', '', 'tina@example.org', 1, 0, 0, NOW(), NOW())",
    );
    // Team 1: Jane and Vic with alerts, Sam without.
    await execute(
      em,
      "INSERT INTO ost_team_member (team_id, staff_id, flags) VALUES (1, 2, 1), (1, 4, 1), (1, 3, 0)",
    );
    await execute(em, "UPDATE ost_team SET lead_id = 5 WHERE team_id = 1");
    const note = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), type = 'N', thread_id = 25, format = 'html', staff_id = 1," +
        " poster = 'Admin User', title = 'Ticket Assigned', flags = 64, pid = 0, body = '<p>Please call the customer</p>'",
    );
    noteId = note.insertId;
    mail = await startMailPipeline(env, smtp, "alerts");
  });
  afterAll(async () => {
    await mail?.stop();
    await smtp?.close();
    await env?.close();
  });
  beforeEach(async () => {
    // The fresh install's switches: assigned alerts to the agent only; transfer alerts to the manager only.
    await setConfig({
      assigned_alert_active: "1",
      assigned_alert_staff: "1",
      assigned_alert_team_lead: "",
      assigned_alert_team_members: "",
      transfer_alert_active: "",
      transfer_alert_assigned: "",
      transfer_alert_dept_manager: "1",
      transfer_alert_dept_members: "",
    });
    await execute(em, "UPDATE ost_department SET manager_id = 0, group_membership = 1 WHERE id IN (1, 2)");
    await execute(em, "UPDATE ost_ticket SET staff_id = 0, team_id = 0, dept_id = 1 WHERE ticket_id = 25");
  });

  it("alerts the agent a ticket was assigned to, with the assigner and the comment; never a claim or a release", async () => {
    await execute(em, "UPDATE ost_ticket SET staff_id = 2 WHERE ticket_id = 25");
    const assigned = ticketEvent(
      { case: "ticketAssigned", value: { staff: { id: 2, name: "Jane Agent" }, noteEntryId: noteId } },
      1,
    );
    const [mail, ...more] = await alertsOf(assigned, 1);
    expect(more).toEqual([]);
    expect(mail?.rcptTo).toEqual(["jane@example.org"]);
    expect(mail?.parsed.subject).toBe("Ticket Assigned to you");
    expect(mail?.parsed.html).toContain("Hi Jane,");
    expect(mail?.parsed.html).toContain("#771291</a> has been assigned to you by Admin U.");
    expect(mail?.parsed.html).toContain("Trace User &lt;trace.user@example.net&gt;");
    expect(mail?.parsed.html).toContain("<p>Please call the customer</p>");
    expect(mail?.parsed.html).toContain('href="http://127.0.0.1/scp/tickets.php?id=25"');

    // An API key assigns: the assigner is osTicket's SYSTEM.
    const byKey = ticketEvent({ case: "ticketAssigned", value: { staff: { id: 2 } } }, 0);
    const [system] = await alertsOf(byKey, 1);
    expect(system?.parsed.html).toContain("has been assigned to you by SYSTEM (Auto Assignment)");

    // Jane claims it herself: nobody to alert. A release alerts nobody either.
    const claim = ticketEvent({ case: "ticketAssigned", value: { staff: { id: 2 }, claim: true } }, 2);
    expect(await alertsOf(claim, 0)).toEqual([]);
    const released = ticketEvent(
      { case: "ticketAssigned", value: { previousStaff: { id: 2 }, released: true } },
      1,
    );
    expect(await alertsOf(released, 0)).toEqual([]);

    // The switches: the agent's own, then the whole alert.
    await setConfig({ assigned_alert_staff: "" });
    expect(
      await alertsOf(ticketEvent({ case: "ticketAssigned", value: { staff: { id: 2 } } }, 1), 0),
    ).toEqual([]);
    await setConfig({ assigned_alert_staff: "1", assigned_alert_active: "" });
    expect(
      await alertsOf(ticketEvent({ case: "ticketAssigned", value: { staff: { id: 2 } } }, 1), 0),
    ).toEqual([]);
  });

  it("alerts a team's members with alerts on, else its lead, the assigning agent included", async () => {
    await execute(em, "UPDATE ost_ticket SET team_id = 1 WHERE ticket_id = 25");
    const toTeam = () =>
      ticketEvent({ case: "ticketAssigned", value: { team: { id: 1, name: "Level I Support" } } }, 1);
    // Neither team switch: nobody.
    expect(await alertsOf(toTeam(), 0)).toEqual([]);
    // Members: Jane (Vic is on vacation, Sam has the team's alerts off).
    await setConfig({ assigned_alert_team_members: "1", assigned_alert_team_lead: "1" });
    const members = await alertsOf(toTeam(), 1);
    expect(recipients(members)).toEqual(["jane@example.org"]);
    expect(members[0]?.parsed.subject).toBe("Ticket Assigned to you");
    // Without the members switch, the lead.
    await setConfig({ assigned_alert_team_members: "" });
    expect(recipients(await alertsOf(toTeam(), 1))).toEqual(["tina@example.org"]);
    // The lead assigns the ticket to her own team: Ticket::onAssign leaves no one out, so she is alerted too.
    const byLead = ticketEvent({ case: "ticketAssigned", value: { team: { id: 1 } } }, 5);
    expect(recipients(await alertsOf(byLead, 1))).toEqual(["tina@example.org"]);
    // A team with alerts off alerts nobody.
    await execute(em, "UPDATE ost_team SET flags = flags | 2 WHERE team_id = 1");
    expect(await alertsOf(toTeam(), 0)).toEqual([]);
    await execute(em, "UPDATE ost_team SET flags = flags & ~2 WHERE team_id = 1");
  });

  it("alerts the new department's manager, its members (unassigned) or the assignee (assigned) about a transfer", async () => {
    await execute(em, "UPDATE ost_ticket SET dept_id = 2 WHERE ticket_id = 25");
    await execute(em, "UPDATE ost_department SET manager_id = 2 WHERE id = 2");
    const transfer = (agentId: number) =>
      ticketEvent(
        {
          case: "ticketTransferred",
          value: {
            previous: { id: 1, name: "Support" },
            current: { id: 2, name: "Sales" },
            noteEntryId: noteId,
          },
        },
        agentId,
      );
    // Off by default (transfer_alert_active is empty in a fresh install).
    expect(await alertsOf(transfer(1), 0)).toEqual([]);

    await setConfig({ transfer_alert_active: "1", transfer_alert_dept_members: "1" });
    const mails = await alertsOf(transfer(1), 3);
    // Sales' members Sam and the admin (extended access with alerts; he made the change, and Ticket::transfer
    // leaves no one out) and its manager Jane.
    expect(recipients(mails)).toEqual(["admin@example.org", "jane@example.org", "sam@example.org"]);
    const sam = mails.find((m) => m.rcptTo.includes("sam@example.org"));
    expect(sam?.parsed.subject).toBe("Ticket #771291 transfer - Sales");
    expect(sam?.parsed.html).toContain("Hi Sam Sales,");
    expect(sam?.parsed.html).toContain("transferred to the Sales department by <strong>Admin U.</strong>");
    expect(sam?.parsed.html).toContain("<blockquote><p>Please call the customer</p> </blockquote>");

    // Sam transfers it: the same three, Sam included.
    expect(recipients(await alertsOf(transfer(3), 3))).toEqual([
      "admin@example.org",
      "jane@example.org",
      "sam@example.org",
    ]);

    // Assigned to Tina: the assignee (with transfer_alert_assigned), not the department's members.
    await execute(em, "UPDATE ost_ticket SET staff_id = 5 WHERE ticket_id = 25");
    await setConfig({ transfer_alert_assigned: "1", transfer_alert_dept_manager: "" });
    expect(recipients(await alertsOf(transfer(1), 1))).toEqual(["tina@example.org"]);

    // A department whose alerts are disabled alerts nobody.
    await execute(em, "UPDATE ost_department SET group_membership = 2 WHERE id = 2");
    expect(await alertsOf(transfer(1), 0)).toEqual([]);
  });
});
