import { type EntityManager, execute, query } from "@ostmesh/db";
import type { Event } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { type IngestEmailResult, ingestEmail } from "@ostmesh/ticket/email/ingest.ts";
import { decodeMessageId } from "@ostmesh/ticket/email/loopback.ts";
import { rawMail } from "@ostmesh/ticket/email/testing.ts";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TestEnv } from "../testing/env.ts";
import {
  mailsOf,
  mailTo,
  replayedTicketCreated,
  replayedTicketEvent,
  replayedTicketMailSuite,
  TEST_SECRET_SALT,
  threadedOnReplayedTicket,
} from "../testing/mail.ts";
import type { TestSmtpServer } from "../testing/smtp.ts";
import { planEmails } from "./plan.ts";

/**
 * The whole round trip with the real services' code: the notification service e-mails (real SMTP) with
 * osTicket's Message-IDs, and the reply quoting one of them, posted to the ticket service's e-mail ingestion
 * (the code behind the gateway's POST /api/tickets.email) with the same SECRET_SALT, lands where osTicket's
 * mail handling would put it, posted by whom osTicket would name.
 */
describe("replies by e-mail to ostmesh's e-mails thread as osTicket threads replies to its own", () => {
  let env: TestEnv;
  let smtp: TestSmtpServer;
  let em: EntityManager;
  let threadId = 0;
  let mailSeq = 0;

  /** A mail from `from` answering `inReplyTo`, to the ticket service's ingestion. */
  async function reply(from: string, inReplyTo: string, text: string): Promise<IngestEmailResult> {
    mailSeq++;
    const raw = rawMail(
      [
        `From: ${from}`,
        "To: support@example.com",
        // No ticket number: only the Message-ID can thread it.
        "Subject: Re: your mail",
        `Message-ID: <reply-${mailSeq}@mail.example.net>`,
        `In-Reply-To: ${inReplyTo}`,
        `References: ${inReplyTo}`,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
      ],
      text,
    );
    return ingestEmail(env.orm.em.fork(), { raw, ip: "192.0.2.7" }, {}, { secretSalt: TEST_SECRET_SALT });
  }

  async function entry(id: number) {
    const [row] = await query(
      em,
      "SELECT thread_id, pid, type, staff_id, user_id, poster, flags, body FROM ost_thread_entry WHERE id = ?",
      [id],
    );
    return row;
  }

  const created = (): Event => replayedTicketCreated({ alert: true, autorespond: true });

  // Only the e-mails each case is about: the new-ticket alert goes to Support's one member, agent 1
  // (admin@example.org), and the auto-responses to the requester, user 28 (trace.user@example.net).
  const fixture = replayedTicketMailSuite("reply_threading", {
    verify_email_addrs: "0",
    ticket_autoresponder: "1",
    ticket_alert_active: "1",
    ticket_alert_admin: "",
    ticket_alert_dept_manager: "",
    ticket_alert_dept_members: "1",
    message_alert_active: "",
    message_autoresponder: "1",
    message_autoresponder_collabs: "",
    note_alert_active: "",
  });
  beforeAll(() => {
    ({ env, em, smtp, threadId } = fixture());
  });
  beforeEach(async () => {
    await execute(
      em,
      "UPDATE ost_department SET ticket_auto_response = 1, message_auto_response = 1, manager_id = 0 WHERE id = 1",
    );
  });

  it("a ticket opened through the API: the mails name its thread; the agent's reply is a message from an unknown sender, the requester's their message", async () => {
    const event = created();
    const mails = await mailsOf(env, smtp, event, 2);
    const alert = mailTo(mails, "admin@example.org");
    const autoResponse = mailTo(mails, "trace.user@example.net");
    expect(alert.parsed.subject).toBe("New Ticket Alert");

    // Ticket::onNewTicket with a message that did not come by e-mail: about the thread, answering nothing.
    const alertId = alert.parsed.messageId ?? "";
    expect(alertId).toMatch(/^<B[^-]{6}-[^-]{5}-[A-Za-z0-9+/]{24}-support@example\.com>$/);
    expect(decodeMessageId(alertId, TEST_SECRET_SALT)).toEqual({
      loopback: true,
      uid: 1,
      entryId: 0,
      threadId,
      userClass: "S",
      staffId: 1,
    });
    expect(alert.parsed.inReplyTo).toBeUndefined();
    expect(alert.parsed.references).toBeUndefined();
    const autoResponseId = autoResponse.parsed.messageId ?? "";
    expect(decodeMessageId(autoResponseId, TEST_SECRET_SALT)).toEqual({
      loopback: true,
      uid: 28,
      entryId: 0,
      threadId,
      userClass: "U",
      userId: 28,
    });

    // Planned again (a redelivery), every e-mail keeps its Message-ID.
    const again = await planEmails(env.orm.em.fork(), event, { secretSalt: TEST_SECRET_SALT });
    expect(again.map((e) => e.messageId).sort()).toEqual([alertId, autoResponseId].sort());

    // The agent answers the alert: Thread::lookupByEmailHeaders finds the ticket but records no recipient
    // class, and an agent is neither the owner nor a collaborator, so osTicket posts a message under the
    // "Received From" banner (no author), under no parent entry.
    const byAgent = threadedOnReplayedTicket(
      await reply("Admin User <admin@example.org>", alertId, "I will take it."),
    );
    const agentEntry = await entry(byAgent);
    expect(agentEntry).toMatchObject({ thread_id: threadId, pid: 0, type: "M", staff_id: 0, user_id: 0 });
    expect(String(agentEntry?.body)).toBe(
      "Received From: Admin User &lt;admin&gt;\n\nI will take it.&lt;/admin&gt;",
    );

    // The requester answers the auto-response: their own message.
    const byUser = threadedOnReplayedTicket(
      await reply("Trace User <trace.user@example.net>", autoResponseId, "Thanks."),
    );
    expect(await entry(byUser)).toMatchObject({
      thread_id: threadId,
      pid: 0,
      type: "M",
      staff_id: 0,
      user_id: 28,
      body: "Thanks.",
    });
  });

  it("a ticket whose first message came by e-mail: the mails name and answer it; the agent's reply is the agent's internal note on it", async () => {
    await execute(
      em,
      "INSERT INTO ost_thread_entry_email (thread_entry_id, mid, headers) VALUES (31, '<first@mail.example.net>', ?)",
      ["Message-ID: <first@mail.example.net>\nReferences: <older@mail.example.net>"],
    );
    const mails = await mailsOf(env, smtp, created(), 2);
    const alert = mailTo(mails, "admin@example.org");
    const alertId = alert.parsed.messageId ?? "";
    expect(decodeMessageId(alertId, TEST_SECRET_SALT)).toMatchObject({
      loopback: true,
      entryId: 31,
      threadId,
      userClass: "S",
      staffId: 1,
    });
    // In-Reply-To and References name the message (osTicket's getEmailReferences never finds the stored
    // References header: it looks for it by a capitalised name in a lower-cased header map).
    for (const m of mails) {
      expect(m.parsed.inReplyTo).toBe("<first@mail.example.net>");
      expect(m.parsed.references).toBe("<first@mail.example.net>");
    }
    expect(
      decodeMessageId(mailTo(mails, "trace.user@example.net").parsed.messageId ?? "", TEST_SECRET_SALT),
    ).toMatchObject({
      entryId: 31,
      userClass: "U",
      userId: 28,
    });

    // ThreadEntry::lookupByEmailHeaders: the entry and the agent the id names; Thread::postEmail makes an
    // agent's reply an internal note by that agent, under the message.
    const byAgent = threadedOnReplayedTicket(
      await reply("Admin User <admin@example.org>", alertId, "Looking into it."),
    );
    expect(await entry(byAgent)).toMatchObject({
      thread_id: threadId,
      pid: 31,
      type: "N",
      staff_id: 1,
      user_id: 0,
      poster: "Admin User",
      body: "Looking into it.",
    });
  });

  it("the requester and a collaborator answering an agent's response and a message auto-response", async () => {
    // The requester wrote by e-mail once; a colleague collaborates on the ticket.
    const emailed = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), type = 'M', thread_id = ?, format = 'text', user_id = 28," +
        " poster = 'Trace User', source = 'Email', flags = 512, pid = 31, body = 'By mail.'",
      [threadId],
    );
    await execute(
      em,
      "INSERT INTO ost_thread_entry_email (thread_entry_id, mid, headers) VALUES (?, '<second@mail.example.net>', 'Message-ID: <second@mail.example.net>')",
      [emailed.insertId],
    );
    await execute(em, "INSERT INTO ost_user_email (user_id, address) VALUES (0, 'colleague@example.net')");
    const [address] = await query(
      em,
      "SELECT id FROM ost_user_email WHERE address = 'colleague@example.net'",
    );
    const colleague = await execute(
      em,
      "INSERT INTO ost_user (org_id, default_email_id, name, created, updated) VALUES (0, ?, 'Colleague', NOW(), NOW())",
      [Number(address?.id)],
    );
    await execute(em, "UPDATE ost_user_email SET user_id = ? WHERE id = ?", [
      colleague.insertId,
      Number(address?.id),
    ]);
    await execute(
      em,
      "INSERT INTO ost_thread_collaborator (flags, thread_id, user_id, role, created, updated) VALUES (1, ?, ?, 'M', NOW(), NOW())",
      [threadId, colleague.insertId],
    );

    // An agent's response, e-mailed to the requester with the collaborator on Cc.
    const response = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), type = 'R', thread_id = ?, format = 'html', staff_id = 1," +
        " poster = 'Admin User', flags = 64, pid = 31, body = '<p>Fixed.</p>'",
      [threadId],
    );
    const [replied] = await mailsOf(
      env,
      smtp,
      replayedTicketEvent(
        {
          case: "threadEntryAdded",
          value: { entry: { id: response.insertId, type: ThreadEntryType.RESPONSE }, notify: true },
        },
        1,
      ),
      1,
    );
    // Ticket::postReply: a list of recipients ('M'), about the response, answering the newest e-mailed message.
    const replyId = replied?.parsed.messageId ?? "";
    expect(decodeMessageId(replyId, TEST_SECRET_SALT)).toEqual({
      loopback: true,
      uid: 0,
      entryId: response.insertId,
      threadId,
      userClass: "M",
    });
    expect(replied?.parsed.inReplyTo).toBe("<second@mail.example.net>");
    expect(replied?.parsed.references).toBe("<second@mail.example.net>");

    // The requester answers the response: their message under it.
    const byOwner = threadedOnReplayedTicket(
      await reply("Trace User <trace.user@example.net>", replyId, "Works now."),
    );
    expect(await entry(byOwner)).toMatchObject({
      pid: response.insertId,
      type: "M",
      user_id: 28,
      body: "Works now.",
    });

    // A message of the requester's on the web gets the message auto-response, about it, answering the
    // newest message they e-mailed: the reply just threaded.
    const [ownerMail] = await query(em, "SELECT mid FROM ost_thread_entry_email WHERE thread_entry_id = ?", [
      byOwner,
    ]);
    expect(ownerMail?.mid).toMatch(/^<reply-\d+@mail\.example\.net>$/);
    const web = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), type = 'M', thread_id = ?, format = 'text', user_id = 28," +
        " poster = 'Trace User', source = 'Web', flags = 0, pid = 0, body = 'One more thing.'",
      [threadId],
    );
    const [confirmation] = await mailsOf(
      env,
      smtp,
      replayedTicketEvent(
        { case: "threadEntryAdded", value: { entry: { id: web.insertId, type: ThreadEntryType.MESSAGE } } },
        0,
      ),
      1,
    );
    expect(confirmation?.rcptTo).toEqual(["trace.user@example.net"]);
    const confirmationId = confirmation?.parsed.messageId ?? "";
    expect(decodeMessageId(confirmationId, TEST_SECRET_SALT)).toEqual({
      loopback: true,
      uid: 28,
      entryId: web.insertId,
      threadId,
      userClass: "U",
      userId: 28,
    });
    expect(confirmation?.parsed.inReplyTo).toBe(ownerMail?.mid);

    // The colleague answers the requester's confirmation (forwarded to them): the id names the requester, the
    // sender's own address names the colleague, who posts as the collaborator they are.
    const byColleague = threadedOnReplayedTicket(
      await reply("Colleague <colleague@example.net>", confirmationId, "Same here."),
    );
    expect(await entry(byColleague)).toMatchObject({
      pid: web.insertId,
      type: "M",
      user_id: colleague.insertId,
      body: "Same here.",
    });
    // ThreadEntry::FLAG_COLLABORATOR.
    expect(Number((await entry(byColleague))?.flags) & 0x20).toBe(0x20);
  });
});
