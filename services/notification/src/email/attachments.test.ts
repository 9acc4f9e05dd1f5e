import { create } from "@bufbuild/protobuf";
import { type EntityManager, execute } from "@ostmesh/db";
import { EventTypes } from "@ostmesh/proto";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TestEnv } from "../testing/env.ts";
import {
  mailsOf,
  type ReplayedTicketMail,
  replayedTicketEvent,
  setCoreConfig,
  startReplayedTicketMail,
} from "../testing/mail.ts";
import type { TestSmtpServer } from "../testing/smtp.ts";

let seq = 0;
/** An agent's response on ticket 25 (owner: Trace User), to be e-mailed to the user. */
function responseAdded(entryId: number): Event {
  seq++;
  return create(EventSchema, {
    id: `attach-${Date.now()}-${seq}`,
    type: EventTypes.TICKET_ENTRY_ADDED,
    origin: EventOrigin.OSTMESH,
    actor: { kind: PrincipalKind.AGENT, id: 1 },
    aggregate: { type: AggregateType.TICKET, id: 25 },
    ticket: { ticketId: 25, number: "771291", deptId: 1, userId: 28 },
    payload: {
      case: "threadEntryAdded",
      value: { entry: { id: entryId, type: ThreadEntryType.RESPONSE }, notify: true },
    },
  });
}

