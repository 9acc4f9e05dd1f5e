import { Code } from "@connectrpc/connect";
import { rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import { DeniedSchema, ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { TicketSource, TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { IngestOutcome } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ATT, LVL_MESSAGE, outlookTnef, tnefBlock, tnefStream } from "../email/testing-tnef.ts";
import { type TicketHarness, ticketHarness } from "../testing/harness.ts";

let h: TicketHarness;
/** The service's log lines (JSON objects). */
const logged: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const sink = { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) };
  h = await ticketHarness("email", { logger: pino({ level: "info" }, sink) });
});
afterAll(async () => {
  await h?.close();
});

function mail(o: {
  from: string;
  subject: string;
  mid: string;
  body?: string;
  extra?: string[];
}): Uint8Array {
  return Buffer.from(
    [
      `From: ${o.from}`,
      "To: Support <support@example.com>",
      `Subject: ${o.subject}`,
      `Message-ID: ${o.mid}`,
      "Date: Mon, 02 Mar 2026 09:00:00 +0000",
      ...(o.extra ?? []),
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "",
      o.body ?? "Hello, my printer is broken.",
      "",
    ].join("\r\n"),
  );
}

describe("IngestEmail", () => {
  it("opens a ticket, threads a reply onto it, and ignores a re-delivery, with events for each write", async () => {
    const headers = await h.service();
    const events = (await h.events()).length;
    const first = await h.client.ingestEmail(
      {
        rawMessage: mail({
          from: "Mel Mailer <mel@example.com>",
          subject: "Printer jam",
          mid: "<m1@example.com>",
        }),
        ipAddress: "10.0.0.7",
      },
      { headers },
    );
    expect(first.outcome).toBe(IngestOutcome.NEW_TICKET);
    expect(first.ticket).toMatchObject({ subject: "Printer jam", source: TicketSource.EMAIL, emailId: 1 });
    expect(first.threadEntryId).toBeGreaterThan(0);

    await h.client.changeStatus(
      { ticketId: first.ticket?.id ?? 0, statusId: 3 },
      { headers: await h.agent() },
    );
    const reply = await h.client.ingestEmail(
      {
        rawMessage: mail({
          from: "Mel Mailer <mel@example.com>",
          subject: "Re: Printer jam",
          mid: "<m2@example.com>",
          extra: ["In-Reply-To: <m1@example.com>"],
          body: "Still jammed.",
        }),
      },
      { headers },
    );
    expect(reply.outcome).toBe(IngestOutcome.THREADED_REPLY);
    expect(reply.ticket?.id).toBe(first.ticket?.id);
    expect(reply.ticket?.status?.state).toBe(TicketState.OPEN);

    const counts = await h.counts();
    const again = await h.client.ingestEmail(
      {
        rawMessage: mail({
          from: "Mel Mailer <mel@example.com>",
          subject: "Re: Printer jam",
          mid: "<m2@example.com>",
        }),
      },
      { headers },
    );
    expect(again).toMatchObject({
      outcome: IngestOutcome.REDELIVERY,
      threadEntryId: 0,
      ticket: { id: first.ticket?.id },
    });
    expect(await h.counts()).toEqual(counts);

    const all = (await h.events()).slice(events);
    expect(all.map((e) => e.type)).toEqual([
      "ticket.created",
      "ticket.status_changed",
      "ticket.entry_added",
      "ticket.status_changed",
    ]);
    const added = all[2];
    if (added?.payload.case !== "threadEntryAdded") throw new Error("unexpected payload");
    expect(added.payload.value).toMatchObject({
      viaEmail: true,
      bounceOrAutoReply: false,
      entry: { id: reply.threadEntryId },
    });
    const reopened = all[3];
    if (reopened?.payload.case !== "ticketStatusChanged") throw new Error("unexpected payload");
    expect(reopened.payload.value.reopened).toBe(true);
  });

  it("marks a threaded auto-reply's entry event, so that nobody is alerted or auto-responded to", async () => {
    const headers = await h.service();
    const first = await h.client.ingestEmail(
      { rawMessage: mail({ from: "Olga <olga@example.com>", subject: "Toner", mid: "<o1@example.com>" }) },
      { headers },
    );
    const events = (await h.events()).length;
    const reply = await h.client.ingestEmail(
      {
        rawMessage: mail({
          from: "Olga <olga@example.com>",
          subject: "Out of office: Re: Toner",
          mid: "<o2@example.com>",
          extra: ["In-Reply-To: <o1@example.com>", "Auto-Submitted: auto-replied"],
          body: "I am away until Monday.",
        }),
      },
      { headers },
    );
    expect(reply.outcome).toBe(IngestOutcome.THREADED_REPLY);
    expect(reply.ticket?.id).toBe(first.ticket?.id);
    const added = (await h.events()).slice(events).find((e) => e.type === "ticket.entry_added");
    if (added?.payload.case !== "threadEntryAdded") throw new Error("no entry event");
    expect(added.payload.value).toMatchObject({
      viaEmail: true,
      bounceOrAutoReply: true,
      entry: { id: reply.threadEntryId },
    });
  });

  it("replays a retried call with the same key", async () => {
    const headers = await h.service();
    const request = {
      idempotencyKey: "mail-1",
      rawMessage: mail({ from: "kay@example.com", subject: "Keyed", mid: "<k1@example.com>" }),
    };
    const first = await h.client.ingestEmail(request, { headers });
    const again = await h.client.ingestEmail(request, { headers });
    expect(again).toEqual(first);
    expect(again.outcome).toBe(IngestOutcome.NEW_TICKET);
  });

  it("refuses what is not a message, a banned sender (keeping its Message-ID), and callers without rights", async () => {
    const headers = await h.service();
    const empty = await rejectionOf(h.client.ingestEmail({ rawMessage: new Uint8Array() }, { headers }));
    expect(empty.findDetails(ValidationErrorsSchema)[0]?.violations[0]?.field).toBe("raw_message");
    // No header at all (EmailDataParser::onParseError without header info): osTicket's own text.
    const garbage = await rejectionOf(
      h.client.ingestEmail({ rawMessage: Buffer.from("\r\n\r\nnot a mail at all") }, { headers }),
    );
    expect(garbage.code).toBe(Code.InvalidArgument);
    expect(garbage.findDetails(ValidationErrorsSchema)[0]?.violations[0]?.description).toBe(
      "Email parse failed: []",
    );
    // Our own reason stays in the service's log.
    expect(logged).toContainEqual(
      expect.objectContaining({ reason: "the message starts with an empty line (no header section)" }),
    );
    // The legacy API takes an empty body like osTicket: a header-less parse-error mail without a sender.
    const legacyEmpty = await rejectionOf(
      h.client.ingestEmail({ rawMessage: new Uint8Array(), legacy: true }, { headers }),
    );
    expect(legacyEmpty.findDetails(ValidationErrorsSchema)[0]?.violations[0]).toMatchObject({
      legacyKey: "user",
      description: "Incomplete client information",
    });
    expect(logged).toContainEqual(
      expect.objectContaining({
        reason: "no header section followed by a body",
        osTicketText: "Email parse failed: []",
      }),
    );

    await h.exec(
      "INSERT INTO ost_filter_rule (filter_id, what, how, val, isactive, created, updated)" +
        " SELECT id, 'email', 'equal', 'spam@example.com', 1, NOW(), NOW() FROM ost_filter WHERE name = 'SYSTEM BAN LIST'",
    );
    const tickets = await h.query("SELECT COUNT(*) AS n FROM ost_ticket");
    const denied = await rejectionOf(
      h.client.ingestEmail(
        { rawMessage: mail({ from: "spam@example.com", subject: "Buy", mid: "<spam1@example.com>" }) },
        { headers },
      ),
    );
    expect(denied.code).toBe(Code.PermissionDenied);
    expect(denied.findDetails(DeniedSchema)[0]?.email).toBe("spam@example.com");
    expect(await h.query("SELECT COUNT(*) AS n FROM ost_ticket")).toEqual(tickets);
    expect(
      await h.query("SELECT thread_entry_id FROM ost_thread_entry_email WHERE mid = '<spam1@example.com>'"),
    ).toEqual([{ thread_entry_id: 0 }]);
    // A legacy request (POST /api/tickets.email) is denied the same way but records nothing.
    const legacyDenied = await rejectionOf(
      h.client.ingestEmail(
        {
          rawMessage: mail({ from: "spam@example.com", subject: "Buy", mid: "<spam2@example.com>" }),
          legacy: true,
        },
        { headers },
      ),
    );
    expect(legacyDenied.code).toBe(Code.PermissionDenied);
    expect(await h.query("SELECT * FROM ost_thread_entry_email WHERE mid = '<spam2@example.com>'")).toEqual(
      [],
    );

    const agent = await rejectionOf(
      h.client.ingestEmail(
        { rawMessage: mail({ from: "a@example.com", subject: "x", mid: "<a1@example.com>" }) },
        { headers: await h.agent() },
      ),
    );
    expect(agent.code).toBe(Code.PermissionDenied);
  });

  it("unpacks a winmail.dat into the TNEF's files and html body; one that does not decode stays a file and is logged", async () => {
    const headers = await h.service();
    const outlook = (mid: string, tnef: Buffer) =>
      Buffer.from(
        [
          "From: Olga Outlook <olga@example.com>",
          "To: Support <support@example.com>",
          "Subject: Minutes",
          `Message-ID: ${mid}`,
          "MIME-Version: 1.0",
          'Content-Type: multipart/mixed; boundary="B"',
          "",
          "--B",
          "Content-Type: text/plain; charset=utf-8",
          "",
          "See the minutes.",
          "--B",
          'Content-Type: application/ms-tnef; name="winmail.dat"',
          "Content-Transfer-Encoding: base64",
          "",
          tnef.toString("base64"),
          "--B--",
          "",
        ].join("\r\n"),
      );
    const files = (entryId: number) =>
      h.query(
        "SELECT f.name, f.type, f.size FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id" +
          " WHERE a.type = 'H' AND a.object_id = ? ORDER BY a.id",
        [entryId],
      );
    const minutes = Buffer.from("Minutes of the meeting\n");
    const good = await h.client.ingestEmail(
      {
        rawMessage: outlook(
          "<tnef-good@example.com>",
          outlookTnef({
            oemCodepage: 1252,
            htmlBody: Buffer.from("<p>Minutes attached.</p>"),
            files: [
              { title: "MINUTE~1.TXT", longName: "minutes.txt", mimeType: "text/plain", data: minutes },
            ],
          }),
        ),
        legacy: true,
      },
      { headers },
    );
    expect(good.outcome).toBe(IngestOutcome.NEW_TICKET);
    expect(await files(good.threadEntryId)).toEqual([
      { name: "minutes.txt", type: "text/plain", size: minutes.length },
    ]);
    expect(
      await h.query("SELECT body, format FROM ost_thread_entry WHERE id = ?", [good.threadEntryId]),
    ).toEqual([{ body: "<p>Minutes attached.</p>", format: "html" }]);

    const corrupt = tnefStream([tnefBlock(LVL_MESSAGE, ATT.tnefVersion, Buffer.from([0, 0, 1, 0]), 0)]);
    const bad = await h.client.ingestEmail(
      { rawMessage: outlook("<tnef-bad@example.com>", corrupt), legacy: true },
      { headers },
    );
    expect(await files(bad.threadEntryId)).toEqual([
      { name: "winmail.dat", type: "application/ms-tnef", size: corrupt.length },
    ]);
    expect(logged).toContainEqual(
      expect.objectContaining({
        notes: ["TNEF parsing exception: Corrupted block. 0001: Invalid checksum, expected 0000"],
      }),
    );
  });
});
