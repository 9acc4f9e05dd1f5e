import { type EntityManager, execute, query } from "@ostmesh/db";
import type { Event } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TestEnv } from "../testing/env.ts";
import {
  addressesOf,
  mailsOf,
  type ReplayedTicketMail,
  replayedTicketEvent,
  setCoreConfig,
  startReplayedTicketMail,
} from "../testing/mail.ts";
import type { TestSmtpServer } from "../testing/smtp.ts";

type CreatedFields = {
  cannedReplyEntryId?: number;
  cannedReplyAutorespond?: boolean;
  autorespond?: boolean;
  filterEmails?: {
    filterId: number;
    filterName: string;
    recipients: string;
    subject: string;
    message: string;
    fromEmailId: number;
  }[];
};

/** ticket.created for the replayed ticket 25 (#771291, "Trace ticket", Support), by an API key or agent 1. */
function ticketCreated(fields: CreatedFields, agent = 0): Event {
  return replayedTicketEvent(
    { case: "ticketCreated", value: { alert: false, autorespond: false, ...fields } },
    agent,
  );
}

/** The e-mails osTicket sends for a ticket filter's canned and email actions on a new ticket. */
describe("ticket filters' e-mails (Ticket::postCannedReply, FA_SendEmail)", () => {
  let env: TestEnv;
  let smtp: TestSmtpServer;
  let em: EntityManager;
  let owner = { name: "", email: "" };

  /** A canned reply on ticket 25 as the ticket service posts it, with a file. */
  async function cannedReply(): Promise<number> {
    const entry = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), type = 'R', thread_id = 25, format = 'html', staff_id = 0," +
        " poster = 'SYSTEM (Canned Reply)', flags = 192, pid = 31, body = '<p>Thanks, we are on it.</p>'",
    );
    const file = await execute(
      em,
      "INSERT INTO ost_file SET ft = 'T', bk = 'D', type = 'text/plain', size = 5, `key` = ?, signature = 'sig'," +
        " name = 'faq.txt', created = NOW()",
      [`canned${entry.insertId}`],
    );
    await execute(em, "INSERT INTO ost_file_chunk (file_id, chunk_id, filedata) VALUES (?, 0, ?)", [
      file.insertId,
      Buffer.from("F.A.Q"),
    ]);
    await execute(em, "INSERT INTO ost_attachment (object_id, type, file_id, inline) VALUES (?, 'H', ?, 0)", [
      entry.insertId,
      file.insertId,
    ]);
    return entry.insertId;
  }

  let fixture: ReplayedTicketMail | undefined;
  beforeAll(async () => {
    fixture = await startReplayedTicketMail("filter-emails", {
      secretSalt: null,
      prepare: async (fresh) => {
        em = fresh;
        const [row] = await query(
          em,
          "SELECT u.name, e.address FROM ost_user u JOIN ost_user_email e ON e.id = u.default_email_id WHERE u.id = 28",
        );
        owner = { name: String(row?.name), email: String(row?.address) };
      },
    });
    ({ env, em, smtp } = fixture);
  });
  afterAll(async () => {
    await fixture?.stop();
  });
  beforeEach(async () => {
    // The helpdesk's and the department's auto-response switches are off, and the department has an
    // auto-response e-mail of its own: none of that applies to the canned reply.
    await setCoreConfig(em, {
      ticket_autoresponder: "0",
      email_attachments: "1",
      helpdesk_url: "http://127.0.0.1/",
    });
    await execute(
      em,
      "UPDATE ost_department SET ticket_auto_response = 0, autoresp_email_id = 3 WHERE id = 1",
    );
  });

  it("e-mails the canned reply as the canned auto-reply (ticket.autoreply) from the department's e-mail, with its files", async () => {
    const entry = await cannedReply();
    const [reply, ...more] = await mailsOf(
      env,
      smtp,
      ticketCreated({ cannedReplyEntryId: entry, cannedReplyAutorespond: true }),
      1,
    );
    expect(more).toEqual([]);
    expect(reply?.rcptTo).toEqual([owner.email]);
    // Dept::getEmail: Support has none of its own, so the default e-mail, not its auto-response e-mail.
    expect(addressesOf(reply?.parsed.from)).toEqual(["support@example.com"]);
    expect(reply?.parsed.subject).toBe("Re: Trace ticket [#771291]");
    expect(reply?.parsed.html).toContain("<p>Thanks, we are on it.</p>");
    expect(reply?.parsed.html).toContain("with the following automatic reply");
    expect(reply?.parsed.html).toContain(`Dear ${owner.name.split(" ")[0]},`);
    const files = reply?.parsed.attachments ?? [];
    expect(files.map((f) => [f.filename, f.content.toString("utf8")])).toEqual([["faq.txt", "F.A.Q"]]);
  });

  it("sends nothing for a canned reply the ticket service did not mark for e-mail, nor for an agent's ticket", async () => {
    const entry = await cannedReply();
    expect(
      await mailsOf(
        env,
        smtp,
        ticketCreated({ cannedReplyEntryId: entry, cannedReplyAutorespond: false }),
        0,
      ),
    ).toEqual([]);
    expect(
      await mailsOf(
        env,
        smtp,
        ticketCreated({ cannedReplyEntryId: entry, cannedReplyAutorespond: true }, 1),
        0,
      ),
    ).toEqual([]);
  });

  it("sends each Send an Email action to every address of its list, rendered with the ticket's variables", async () => {
    const event = ticketCreated({
      filterEmails: [
        {
          filterId: 7,
          filterName: "VIP",
          recipients: `sales@example.com, "Bea Boss" <boss@example.com>, "${owner.name}" <${owner.email}>`,
          subject: "VIP ticket %{ticket.number}: %{ticket.subject}",
          message: "<p>%{recipient.name} wrote to %{ticket.dept.name}; see %{url}. User: %{user}</p>",
          fromEmailId: 2,
        },
        {
          filterId: 7,
          filterName: "VIP",
          recipients: "sales@example.com, not an address",
          subject: "Second",
          message: "<p>again</p>",
          fromEmailId: 0,
        },
      ],
    });
    const mails = await mailsOf(env, smtp, event, 4);
    const sent = mails.map((m) => ({
      to: m.rcptTo,
      from: addressesOf(m.parsed.from),
      fromName: (Array.isArray(m.parsed.from) ? m.parsed.from[0] : m.parsed.from)?.value[0]?.name,
      subject: m.parsed.subject,
    }));
    expect(sent).toEqual(
      expect.arrayContaining([
        ...["sales@example.com", "boss@example.com", owner.email].map((to) => ({
          to: [to],
          from: ["alerts@example.com"],
          fromName: "osTicket Alerts",
          subject: "VIP ticket 771291: Trace ticket",
        })),
        // No "From Email": the default e-mail.
        { to: ["sales@example.com"], from: ["support@example.com"], fromName: "Support", subject: "Second" },
      ]),
    );
    const toBoss = mails.find((m) => m.rcptTo.includes("boss@example.com"));
    // %{recipient} is the ticket's owner whoever the e-mail goes to, as FA_SendEmail fills it in first.
    expect(toBoss?.parsed.html).toContain(
      `<p>${owner.name} wrote to Support; see http://127.0.0.1/. User: &quot;${owner.name}&quot; &lt;${owner.email}&gt;</p>`,
    );
  });

  it("an agent's ticket gets its filters' e-mails too", async () => {
    const mails = await mailsOf(
      env,
      smtp,
      ticketCreated(
        {
          filterEmails: [
            {
              filterId: 8,
              filterName: "agent",
              recipients: "desk@example.com",
              subject: "Opened by an agent",
              message: "<p>x</p>",
              fromEmailId: 1,
            },
          ],
        },
        1,
      ),
      1,
    );
    expect(mails.map((m) => [m.rcptTo, m.parsed.subject])).toEqual([
      [["desk@example.com"], "Opened by an agent"],
    ]);
  });
});
