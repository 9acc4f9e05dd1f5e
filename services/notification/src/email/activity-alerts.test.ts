import { type EntityManager, execute } from "@ostmesh/db";
import { EventTypes } from "@ostmesh/proto";
import type { Event } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
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

/** The e-mails osTicket's own rules send for ostmesh's internal activity (notes, responses) and alerts' From. */
describe("activity alerts and osTicket's alert rules (note.alert, departments without alerts, From, signatures)", () => {
  let env: TestEnv;
  let smtp: TestSmtpServer;
  let mail: MailPipeline;
  let em: EntityManager;

  const setConfig = (values: Record<string, string>) => setCoreConfig(em, values);
  const sent = (event: Event, expected: number) => mailsOf(env, smtp, event, expected);
  const recipients = (mails: ReceivedMail[]) => mails.flatMap((m) => m.rcptTo).sort();

  async function addEntry(sql: string): Promise<number> {
    const entry = await execute(
      em,
      `INSERT INTO ost_thread_entry SET created = NOW(), thread_id = 25, ${sql}`,
    );
    return entry.insertId;
  }

  const entryAdded = (id: number, type: ThreadEntryType, agentId: number, extra: object = {}) =>
    ticketEvent({ case: "threadEntryAdded", value: { entry: { id, type }, ...extra } }, agentId);

  beforeAll(async () => {
    env = await createTestEnv("activity");
    em = env.orm.em.fork();
    smtp = await startSmtpServer();
    await replayApiCreateTicket(em);
    // Support: Jane (2), Tina (5); Sales: Sam (3). Team 1: Jane and Tina with alerts.
    await execute(
      em,
      "INSERT INTO ost_staff (staff_id, dept_id, role_id, username, firstname, lastname, passwd, email, isactive," +
        " isadmin, onvacation, created, updated) VALUES (2, 1, 1, 'agent2', 'Jane', 'Agent', '', 'jane@example.org', 1, 0, 0, NOW(), NOW())," +
        " (3, 2, 1, 'agent3', 'Sam', 'Sales', '', 'sam@example.org', 1, 0, 0, NOW(), NOW())," +
        " (5, 1, 1, 'agent5', 'Tina', 'Lead', '', 'tina@example.org', 1, 0, 0, NOW(), NOW())",
    );
    await execute(em, "INSERT INTO ost_team_member (team_id, staff_id, flags) VALUES (1, 2, 1), (1, 5, 1)");
    mail = await startMailPipeline(env, smtp, "activity");
  });
  afterAll(async () => {
    await mail?.stop();
    await smtp?.close();
    await env?.close();
  });
  beforeEach(async () => {
    await setConfig({
      note_alert_active: "1",
      note_alert_laststaff: "",
      note_alert_assigned: "1",
      note_alert_dept_manager: "",
      ticket_alert_active: "",
      message_alert_active: "",
      message_autoresponder: "",
      ticket_autoresponder: "",
    });
    await execute(
      em,
      "UPDATE ost_department SET manager_id = 0, group_membership = 1, email_id = 0, autoresp_email_id = 0," +
        " message_auto_response = 1 WHERE id IN (1, 2)",
    );
    await execute(em, "UPDATE ost_ticket SET staff_id = 0, team_id = 0, dept_id = 1 WHERE ticket_id = 25");
  });

  it("fills note.alert's From, Title and body from the note (%{note.poster}, %{note.title}, %{note.message})", async () => {
    await execute(em, "UPDATE ost_ticket SET staff_id = 2 WHERE ticket_id = 25");
    const note = await addEntry(
      "type = 'N', format = 'html', staff_id = 1, poster = 'Admin User', title = 'Called the customer', flags = 64," +
        " pid = 0, body = '<p>Customer will send the logs</p>'",
    );
    const mails = await sent(entryAdded(note, ThreadEntryType.NOTE, 1), 1);
    expect(recipients(mails)).toEqual(["jane@example.org"]);
    const [alert] = mails;
    expect(alert?.parsed.subject).toBe("New Internal Activity Alert");
    expect(alert?.parsed.html).toMatch(/<strong>From<\/strong>: <\/td> <td>Admin User <\/td>/);
    expect(alert?.parsed.html).toMatch(/<strong>Title<\/strong>: <\/td> <td>Called the customer <\/td>/);
    expect(alert?.parsed.html).toContain("<br /> <p>Customer will send the logs</p> <br />");
  });

  it("neither alerts nor auto-responds to a bounce or an auto-reply threaded onto the ticket by e-mail", async () => {
    await setConfig({
      message_alert_active: "1",
      message_alert_laststaff: "",
      message_alert_assigned: "1",
      message_alert_dept_manager: "",
      message_autoresponder: "1",
    });
    await execute(em, "UPDATE ost_ticket SET staff_id = 2 WHERE ticket_id = 25");
    const message = await addEntry(
      "type = 'M', format = 'text', user_id = 28, poster = 'Trace User', source = 'Email', flags = 512," +
        " pid = 31, body = 'I am out of the office.'",
    );
    // An ordinary reply: the assignee's alert and the requester's confirmation.
    const ordinary = await sent(entryAdded(message, ThreadEntryType.MESSAGE, 0, { viaEmail: true }), 2);
    expect(recipients(ordinary)).toEqual(["jane@example.org", "trace.user@example.net"]);
    // The same as an auto-reply: nothing, or the two auto-responders would answer each other.
    const automatic = entryAdded(message, ThreadEntryType.MESSAGE, 0, {
      viaEmail: true,
      bounceOrAutoReply: true,
    });
    expect(await sent(automatic, 0)).toEqual([]);
  });

  it("sends a department without members for alerts no manager's new-ticket, activity, assignment or overdue alert", async () => {
    // Sales (2), primary members only: its only member Sam is on vacation; its manager Jane is a Support agent.
    await execute(em, "UPDATE ost_ticket SET dept_id = 2 WHERE ticket_id = 25");
    await execute(em, "UPDATE ost_department SET manager_id = 2, group_membership = 0 WHERE id = 2");
    await setConfig({
      ticket_alert_active: "1",
      ticket_alert_admin: "1",
      ticket_alert_dept_manager: "1",
      ticket_alert_dept_members: "1",
      note_alert_dept_manager: "1",
      assigned_alert_active: "1",
      assigned_alert_staff: "1",
      overdue_alert_active: "1",
      overdue_alert_assigned: "1",
      overdue_alert_dept_manager: "1",
    });
    const note = await addEntry(
      "type = 'N', format = 'html', staff_id = 1, poster = 'Admin User', title = 'Checked', flags = 64, pid = 0," +
        " body = '<p>Checked the logs</p>'",
    );
    const created = () =>
      ticketEvent(
        { case: "ticketCreated", value: { ticket: { id: 25 }, message: { id: 31 }, alert: true } },
        0,
      );
    const noted = () => entryAdded(note, ThreadEntryType.NOTE, 1);
    const overdue = () => ticketEvent({ case: "ticketOverdue", value: {} }, 0);
    const assigned = () => ticketEvent({ case: "ticketAssigned", value: { staff: { id: 2 } } }, 1);

    await execute(em, "UPDATE ost_staff SET onvacation = 1 WHERE staff_id = 3");
    try {
      // No available member: the administrator's new-ticket copy only.
      expect(recipients(await sent(created(), 1))).toEqual(["admin@example.org"]);
      expect(await sent(noted(), 0)).toEqual([]);
      expect(await sent(overdue(), 0)).toEqual([]);
      await execute(em, "UPDATE ost_ticket SET staff_id = 2 WHERE ticket_id = 25");
      expect(await sent(assigned(), 0)).toEqual([]);
    } finally {
      await execute(em, "UPDATE ost_staff SET onvacation = 0 WHERE staff_id = 3");
    }
    // Sam back: the manager (and the assignee) are alerted again.
    expect(recipients(await sent(noted(), 1))).toEqual(["jane@example.org"]);
    expect(recipients(await sent(assigned(), 1))).toEqual(["jane@example.org"]);
    // Alerts disabled for the department: nobody, not even the administrator.
    await execute(em, "UPDATE ost_department SET group_membership = 2 WHERE id = 2");
    expect(await sent(created(), 0)).toEqual([]);
    expect(await sent(noted(), 0)).toEqual([]);
    expect(await sent(overdue(), 0)).toEqual([]);
    expect(await sent(assigned(), 0)).toEqual([]);
  });

  it("sends alerts from the department's e-mail, the activity alert from the alert e-mail, an agent's notice from the department's", async () => {
    // Sales sends as noreply@ (its e-mail) and auto-responds as support@; the alert e-mail is alerts@.
    await execute(em, "UPDATE ost_ticket SET dept_id = 2, staff_id = 2 WHERE ticket_id = 25");
    await execute(
      em,
      "UPDATE ost_department SET email_id = 3, autoresp_email_id = 1, manager_id = 2 WHERE id = 2",
    );
    await setConfig({
      ticket_alert_active: "1",
      ticket_alert_admin: "",
      ticket_alert_dept_manager: "1",
      ticket_alert_dept_members: "",
      ticket_notice_active: "1",
      message_autoresponder: "1",
      message_alert_active: "1",
      message_alert_laststaff: "",
      message_alert_assigned: "1",
      message_alert_dept_manager: "",
      assigned_alert_active: "1",
      assigned_alert_staff: "1",
      transfer_alert_active: "1",
      transfer_alert_assigned: "1",
      transfer_alert_dept_manager: "",
      transfer_alert_dept_members: "",
      overdue_alert_active: "1",
      overdue_alert_assigned: "1",
      overdue_alert_dept_manager: "",
    });
    const from = (mails: ReceivedMail[]) => mails.flatMap((m) => m.parsed.from?.value.map((v) => v.address));

    const created = ticketEvent(
      { case: "ticketCreated", value: { ticket: { id: 25 }, message: { id: 31 }, alert: true } },
      0,
    );
    expect(from(await sent(created, 1))).toEqual(["noreply@example.com"]);
    const message = await addEntry(
      "type = 'M', format = 'text', user_id = 28, poster = 'Trace User', source = 'Web', flags = 0, pid = 31," +
        " body = 'Any news?'",
    );
    const messageAlert = await sent(entryAdded(message, ThreadEntryType.MESSAGE, 0), 2);
    const alert = messageAlert.filter((m) => m.parsed.subject === "New Message Alert");
    expect(from(alert)).toEqual(["noreply@example.com"]);
    // The requester's Message Confirmation comes from the auto-response e-mail.
    const confirmation = messageAlert.filter((m) => m.rcptTo.includes("trace.user@example.net"));
    expect(from(confirmation)).toEqual(["support@example.com"]);
    const assigned = ticketEvent({ case: "ticketAssigned", value: { staff: { id: 2 } } }, 1);
    expect(from(await sent(assigned, 1))).toEqual(["noreply@example.com"]);
    const transferred = ticketEvent(
      { case: "ticketTransferred", value: { previous: { id: 1 }, current: { id: 2 } } },
      1,
    );
    transferred.type = EventTypes.TICKET_TRANSFERRED;
    expect(from(await sent(transferred, 1))).toEqual(["noreply@example.com"]);
    expect(from(await sent(ticketEvent({ case: "ticketOverdue", value: {} }, 0), 1))).toEqual([
      "noreply@example.com",
    ]);
    const note = await addEntry(
      "type = 'N', format = 'html', staff_id = 1, poster = 'Admin User', title = 'Noted', flags = 64, pid = 0," +
        " body = '<p>Noted</p>'",
    );
    expect(from(await sent(entryAdded(note, ThreadEntryType.NOTE, 1), 1))).toEqual(["alerts@example.com"]);

    // An agent opens the ticket for the requester: the notice comes from the department's e-mail.
    const notice = ticketEvent(
      { case: "ticketCreated", value: { ticket: { id: 25 }, message: { id: 31 }, autorespond: true } },
      1,
    );
    expect(from(await sent(notice, 1))).toEqual(["noreply@example.com"]);
  });

  it("leaves %{signature} empty in replies and agents' notices (no signature chosen), the department's in auto-responses", async () => {
    await execute(
      em,
      "UPDATE ost_department SET signature = 'Signed: the Support desk', ispublic = 1 WHERE id = 1",
    );
    await setConfig({ ticket_autoresponder: "1", ticket_notice_active: "1" });
    await execute(em, "UPDATE ost_department SET ticket_auto_response = 1 WHERE id = 1");
    const response = await addEntry(
      "type = 'R', format = 'html', staff_id = 1, poster = 'Admin User', flags = 64, pid = 31," +
        " body = '<p>Fixed it.</p>'",
    );
    const [reply] = await sent(entryAdded(response, ThreadEntryType.RESPONSE, 1, { notify: true }), 1);
    expect(reply?.parsed.subject).toMatch(/^Re: /);
    expect(reply?.parsed.html).toContain("<p>Fixed it.</p>");
    expect(reply?.parsed.html).not.toContain("Signed: the Support desk");

    const notice = ticketEvent(
      { case: "ticketCreated", value: { ticket: { id: 25 }, message: { id: 31 }, autorespond: true } },
      1,
    );
    const [noticeMail] = await sent(notice, 1);
    expect(noticeMail?.parsed.html).toContain("Our customer care team has created a ticket");
    expect(noticeMail?.parsed.html).not.toContain("Signed: the Support desk");

    // The new-ticket auto-response is signed by the (public) department.
    const autoresp = ticketEvent(
      { case: "ticketCreated", value: { ticket: { id: 25 }, message: { id: 31 }, autorespond: true } },
      0,
    );
    const [autoMail] = await sent(autoresp, 1);
    expect(autoMail?.parsed.html).toContain("Signed: the Support desk");
  });

  it("alerts the assignee, the assigned team's members and the manager of an agent's response, never its author, e-mailed to the user or not", async () => {
    // Assigned to Jane and to team 1 (Jane, Tina); Support's manager is Sam.
    await execute(em, "UPDATE ost_ticket SET staff_id = 2, team_id = 1 WHERE ticket_id = 25");
    await execute(em, "UPDATE ost_department SET manager_id = 3 WHERE id = 1");
    await setConfig({ note_alert_assigned: "1", note_alert_dept_manager: "1" });
    const byAdmin = await addEntry(
      "type = 'R', format = 'html', staff_id = 1, poster = 'Admin User', flags = 64, pid = 31," +
        " body = '<p>Replaced the toner.</p>'",
    );
    const quiet = await sent(entryAdded(byAdmin, ThreadEntryType.RESPONSE, 1, { notify: false }), 3);
    expect(recipients(quiet)).toEqual(["jane@example.org", "sam@example.org", "tina@example.org"]);
    const tina = quiet.find((m) => m.rcptTo.includes("tina@example.org"));
    expect(tina?.parsed.subject).toBe("New Internal Activity Alert");
    expect(tina?.parsed.html).toMatch(/<strong>From<\/strong>: <\/td> <td>Admin User <\/td>/);
    expect(tina?.parsed.html).toContain("<p>Replaced the toner.</p>");

    // Jane answers and e-mails the user: the user's reply, and the alerts to all but Jane.
    const byJane = await addEntry(
      "type = 'R', format = 'html', staff_id = 2, poster = 'Jane Agent', flags = 64, pid = 31," +
        " body = '<p>Please confirm.</p>'",
    );
    const told = await sent(entryAdded(byJane, ThreadEntryType.RESPONSE, 2, { notify: true }), 3);
    expect(recipients(told)).toEqual(["sam@example.org", "tina@example.org", "trace.user@example.net"]);

    // With activity alerts off, only the user's reply.
    await setConfig({ note_alert_active: "" });
    const off = await sent(entryAdded(byJane, ThreadEntryType.RESPONSE, 2, { notify: true }), 1);
    expect(recipients(off)).toEqual(["trace.user@example.net"]);
  });
});
