import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { writeOutbox } from "@ostmesh/bus";
import { type EntityManager, execute, query } from "@ostmesh/db";
import { EventTypes } from "@ostmesh/proto";
import { ActorSchema, PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { ThreadEntryType, TicketNotice } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import type { AddressObject } from "mailparser";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { outboxEventOf } from "../capture/capture.ts";
import { createTestEnv, type TestEnv, waitFor } from "../testing/env.ts";
import { type MailPipeline, startMailPipeline } from "../testing/mail.ts";
import { replayApiCreateTicket } from "../testing/osticket-php.ts";
import { type ReceivedMail, startSmtpServer, type TestSmtpServer } from "../testing/smtp.ts";
import { EmailStatus } from "./outbox.ts";

function addresses(value: AddressObject | AddressObject[] | undefined): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.flatMap((a) => a.value.map((v) => v.address ?? ""));
}

type EventInit = MessageInitShape<typeof EventSchema>;

let seq = 0;
function ticketEvent(payload: NonNullable<EventInit["payload"]>, origin = EventOrigin.OSTMESH): Event {
  seq++;
  const init: EventInit = {
    id: `test-${Date.now()}-${seq}`,
    type:
      payload.case === "ticketCreated"
        ? EventTypes.TICKET_CREATED
        : payload.case === "threadEntryAdded"
          ? EventTypes.TICKET_ENTRY_ADDED
          : EventTypes.TICKET_OVERDUE,
    origin,
    actor: { kind: PrincipalKind.API_KEY, id: 1 },
    aggregate: { type: AggregateType.TICKET, id: 25 },
    ticket: { ticketId: 25, number: "771291", deptId: 1, userId: 28 },
    payload,
  };
  return create(EventSchema, init);
}

