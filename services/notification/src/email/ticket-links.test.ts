import { type EntityManager, execute, query } from "@ostmesh/db";
import type { Event } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TestEnv } from "../testing/env.ts";
import {
  mailsOf,
  replayedTicketCreated,
  replayedTicketEvent,
  replayedTicketMailSuite,
  setCoreConfig,
  TEST_SECRET_SALT,
} from "../testing/mail.ts";
import type { TestSmtpServer } from "../testing/smtp.ts";
import { authToken } from "./ticket-links.ts";

/** The hrefs of an e-mail's HTML part. */
function links(html: unknown): string[] {
  return [...String(html).matchAll(/href="([^"]*)"/g)].map((m) => String(m[1]).replace(/&amp;/g, "&"));
}

/**
 * %{recipient.ticket_link} in the end users' e-mails, as TicketOwner and Collaborator word it: the owner's
 * link logs them in with the ticket's auth token while the ticket has no collaborators, else it is the plain
 * view.php?id= link; a collaborator's is tickets.php?id=.
 */
describe("end users' ticket links", () => {
  let env: TestEnv;
  let smtp: TestSmtpServer;
  let em: EntityManager;
  let threadId = 0;

  const created = (): Event => replayedTicketCreated({ alert: false, autorespond: true });

  const fixture = replayedTicketMailSuite("ticket_links", {
    verify_email_addrs: "0",
    ticket_autoresponder: "1",
    message_autoresponder: "1",
    message_autoresponder_collabs: "",
    ticket_alert_active: "",
    message_alert_active: "",
    allow_auth_tokens: "1",
  });
  beforeAll(() => {
    ({ env, em, smtp, threadId } = fixture());
  });
  beforeEach(async () => {
    await execute(
      em,
      "UPDATE ost_department SET ticket_auto_response = 1, message_auto_response = 1 WHERE id = 1",
    );
    await execute(em, "DELETE FROM ost_thread_collaborator WHERE thread_id = ?", [threadId]);
  });

  it("computes Ticket::getAuthToken as osTicket 1.18.1 did for its owner (user 1, ticket 1)", () => {
    expect(authToken(1, 1, "2026-11-27 09:55:25", "XcheckSaltR4nd0mString0123456789ABCDEFabcdef")).toBe(
      "o1xaeaaaaabaaaaa0eVk77dyu06kCQ==",
    );
  });

  it("gives the owner of a ticket without collaborators the signed link, unless auth tokens are off", async () => {
    const [ticket] = await query(
      em,
      "SELECT DATE_FORMAT(created, '%Y-%m-%d %H:%i:%s') AS created FROM ost_ticket WHERE ticket_id = 25",
    );
    const token = authToken(28, 25, String(ticket?.created), TEST_SECRET_SALT);
    const [signed] = await mailsOf(env, smtp, created(), 1);
    expect(signed?.rcptTo).toEqual(["trace.user@example.net"]);
    expect(links(signed?.parsed.html)).toContain(
      `http://127.0.0.1/view.php?auth=${encodeURIComponent(token)}`,
    );

    await setCoreConfig(em, { allow_auth_tokens: "0" });
    const [plain] = await mailsOf(env, smtp, created(), 1);
    expect(links(plain?.parsed.html)).toContain("http://127.0.0.1/view.php?id=25");
    expect(String(plain?.parsed.html)).not.toContain("trace.user%40example.net");
  });

  it("gives the owner the plain link once the ticket has collaborators, and a collaborator tickets.php?id=", async () => {
    const user = await execute(
      em,
      "INSERT INTO ost_user SET org_id = 0, default_email_id = 0, status = 0, name = 'Cora Collab'," +
        " created = NOW(), updated = NOW()",
    );
    const address = await execute(em, "INSERT INTO ost_user_email SET user_id = ?, flags = 0, address = ?", [
      user.insertId,
      "cora@example.net",
    ]);
    await execute(em, "UPDATE ost_user SET default_email_id = ? WHERE id = ?", [
      address.insertId,
      user.insertId,
    ]);
    await execute(
      em,
      "INSERT INTO ost_thread_collaborator SET flags = 3, thread_id = ?, user_id = ?, role = 'M'," +
        " created = NOW(), updated = NOW()",
      [threadId, user.insertId],
    );

    const [owner] = await mailsOf(env, smtp, created(), 1);
    expect(owner?.rcptTo).toEqual(["trace.user@example.net"]);
    expect(links(owner?.parsed.html)).toContain("http://127.0.0.1/view.php?id=25");
    expect(links(owner?.parsed.html).filter((l) => l.includes("auth="))).toEqual([]);

    const message = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), updated = NOW(), type = 'M', thread_id = ?, format = 'text'," +
        " user_id = ?, poster = 'Cora Collab', source = 'API', flags = 0, pid = 31, body = 'Same here.'",
      [threadId, user.insertId],
    );
    const [collaborator] = await mailsOf(
      env,
      smtp,
      replayedTicketEvent(
        {
          case: "threadEntryAdded",
          value: { entry: { id: message.insertId, type: ThreadEntryType.MESSAGE } },
        },
        0,
      ),
      1,
    );
    expect(collaborator?.rcptTo).toEqual(["cora@example.net"]);
    expect(collaborator?.parsed.subject).toBe("Message Confirmation");
    // Collaborator's ticket_link, never the owner's address.
    expect(links(collaborator?.parsed.html)).toContain("http://127.0.0.1/tickets.php?id=25");
    expect(String(collaborator?.parsed.html)).not.toContain("trace.user");
  });
  it("gives the owner alone on an agent's reply the signed link though the ticket has collaborators", async () => {
    const [user] = await query(em, "SELECT id FROM ost_user WHERE name = 'Cora Collab'");
    // An inactive collaborator: the reply goes to the owner alone (Ticket::postReply's single recipient).
    await execute(
      em,
      "INSERT INTO ost_thread_collaborator SET flags = 2, thread_id = ?, user_id = ?, role = 'M'," +
        " created = NOW(), updated = NOW()",
      [threadId, user?.id],
    );
    const [ticket] = await query(
      em,
      "SELECT DATE_FORMAT(created, '%Y-%m-%d %H:%i:%s') AS created FROM ost_ticket WHERE ticket_id = 25",
    );
    const response = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), updated = NOW(), type = 'R', thread_id = ?, format = 'html'," +
        " staff_id = 1, poster = 'Admin User', source = '', flags = 0, pid = 31, body = '<p>Fixed.</p>'",
      [threadId],
    );
    const [reply] = await mailsOf(
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
    expect(reply?.rcptTo).toEqual(["trace.user@example.net"]);
    const token = authToken(28, 25, String(ticket?.created), TEST_SECRET_SALT);
    expect(links(reply?.parsed.html)).toContain(
      `http://127.0.0.1/view.php?auth=${encodeURIComponent(token)}`,
    );
  });
});
