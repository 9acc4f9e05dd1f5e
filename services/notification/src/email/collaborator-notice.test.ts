import { type EntityManager, execute, query } from "@ostmesh/db";
import type { Event } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
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

/** A message (entry `entryId`) added through the API on ticket 25. */
function messageAdded(
  entryId: number,
  extra: { viaEmail?: boolean; bounceOrAutoReply?: boolean } = {},
): Event {
  return replayedTicketEvent(
    {
      case: "threadEntryAdded",
      value: { entry: { id: entryId, type: ThreadEntryType.MESSAGE }, ...extra },
    },
    0,
  );
}

/** osTicket's collaborator notice (ticket.activity.notice) for end users' messages posted on the web or by API. */
describe("collaborator notice on a new message (Ticket::notifyCollaborators)", () => {
  let env: TestEnv;
  let smtp: TestSmtpServer;
  let em: EntityManager;
  let active = 0;
  let inactive = 0;

  const setConfig = (key: string, value: string) => setCoreConfig(em, { [key]: value });
  const noticesOf = (event: Event, expected: number) =>
    mailsOf(env, smtp, event, expected, "ticket.activity.notice");

  async function addUser(name: string, address: string): Promise<number> {
    await execute(em, "INSERT INTO ost_user_email (user_id, address) VALUES (0, ?)", [address]);
    const [row] = await query(em, "SELECT id FROM ost_user_email WHERE address = ?", [address]);
    const user = await execute(
      em,
      "INSERT INTO ost_user (org_id, default_email_id, name, created, updated) VALUES (0, ?, ?, NOW(), NOW())",
      [Number(row?.id), name],
    );
    await execute(em, "UPDATE ost_user_email SET user_id = ? WHERE id = ?", [user.insertId, Number(row?.id)]);
    return user.insertId;
  }

  async function addMessage(userId: number, poster: string, source: string): Promise<number> {
    const entry = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), type = 'M', thread_id = 25, format = 'html', user_id = ?," +
        " poster = ?, source = ?, flags = 512, pid = 31, body = '<p>Any news &amp; an ETA?</p>'",
      [userId, poster, source],
    );
    return entry.insertId;
  }

  let fixture: ReplayedTicketMail | undefined;
  beforeAll(async () => {
    fixture = await startReplayedTicketMail("collabnotice", {
      secretSalt: null,
      prepare: async (fresh) => {
        em = fresh;
        active = await addUser("Carla Colleague", "carla@example.net");
        inactive = await addUser("Ivan Inactive", "ivan@example.net");
        await execute(
          em,
          "INSERT INTO ost_thread_collaborator (flags, thread_id, user_id, role, created, updated)" +
            " VALUES (1, 25, ?, 'M', NOW(), NOW()), (0, 25, ?, 'M', NOW(), NOW())",
          [active, inactive],
        );
      },
    });
    ({ env, em, smtp } = fixture);
  });
  afterAll(async () => {
    await fixture?.stop();
  });
  beforeEach(async () => {
    await setConfig("message_autoresponder_collabs", "1");
  });

  it("sends the owner's API message to the active collaborator alone, greeted as Collaborator", async () => {
    const [notice, ...more] = await noticesOf(messageAdded(await addMessage(28, "Trace User", "API")), 1);
    expect(more).toEqual([]);
    // The owner (the poster) and the inactive collaborator are left out.
    expect(notice?.rcptTo).toEqual(["carla@example.net"]);
    expect(addressesOf(notice?.parsed.from)).toEqual(["support@example.com"]);
    expect(notice?.parsed.subject).toBe("Re: Trace ticket [#771291]");
    expect(notice?.parsed.html).toContain("<strong>Dear Collaborator,</strong>");
    expect(notice?.parsed.html).toContain("<em>Trace User</em> just logged a message");
    expect(notice?.parsed.html).toContain("<p>Any news &amp; an ETA?</p>");
    expect(notice?.parsed.html).toMatch(/href="[^"]*\/tickets\.php\?id=25"/);
  });

  it("sends a collaborator's web message to the owner on To, greeted by name", async () => {
    const [notice, ...more] = await noticesOf(
      messageAdded(await addMessage(active, "Carla Colleague", "Web")),
      1,
    );
    expect(more).toEqual([]);
    expect(notice?.rcptTo).toEqual(["trace.user@example.net"]);
    expect(addressesOf(notice?.parsed.to)).toEqual(["trace.user@example.net"]);
    expect(addressesOf(notice?.parsed.cc)).toEqual([]);
    expect(notice?.parsed.html).toContain("<strong>Dear Trace,</strong>");
    expect(notice?.parsed.html).toContain("<em>Carla Colleague</em> just logged a message");
    expect(notice?.parsed.html).toMatch(/href="[^"]*\/view\.php\?id=25"/);
  });

  it("sends no notice for a message by e-mail, a bounce or auto-reply, or with the setting off", async () => {
    const byEmail = await addMessage(28, "Trace User", "Email");
    expect(await noticesOf(messageAdded(byEmail, { viaEmail: true }), 0)).toEqual([]);
    const bounce = await addMessage(28, "Trace User", "API");
    expect(await noticesOf(messageAdded(bounce, { bounceOrAutoReply: true }), 0)).toEqual([]);
    await setConfig("message_autoresponder_collabs", "0");
    expect(await noticesOf(messageAdded(await addMessage(28, "Trace User", "API")), 0)).toEqual([]);
  });

  it("auto-responds to a message of the owner or a collaborator, never of a user the ticket does not know (Ticket::onMessage)", async () => {
    await setCoreConfig(em, { message_autoresponder: "1", message_autoresponder_collabs: "0" });
    const stranger = await addUser("Sid Stranger", "sid@example.net");
    const confirmationsOf = (event: Event, expected: number) =>
      mailsOf(env, smtp, event, expected, "message.autoresp");
    const [toOwner] = await confirmationsOf(messageAdded(await addMessage(28, "Trace User", "API")), 1);
    expect(toOwner?.rcptTo).toEqual(["trace.user@example.net"]);
    // An inactive collaborator is still the thread's collaborator.
    const [toCollaborator] = await confirmationsOf(
      messageAdded(await addMessage(inactive, "Ivan Inactive", "API")),
      1,
    );
    expect(toCollaborator?.rcptTo).toEqual(["ivan@example.net"]);
    expect(await confirmationsOf(messageAdded(await addMessage(stranger, "Sid Stranger", "API")), 0)).toEqual(
      [],
    );
  });
});
