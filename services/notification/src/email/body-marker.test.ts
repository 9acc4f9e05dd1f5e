import { type EntityManager, execute, query } from "@ostmesh/db";
import type { Event } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { type IngestEmailResult, ingestEmail } from "@ostmesh/ticket/email/ingest.ts";
import { rawMail } from "@ostmesh/ticket/email/testing.ts";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TestEnv } from "../testing/env.ts";
import {
  mailsOf,
  mailTo,
  replayedTicketCreated,
  replayedTicketMailSuite,
  setCoreConfig,
  TEST_SECRET_SALT,
  threadedOnReplayedTicket,
} from "../testing/mail.ts";
import type { TestSmtpServer } from "../testing/smtp.ts";
import { isOsTicketMessageId } from "./message-id.ts";
import { planEmails } from "./plan.ts";

const SEPARATOR = "-- reply above this line --";

/**
 * Mailer::send's markers in the bodies of ostmesh's e-mails (the hidden `mid-` div of a mail about a thread
 * entry, the `Ref-Mid:` line ending every text part), and the round trip: a reply whose client dropped
 * In-Reply-To and References but quoted the mail threads, through the ticket service's e-mail ingestion, onto
 * the entry and as the poster osTicket would pick.
 */
describe("the Message-ID marker in e-mail bodies", () => {
  let env: TestEnv;
  let smtp: TestSmtpServer;
  let em: EntityManager;
  let threadId = 0;
  let mailSeq = 0;

  /** A reply with neither In-Reply-To nor References and no ticket number: only its body can thread it. */
  async function reply(
    from: string,
    type: "text/plain" | "text/html",
    body: string,
  ): Promise<IngestEmailResult> {
    mailSeq++;
    const raw = rawMail(
      [
        `From: ${from}`,
        "To: support@example.com",
        "Subject: Re: your mail",
        `Message-ID: <marker-reply-${mailSeq}@mail.example.net>`,
        "MIME-Version: 1.0",
        `Content-Type: ${type}; charset=utf-8`,
      ],
      body,
    );
    return ingestEmail(env.orm.em.fork(), { raw, ip: "192.0.2.8" }, {}, { secretSalt: TEST_SECRET_SALT });
  }

  async function entry(id: number) {
    const [row] = await query(
      em,
      "SELECT thread_id, pid, type, staff_id, user_id, poster FROM ost_thread_entry WHERE id = ?",
      [id],
    );
    return row;
  }

  /** A text quoted as mail clients quote it. */
  const quoted = (text: string) =>
    `${text
      .trimEnd()
      .split("\n")
      .map((line) => `> ${line}`)
      .join("\n")}\n`;

  const bare = (messageId: string) => messageId.slice(1, -1);

  const created = (): Event => replayedTicketCreated({ alert: true, autorespond: true });

  // The new-ticket alert to agent 1 (admin@example.org), the auto-response to user 28 (trace.user@example.net).
  const fixture = replayedTicketMailSuite("body_marker", {
    verify_email_addrs: "0",
    ticket_autoresponder: "1",
    ticket_alert_active: "1",
    ticket_alert_admin: "",
    ticket_alert_dept_manager: "",
    ticket_alert_dept_members: "1",
    message_alert_active: "",
    message_autoresponder: "",
    note_alert_active: "",
    strip_quoted_reply: "1",
    reply_separator: SEPARATOR,
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

  it("mails about the thread only: no hidden div, a Ref-Mid line; a text reply quoting it is the requester's message", async () => {
    const mails = await mailsOf(env, smtp, created(), 2);
    const autoResponse = mailTo(mails, "trace.user@example.net");
    const id = autoResponse.parsed.messageId ?? "";
    expect(isOsTicketMessageId(id)).toBe(true);
    for (const m of mails) {
      expect(String(m.parsed.html)).not.toContain("mid-");
      expect(m.parsed.text?.trimEnd().split("\n").at(-1)).toBe(`Ref-Mid: ${bare(m.parsed.messageId ?? "")}`);
    }

    // The text part is Mailer::send's `rtrim(Format::html2text($body, 90, false))`: line breaks after <br>,
    // </div> and </p> only, tags stripped, wrapped at 90 bytes (as osTicket 1.18.1 gives it for this body).
    expect(autoResponse.parsed.text?.split("\nRef-Mid: ")[0]).toBe(
      "Dear Trace, A request for support has been created and assigned #771291. A representative\nwill follow-up with you as soon as possible. You can view this ticket's progress online. \n\nYour osTicket Test Helpdesk Team, \n Support Department \n If you wish to provide additional comments or information regarding the issue, please\nreply to this email or login to your account for a complete archive of your support\nrequests.",
    );

    // Thread::lookupByEmailHeaders reads the Ref-Mid line from the body: the requester's message, unparented.
    const byUser = threadedOnReplayedTicket(
      await reply(
        "Trace User <trace.user@example.net>",
        "text/plain",
        `Thanks.\n\n${quoted(autoResponse.parsed.text ?? "")}`,
      ),
    );
    expect(await entry(byUser)).toMatchObject({
      thread_id: threadId,
      pid: 0,
      type: "M",
      staff_id: 0,
      user_id: 28,
    });
  });

  it("mails about an entry: the hidden div with the reply separator tops the html; an agent's html reply quoting it is the agent's note", async () => {
    await execute(
      em,
      "INSERT INTO ost_thread_entry_email (thread_entry_id, mid, headers) VALUES (31, '<marker-first@mail.example.net>', ?)",
      ["Message-ID: <marker-first@mail.example.net>"],
    );
    const event = created();
    const mails = await mailsOf(env, smtp, event, 2);
    const alert = mailTo(mails, "admin@example.org");
    const alertId = alert.parsed.messageId ?? "";
    const html = String(alert.parsed.html);
    expect(
      html.startsWith(
        `<div style="display:none"\n                        class="mid-${bare(alertId)}">${SEPARATOR}<br/><br/></div>`,
      ),
    ).toBe(true);
    // The text part shows the separator (the div's text) and ends with the Ref-Mid line.
    const text = alert.parsed.text ?? "";
    expect(text.startsWith(SEPARATOR)).toBe(true);
    expect(
      text.endsWith(`\nRef-Mid: ${bare(alertId)}\n`) || text.endsWith(`\nRef-Mid: ${bare(alertId)}`),
    ).toBe(true);

    // Without the salt the ids are ostmesh's own, which name nothing: no marker.
    const unsalted = await planEmails(env.orm.em.fork(), event);
    expect(unsalted).toHaveLength(2);
    for (const e of unsalted) {
      expect(e.html).not.toContain("mid-");
      expect(isOsTicketMessageId(e.messageId)).toBe(false);
    }

    // The agent answers from a client that drops In-Reply-To and References but quotes the html: the quote is
    // cut at the separator inside the div, the marker left in the body names the entry and the agent.
    const byAgent = threadedOnReplayedTicket(
      await reply(
        "Admin User <admin@example.org>",
        "text/html",
        `<p>Looking into it.</p><blockquote>${html}</blockquote>`,
      ),
    );
    expect(await entry(byAgent)).toMatchObject({
      thread_id: threadId,
      pid: 31,
      type: "N",
      staff_id: 1,
      user_id: 0,
      poster: "Admin User",
    });
  });

  it("without quoted-reply stripping the div is empty, and a text reply quoting the Ref-Mid line is the requester's message on the entry", async () => {
    await setCoreConfig(em, { strip_quoted_reply: "0" });
    const mails = await mailsOf(env, smtp, created(), 2);
    const autoResponse = mailTo(mails, "trace.user@example.net");
    const id = autoResponse.parsed.messageId ?? "";
    expect(String(autoResponse.parsed.html)).toContain(`class="mid-${bare(id)}"></div>`);
    expect(String(autoResponse.parsed.html)).not.toContain(SEPARATOR);

    const byUser = threadedOnReplayedTicket(
      await reply(
        "Trace User <trace.user@example.net>",
        "text/plain",
        `Fine.\n\n${quoted(autoResponse.parsed.text ?? "")}`,
      ),
    );
    expect(await entry(byUser)).toMatchObject({
      thread_id: threadId,
      pid: 31,
      type: "M",
      staff_id: 0,
      user_id: 28,
    });
  });
});
