/**
 * A message's body in the e-mails about it when the event leaves it out (ThreadEntry.body_omitted: bodies
 * too large to carry) and osTicket keeps it in a file (ThreadEntry::create moves a body of 65,000
 * characters or more into an inline `.txt` file, leaving the column empty).
 */
import { execute, query } from "@ostmesh/db";
import { beforeAll, describe, expect, it } from "vitest";
import {
  mailsOf,
  mailTo,
  type ReplayedTicketMail,
  replayedTicketEvent,
  replayedTicketMailSuite,
} from "../testing/mail.ts";

describe("a message body the event leaves out", () => {
  // The new-ticket alert to the department's members (agent 1, admin@example.org) quotes the message.
  const mail = replayedTicketMailSuite("long_bodies", {
    ticket_autoresponder: "0",
    ticket_alert_active: "1",
    ticket_alert_admin: "",
    ticket_alert_dept_manager: "",
    ticket_alert_dept_members: "1",
  });
  let fixture: ReplayedTicketMail;
  beforeAll(async () => {
    fixture = mail();
    await execute(fixture.em, "UPDATE ost_department SET manager_id = 0 WHERE id = 1");
  });

  /** Moves entry 31's body into an inline file of `chunks` parts, as osTicket stores a long body. */
  async function moveBodyToFile(body: string, chunks: number): Promise<void> {
    const { em } = fixture;
    const data = Buffer.from(body, "utf8");
    const file = await execute(
      em,
      "INSERT INTO ost_file (ft, bk, type, size, `key`, signature, name, attrs, created)" +
        " VALUES ('T', 'D', 'text/html', ?, 'LongBodyNotice00000000000000001', 'sig', 'long.txt', NULL, NOW())",
      [data.length],
    );
    const size = Math.ceil(data.length / chunks);
    for (let i = 0; i < chunks; i++)
      await execute(em, "INSERT INTO ost_file_chunk (file_id, chunk_id, filedata) VALUES (?, ?, ?)", [
        file.insertId,
        i,
        data.subarray(i * size, (i + 1) * size),
      ]);
    await execute(
      em,
      "INSERT INTO ost_attachment (object_id, type, file_id, name, inline) VALUES (31, 'H', ?, NULL, 1)",
      [file.insertId],
    );
    await execute(em, "UPDATE ost_thread_entry SET body = '' WHERE id = 31");
  }

  it("is read from the entry's file for the alert", async () => {
    const [before] = await query(fixture.em, "SELECT body FROM ost_thread_entry WHERE id = 31");
    expect(String(before?.body)).not.toContain("Closing words of a long message");
    await moveBodyToFile(
      `<p>${"A sentence of a long message. ".repeat(2500)}Closing words of a long message</p>`,
      3,
    );
    const event = replayedTicketEvent(
      {
        case: "ticketCreated",
        value: {
          ticket: { id: 25, number: "771291" },
          // As the ticket service sends an entry whose body was too large for the event.
          message: { id: 31, body: "", bodyOmitted: true, bodyInAttachment: true },
          alert: true,
          autorespond: false,
        },
      },
      0,
    );
    const [alert] = await mailsOf(fixture.env, fixture.smtp, event, 1);
    const html = String(mailTo(alert ? [alert] : [], "admin@example.org").parsed.html);
    expect(html).toContain("A sentence of a long message.");
    expect(html).toContain("Closing words of a long message");
  });
});