describe("e-mail notifications rendered from osTicket's templates, sent over SMTP once", () => {
  let env: TestEnv;
  let smtp: TestSmtpServer;
  let mail: MailPipeline;
  let em: EntityManager;

  async function setConfig(values: Record<string, string>): Promise<void> {
    for (const [key, value] of Object.entries(values))
      await execute(em, "UPDATE ost_config SET value = ? WHERE namespace = 'core' AND `key` = ?", [
        value,
        key,
      ]);
  }

  async function publish(event: Event): Promise<void> {
    await em.fork().transactional((tx) => writeOutbox(tx, outboxEventOf(event, env.stream)));
    env.relay.notify();
  }

  /** Waits until the consumer has handled an event (its id is in the inbox). */
  async function handled(event: Event): Promise<void> {
    await waitFor(
      async () =>
        (await query(em, "SELECT 1 FROM ostmesh_inbox WHERE message_id = ?", [event.id])).length > 0,
      `event ${event.id} handled`,
    );
  }

  /** Waits until `count` e-mails with `template` are settled (sent or failed) for `eventId`. */
  async function settled(eventId: string, count: number): Promise<void> {
    await waitFor(async () => {
      const [row] = await query(
        em,
        "SELECT COUNT(*) AS n FROM ostmesh_email WHERE event_id = ? AND status IN (?, ?)",
        [eventId, EmailStatus.SENT, EmailStatus.FAILED],
      );
      return Number(row?.n) >= count;
    }, `${count} e-mails of ${eventId}`);
  }

  function mailsTo(address: string, since: number): ReceivedMail[] {
    return smtp.received.slice(since).filter((m) => m.rcptTo.includes(address));
  }

  beforeAll(async () => {
    env = await createTestEnv("email");
    em = env.orm.em.fork();
    smtp = await startSmtpServer();
    await replayApiCreateTicket(em);
    // A second agent in Support, and one with extended access (alerts on) from Sales.
    await execute(
      em,
      "INSERT INTO ost_staff (staff_id, dept_id, role_id, username, firstname, lastname, passwd, email, isactive," +
        " isadmin, onvacation, created, updated) VALUES (2, 1, 1, 'agent2', 'Jane', 'Agent', '', 'jane@example.org', 1, 0, 0, NOW(), NOW())," +
        " (3, 2, 1, 'agent3', 'Sam', 'Sales', '', 'sam@example.org', 1, 0, 0, NOW(), NOW())," +
        " (4, 1, 1, 'agent4', 'Vic', 'Vacation', '', 'vic@example.org', 1, 0, 1, NOW(), NOW())",
    );
    await execute(
      em,
      "INSERT INTO ost_staff_dept_access (staff_id, dept_id, role_id, flags) VALUES (3, 1, 1, 1)",
    );
    mail = await startMailPipeline(env, smtp, "email");
  });
  afterAll(async () => {
    await mail?.stop();
    await smtp?.close();
    await env?.close();
  });
  beforeEach(async () => {
    await setConfig({
      ticket_autoresponder: "1",
      ticket_alert_active: "1",
      ticket_alert_admin: "1",
      ticket_alert_dept_manager: "1",
      ticket_alert_dept_members: "1",
      message_alert_active: "1",
      message_autoresponder: "",
    });
    await execute(em, "UPDATE ost_department SET ticket_auto_response = 1, manager_id = 0 WHERE id = 1");
    await execute(em, "UPDATE ost_ticket SET staff_id = 0, team_id = 0, topic_id = 0 WHERE ticket_id = 25");
  });

  it("sends the new-ticket auto-response to the requester and alerts to department members, once per address", async () => {
    const since = smtp.received.length;
    const event = ticketEvent({
      case: "ticketCreated",
      value: { ticket: { id: 25, number: "771291" }, message: { id: 31 }, alert: true, autorespond: true },
    });
    await publish(event);
    // Agents 1 and 2 (Support), 3 (extended access with alerts); 4 is on vacation; the admin address is agent 1's.
    await settled(event.id, 4);

    const [reply] = mailsTo("trace.user@example.net", since);
    expect(reply?.parsed.subject).toBe("Support Ticket Opened [#771291]");
    expect(addresses(reply?.parsed.from)).toEqual(["support@example.com"]);
    expect(reply?.parsed.html).toContain("<strong>Dear Trace,</strong>");
    expect(reply?.parsed.html).toContain("assigned #771291");
    // TicketOwner's link: without the secret salt no auth token can be signed, so the plain one.
    expect(reply?.parsed.html).toContain('href="http://127.0.0.1/view.php?id=25"');
    expect(reply?.parsed.html).toContain("Your osTicket Test Helpdesk Team");
    // Email::sendAutoReply's headers (Mailer::send, `autoreply`).
    expect(reply?.parsed.headers.get("auto-submitted")).toBe("auto-replied");
    expect(reply?.parsed.headers.get("precedence")).toBe("auto_reply");
    expect(reply?.parsed.headers.get("x-autoreply")).toBe("yes");
    expect(reply?.parsed.headers.get("x-auto-response-suppress")).toBe("DR, RN, OOF, AutoReply");
    expect(reply?.parsed.headers.get("x-mailer")).toBe("osTicket Mailer");

    const alerts = smtp.received.slice(since).filter((m) => m.parsed.subject === "New Ticket Alert");
    expect(alerts.flatMap((m) => m.rcptTo).sort()).toEqual([
      "admin@example.org",
      "jane@example.org",
      "sam@example.org",
    ]);
    const jane = alerts.find((m) => m.rcptTo.includes("jane@example.org"));
    // Dept::getAlertEmail: Support has no e-mail of its own, so the default one (not the alert e-mail).
    expect(addresses(jane?.parsed.from)).toEqual(["support@example.com"]);
    expect(jane?.parsed.html).toContain("Hi Jane Agent,");
    expect(jane?.parsed.html).toContain("New ticket #771291 created");
    // Email::sendAlert's headers (Mailer::send, `notice`).
    expect(jane?.parsed.headers.get("auto-submitted")).toBe("auto-generated");
    expect(jane?.parsed.headers.get("x-auto-response-suppress")).toBe("OOF, AutoReply");
    expect(jane?.parsed.headers.get("precedence")).toBeUndefined();
    expect(jane?.parsed.html).toContain("Trace User &lt;trace.user@example.net&gt;");
    expect(jane?.parsed.html).toContain("<p>Hello <b>trace</b></p>");
    expect(jane?.parsed.html).toContain('href="http://127.0.0.1/scp/tickets.php?id=25"');

    // Threading: each e-mail has its own stable Message-ID and refers to the ticket's thread.
    const ids = smtp.received.slice(since).map((m) => m.parsed.messageId);
    expect(new Set(ids).size).toBe(4);
    for (const m of smtp.received.slice(since)) {
      expect(m.parsed.messageId).toMatch(/^<ostmesh\.[0-9a-f]{32}@example\.org>$/);
      expect(m.parsed.inReplyTo).toBe("<ostmesh.ticket.25@example.org>");
      expect(m.parsed.references).toBe("<ostmesh.ticket.25@example.org>");
    }

    // The same event delivered again (a second outbox row with the same event id) sends nothing more.
    await publish(event);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(smtp.received.length - since).toBe(4);
    const [row] = await query(em, "SELECT COUNT(*) AS n FROM ostmesh_email WHERE event_id = ?", [event.id]);
    expect(Number(row?.n)).toBe(4);
  });

  it("honours the API's alert/autorespond flags, the help topic's and department's overrides and ost_config", async () => {
    const since = smtp.received.length;
    const noAlert = ticketEvent({
      case: "ticketCreated",
      value: { ticket: { id: 25 }, message: { id: 31 }, alert: false, autorespond: true },
    });
    await publish(noAlert);
    await settled(noAlert.id, 1);
    expect(smtp.received.slice(since).map((m) => m.parsed.subject)).toEqual([
      "Support Ticket Opened [#771291]",
    ]);

    // Help topic "Feedback" (2) set to no auto-response; the department switch and the global switch too.
    await execute(em, "UPDATE ost_help_topic SET noautoresp = 1 WHERE topic_id = 2");
    await execute(em, "UPDATE ost_ticket SET topic_id = 2 WHERE ticket_id = 25");
    const topicOff = ticketEvent({
      case: "ticketCreated",
      value: { ticket: { id: 25 }, message: { id: 31 }, alert: false, autorespond: true },
    });
    await publish(topicOff);
    await handled(topicOff);
    await execute(em, "UPDATE ost_ticket SET topic_id = 0 WHERE ticket_id = 25");
    await execute(em, "UPDATE ost_department SET ticket_auto_response = 0 WHERE id = 1");
    const deptOff = ticketEvent({
      case: "ticketCreated",
      value: { ticket: { id: 25 }, message: { id: 31 }, alert: false, autorespond: true },
    });
    await publish(deptOff);
    await handled(deptOff);
    await execute(em, "UPDATE ost_department SET ticket_auto_response = 1 WHERE id = 1");
    await setConfig({ ticket_autoresponder: "", ticket_alert_active: "" });
    const configOff = ticketEvent({
      case: "ticketCreated",
      value: { ticket: { id: 25 }, message: { id: 31 }, alert: true, autorespond: true },
    });
    await publish(configOff);
    await handled(configOff);
    // An event from osTicket's PHP side: osTicket mailed it itself.
    await setConfig({ ticket_autoresponder: "1", ticket_alert_active: "1" });
    const fromPhp = ticketEvent(
      {
        case: "ticketCreated",
        value: { ticket: { id: 25 }, message: { id: 31 }, alert: true, autorespond: true },
      },
      EventOrigin.OSTICKET,
    );
    await publish(fromPhp);
    // Consumers skip OSTICKET events before the inbox: wait for a later event to be handled instead.
    const marker = ticketEvent({ case: "ticketOverdue", value: {} });
    await setConfig({ overdue_alert_active: "" });
    await publish(marker);
    await handled(marker);
    await setConfig({ overdue_alert_active: "1" });
    const queued = await query(em, "SELECT event_id FROM ostmesh_email WHERE event_id IN (?, ?, ?, ?)", [
      topicOff.id,
      deptOff.id,
      configOff.id,
      fromPhp.id,
    ]);
    expect(queued).toEqual([]);
    expect(smtp.received.length - since).toBe(1);
  });

  it("renders %{company.name} from the company form and %{ticket} as the ticket's number", async () => {
    const company =
      "(SELECT v.entry_id FROM ost_form_entry_values v JOIN ost_form_field f ON f.id = v.field_id" +
      " JOIN ost_form_entry e ON e.id = v.entry_id WHERE e.object_type = 'C' AND f.name = 'name')";
    await execute(
      em,
      `UPDATE ost_form_entry_values SET value = 'ACME Support' WHERE field_id = (SELECT id FROM ost_form_field WHERE form_id = 3 AND name = 'name') AND entry_id IN (SELECT * FROM ${company} x)`,
    );
    await execute(
      em,
      "UPDATE ost_email_template SET subject = 'Opened %{ticket} for %{company}' WHERE code_name = 'ticket.autoresp'",
    );
    try {
      const since = smtp.received.length;
      const event = ticketEvent({
        case: "ticketCreated",
        value: { ticket: { id: 25 }, message: { id: 31 }, alert: false, autorespond: true },
      });
      await publish(event);
      await settled(event.id, 1);
      const [reply] = mailsTo("trace.user@example.net", since);
      expect(reply?.parsed.subject).toBe("Opened 771291 for ACME Support");
      // The stock body signs with %{company.name}; the helpdesk's title is another setting.
      expect(reply?.parsed.html).toContain("Your ACME Support Team");
    } finally {
      await execute(
        em,
        "UPDATE ost_email_template SET subject = 'Support Ticket Opened [#%{ticket.number}]' WHERE code_name = 'ticket.autoresp'",
      );
      await execute(
        em,
        `UPDATE ost_form_entry_values SET value = 'osTicket Test Helpdesk' WHERE field_id = (SELECT id FROM ost_form_field WHERE form_id = 3 AND name = 'name') AND entry_id IN (SELECT * FROM ${company} x)`,
      );
    }
  });

  it("sends an agent's Ticket Notice to the requester, with the active collaborators on Cc for Alert All only", async () => {
    await execute(em, "INSERT INTO ost_user_email (user_id, address) VALUES (0, 'notice.cc@example.net')");
    const [mail] = await query(em, "SELECT id FROM ost_user_email WHERE address = 'notice.cc@example.net'");
    const user = await execute(
      em,
      "INSERT INTO ost_user (org_id, default_email_id, name, created, updated) VALUES (0, ?, 'Notice Cc', NOW(), NOW())",
      [Number(mail?.id)],
    );
    await execute(em, "UPDATE ost_user_email SET user_id = ? WHERE id = ?", [
      user.insertId,
      Number(mail?.id),
    ]);
    const collab = await execute(
      em,
      "INSERT INTO ost_thread_collaborator (flags, thread_id, user_id, role, created, updated) VALUES (3, 25, ?, 'M', NOW(), NOW())",
      [user.insertId],
    );
    /** The notices an agent's ticket.created event sends (no staff alerts asked for). */
    const noticesOf = async (
      value: { autorespond: boolean; ticketNotice?: TicketNotice },
      expected: number,
    ) => {
      const since = smtp.received.length;
      const event = ticketEvent({
        case: "ticketCreated",
        value: { ticket: { id: 25 }, message: { id: 31 }, alert: false, ...value },
      });
      event.actor = create(ActorSchema, { kind: PrincipalKind.AGENT, id: 1 });
      await publish(event);
      await handled(event);
      await settled(event.id, expected);
      return smtp.received.slice(since);
    };
    try {
      // Alert All, and an agent's autorespond from before the choice existed: one e-mail, collaborators on Cc.
      for (const value of [{ autorespond: true, ticketNotice: TicketNotice.ALL }, { autorespond: true }]) {
        const [all, ...more] = await noticesOf(value, 1);
        expect(more).toEqual([]);
        expect(all?.parsed.subject).toBe("Trace ticket [#771291]");
        expect(all?.parsed.html).toContain("Our customer care team has created a ticket");
        expect(addresses(all?.parsed.to)).toEqual(["trace.user@example.net"]);
        expect(addresses(all?.parsed.cc)).toEqual(["notice.cc@example.net"]);
        expect(all?.rcptTo.sort()).toEqual(["notice.cc@example.net", "trace.user@example.net"]);
      }
      // Alert to User: the requester alone.
      const [user, ...others] = await noticesOf({ autorespond: true, ticketNotice: TicketNotice.USER }, 1);
      expect(others).toEqual([]);
      expect(user?.parsed.subject).toBe("Trace ticket [#771291]");
      expect(addresses(user?.parsed.cc)).toEqual([]);
      expect(user?.rcptTo).toEqual(["trace.user@example.net"]);
      // Do Not Send Alert: nothing queued at all.
      const since = smtp.received.length;
      const none = ticketEvent({
        case: "ticketCreated",
        value: {
          ticket: { id: 25 },
          message: { id: 31 },
          alert: false,
          autorespond: false,
          ticketNotice: TicketNotice.NONE,
        },
      });
      none.actor = create(ActorSchema, { kind: PrincipalKind.AGENT, id: 1 });
      await publish(none);
      await handled(none);
      expect(await query(em, "SELECT id FROM ostmesh_email WHERE event_id = ?", [none.id])).toEqual([]);
      expect(smtp.received.length).toBe(since);
    } finally {
      await execute(em, "DELETE FROM ost_thread_collaborator WHERE id = ?", [collab.insertId]);
    }
  });

  it("e-mails an agent's reply to the requester with collaborators on Cc, threaded onto the e-mail that opened the ticket", async () => {
    await execute(
      em,
      "INSERT INTO ost_thread_entry_email (thread_entry_id, mid, headers) VALUES (31, '<first.message@mail.example.net>', '')",
    );
    await execute(em, "INSERT INTO ost_user_email (user_id, address) VALUES (0, 'colleague@example.net')");
    const [mail] = await query(em, "SELECT id FROM ost_user_email WHERE address = 'colleague@example.net'");
    const user = await execute(
      em,
      "INSERT INTO ost_user (org_id, default_email_id, name, created, updated) VALUES (0, ?, 'Colleague', NOW(), NOW())",
      [Number(mail?.id)],
    );
    await execute(em, "UPDATE ost_user_email SET user_id = ? WHERE id = ?", [
      user.insertId,
      Number(mail?.id),
    ]);
    await execute(
      em,
      "INSERT INTO ost_thread_collaborator (flags, thread_id, user_id, role, created, updated) VALUES (1, 25, ?, 'M', NOW(), NOW())",
      [user.insertId],
    );
    const response = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), type = 'R', thread_id = 25, format = 'html', staff_id = 1," +
        " poster = 'Admin User', flags = 64, pid = 31, body = '<p>We are on it &amp; will call.</p>'",
    );
    const since = smtp.received.length;
    const event = ticketEvent({
      case: "threadEntryAdded",
      value: { entry: { id: response.insertId, type: ThreadEntryType.RESPONSE }, notify: true },
    });
    await publish(event);
    await settled(event.id, 1);
    const [reply] = smtp.received.slice(since);
    expect(reply?.rcptTo.sort()).toEqual(["colleague@example.net", "trace.user@example.net"]);
    expect(addresses(reply?.parsed.to)).toEqual(["trace.user@example.net"]);
    expect(addresses(reply?.parsed.cc)).toEqual(["colleague@example.net"]);
    expect(reply?.parsed.subject).toBe("Re: Trace ticket [#771291]");
    expect(reply?.parsed.html).toContain("<p>We are on it &amp; will call.</p>");
    // Email::send: an agent's reply is not marked as automatic.
    expect(reply?.parsed.headers.get("auto-submitted")).toBeUndefined();
    expect(reply?.parsed.headers.get("x-auto-response-suppress")).toBeUndefined();
    expect(reply?.parsed.headers.get("x-mailer")).toBe("osTicket Mailer");
    expect(reply?.parsed.inReplyTo).toBe("<first.message@mail.example.net>");
    expect(reply?.parsed.references).toBe("<first.message@mail.example.net>");

    // A response without notify (the agent unticked "e-mail the user") sends nothing.
    const quiet = ticketEvent({
      case: "threadEntryAdded",
      value: { entry: { id: response.insertId, type: ThreadEntryType.RESPONSE }, notify: false },
    });
    await publish(quiet);
    await waitFor(
      async () =>
        (await query(em, "SELECT 1 FROM ostmesh_inbox WHERE message_id = ?", [quiet.id])).length > 0,
      "quiet handled",
    );
    expect(smtp.received.length - since).toBe(1);
  });

  it("alerts the assignee about a new message that came by e-mail, in reply to that e-mail", async () => {
    await execute(em, "UPDATE ost_ticket SET staff_id = 2 WHERE ticket_id = 25");
    const message = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), type = 'M', thread_id = 25, format = 'text', user_id = 28," +
        " poster = 'Trace User', source = 'Email', flags = 512, pid = 31, body = 'Still broken.\nPlease help.'",
    );
    await execute(
      em,
      "INSERT INTO ost_thread_entry_email (thread_entry_id, mid, headers) VALUES (?, '<second@mail.example.net>', '')",
      [message.insertId],
    );
    const since = smtp.received.length;
    const event = ticketEvent({
      case: "threadEntryAdded",
      value: { entry: { id: message.insertId, type: ThreadEntryType.MESSAGE }, viaEmail: true },
    });
    await publish(event);
    // Last respondent (agent 1, the reply above) and the assignee (agent 2).
    await settled(event.id, 2);
    const alerts = smtp.received.slice(since);
    expect(alerts.flatMap((m) => m.rcptTo).sort()).toEqual(["admin@example.org", "jane@example.org"]);
    const jane = alerts.find((m) => m.rcptTo.includes("jane@example.org"));
    expect(jane?.parsed.subject).toBe("New Message Alert");
    expect(jane?.parsed.html).toContain(
      '<div style="white-space:pre-wrap">Still broken.\nPlease help.</div>',
    );
    expect(jane?.parsed.html).toContain("Trace User &lt;trace.user@example.net&gt;");
    expect(jane?.parsed.inReplyTo).toBe("<second@mail.example.net>");
    expect(jane?.parsed.references).toEqual([
      "<first.message@mail.example.net>",
      "<second@mail.example.net>",
    ]);
  });

  it("sends the overdue alert to the assignee and the department manager", async () => {
    await execute(em, "UPDATE ost_ticket SET staff_id = 2 WHERE ticket_id = 25");
    await execute(em, "UPDATE ost_department SET manager_id = 3 WHERE id = 1");
    const since = smtp.received.length;
    const event = ticketEvent({ case: "ticketOverdue", value: {} });
    await publish(event);
    await settled(event.id, 2);
    const mails = smtp.received.slice(since);
    expect(mails.flatMap((m) => m.rcptTo).sort()).toEqual(["jane@example.org", "sam@example.org"]);
    expect(mails[0]?.parsed.subject).toBe("Stale Ticket Alert");
    expect(mails.find((m) => m.rcptTo.includes("jane@example.org"))?.parsed.html).toContain("Sam Sales");
  });

  it("retries a temporary SMTP failure with backoff and gives up at once on a permanent one", async () => {
    await setConfig({ ticket_alert_active: "" });
    const since = smtp.received.length;
    smtp.refuseNext(2, 451);
    const event = ticketEvent({
      case: "ticketCreated",
      value: { ticket: { id: 25 }, message: { id: 31 }, alert: false, autorespond: true },
    });
    await publish(event);
    await settled(event.id, 1);
    const [sent] = await query(
      em,
      "SELECT status, attempts, last_error FROM ostmesh_email WHERE event_id = ?",
      [event.id],
    );
    expect(sent).toMatchObject({ status: EmailStatus.SENT, attempts: 3, last_error: null });
    expect(mailsTo("trace.user@example.net", since)).toHaveLength(1);

    smtp.refuseNext(1, 550);
    const rejected = ticketEvent({
      case: "ticketCreated",
      value: { ticket: { id: 25 }, message: { id: 31 }, alert: false, autorespond: true },
    });
    await publish(rejected);
    await settled(rejected.id, 1);
    const [failed] = await query(
      em,
      "SELECT status, attempts, last_error FROM ostmesh_email WHERE event_id = ?",
      [rejected.id],
    );
    expect(failed).toMatchObject({ status: EmailStatus.FAILED, attempts: 1 });
    expect(String(failed?.last_error)).toContain("550");
    expect(mailsTo("trace.user@example.net", since)).toHaveLength(1);
  });
});