/** Files of a thread entry e-mailed with it (email_attachments; Ticket::postReply, Mailer::send). */
describe("e-mail attachments from osTicket's file storage", () => {
  let env: TestEnv;
  let smtp: TestSmtpServer;
  let em: EntityManager;

  const repliesOf = (event: Event) => mailsOf(env, smtp, event, 1, "ticket.reply");

  async function addResponse(): Promise<number> {
    const entry = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), type = 'R', thread_id = 25, format = 'html', staff_id = 1," +
        " poster = 'Admin User', flags = 64, pid = 31, body = '<p>The report is attached.</p>'",
    );
    return entry.insertId;
  }

  /** A file in osTicket's database storage ('D'), split into `chunks`, attached to `entryId` as `name`. */
  async function attachFile(
    entryId: number,
    file: { name: string; type: string; chunks: Buffer[]; attachedAs?: string; inline?: boolean },
  ): Promise<number> {
    const size = file.chunks.reduce((n, c) => n + c.length, 0);
    const row = await execute(
      em,
      "INSERT INTO ost_file SET ft = 'T', bk = 'D', type = ?, size = ?, `key` = ?, signature = ?, name = ?," +
        " created = NOW()",
      [file.type, size, `k${Date.now()}${seq}${file.name}`.slice(0, 86), "sig", file.name],
    );
    // Written out of order: the sender must put them together by chunk_id.
    for (const [i, chunk] of [...file.chunks.entries()].reverse())
      await execute(em, "INSERT INTO ost_file_chunk (file_id, chunk_id, filedata) VALUES (?, ?, ?)", [
        row.insertId,
        i,
        chunk,
      ]);
    await execute(
      em,
      "INSERT INTO ost_attachment (object_id, type, file_id, name, inline) VALUES (?, 'H', ?, ?, ?)",
      [entryId, row.insertId, file.attachedAs ?? null, file.inline ? 1 : 0],
    );
    return row.insertId;
  }

  let fixture: ReplayedTicketMail | undefined;
  beforeAll(async () => {
    fixture = await startReplayedTicketMail("attachments", { secretSalt: null });
    ({ env, em, smtp } = fixture);
  });
  afterAll(async () => {
    await fixture?.stop();
  });
  beforeEach(async () => {
    await setCoreConfig(em, { email_attachments: "1", max_file_size: "1048576" });
  });

  it("attaches the reply's file under its attachment name, with its type and every chunk's bytes", async () => {
    const entry = await addResponse();
    const head = Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0x80, 0x0a]);
    const tail = Buffer.from("binary tail \u00e9", "utf8");
    await attachFile(entry, {
      name: "upload-4711.pdf",
      attachedAs: "Quarterly report.pdf",
      type: "application/pdf",
      chunks: [head, tail],
    });
    await attachFile(entry, {
      name: "logo.png",
      type: "image/png",
      chunks: [Buffer.from("inline image")],
      inline: true,
    });
    const [reply, ...more] = await repliesOf(responseAdded(entry));
    expect(more).toEqual([]);
    // The inline image belongs to the body; only the file attachment goes along.
    const files = reply?.parsed.attachments ?? [];
    expect(files.map((f) => f.filename)).toEqual(["Quarterly report.pdf"]);
    expect(files[0]?.contentType).toBe("application/pdf");
    expect(files[0]?.content.equals(Buffer.concat([head, tail]))).toBe(true);
  });

  it("uses the file's own name when the attachment gives none", async () => {
    const entry = await addResponse();
    await attachFile(entry, { name: "notes.txt", type: "text/plain", chunks: [Buffer.from("plain notes")] });
    const [reply] = await repliesOf(responseAdded(entry));
    const files = reply?.parsed.attachments ?? [];
    expect(files.map((f) => [f.filename, f.contentType, f.content.toString("utf8")])).toEqual([
      ["notes.txt", "text/plain", "plain notes"],
    ]);
  });

  it("sends the reply without its files when email_attachments is off", async () => {
    await setCoreConfig(em, { email_attachments: "0" });
    const entry = await addResponse();
    await attachFile(entry, { name: "secret.txt", type: "text/plain", chunks: [Buffer.from("kept back")] });
    const [reply] = await repliesOf(responseAdded(entry));
    expect(reply?.parsed.html).toContain("<p>The report is attached.</p>");
    expect(reply?.parsed.attachments).toEqual([]);
  });

  it("leaves out a file larger than max_file_size and still sends the reply", async () => {
    await setCoreConfig(em, { max_file_size: "10" });
    const entry = await addResponse();
    await attachFile(entry, {
      name: "big.bin",
      type: "application/octet-stream",
      chunks: [Buffer.alloc(11)],
    });
    await attachFile(entry, { name: "small.txt", type: "text/plain", chunks: [Buffer.from("tiny")] });
    const [reply] = await repliesOf(responseAdded(entry));
    expect((reply?.parsed.attachments ?? []).map((f) => f.filename)).toEqual(["small.txt"]);
  });
  it("embeds the images the HTML names by cid: (the alerts' osTicket logo) inline, under the sender's domain", async () => {
    await setCoreConfig(em, {
      ticket_alert_active: "1",
      ticket_alert_admin: "1",
      ticket_alert_dept_manager: "",
      ticket_alert_dept_members: "",
      // Inline images go along whatever email_attachments says.
      email_attachments: "0",
    });
    const created = replayedTicketEvent(
      {
        case: "ticketCreated",
        value: { ticket: { id: 25, number: "771291" }, message: { id: 31 }, alert: true, autorespond: false },
      },
      0,
    );
    const [alert, ...more] = await mailsOf(env, smtp, created, 1, "ticket.alert");
    expect(more).toEqual([]);
    // The default template's logo, ost_file 1 (key b56944cb4722cc5cda9d1e23a3ea7fbc), sent from support@example.com.
    // The HTML as sent (quoted-printable soft breaks undone) names the part; mailparser resolves it to data:.
    expect(alert?.raw.replace(/=\r?\n/g, "")).toContain(
      'src=3D"cid:b56944cb4722cc5cda9d1e23a3ea7fbc@example.com"',
    );
    expect(alert?.parsed.html).toContain('src="data:image/png;base64,');
    const logo = (alert?.parsed.attachments ?? []).find((f) => f.filename === "powered-by-osticket.png");
    expect(logo?.cid).toBe("b56944cb4722cc5cda9d1e23a3ea7fbc@example.com");
    expect(logo?.contentDisposition).toBe("inline");
    expect(logo?.contentType).toBe("image/png");
    expect(logo?.content.length).toBe(9452);
    expect(alert?.raw).toMatch(/^Content-Type: multipart\/related;/m);
  });
});
