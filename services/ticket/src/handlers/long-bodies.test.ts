/**
 * Bodies of 65,000 characters or more, as ThreadEntry::create stores them: the entry's body empty, the body
 * in an inline `text/html` file `<md5>.txt` linked last; and read back whole, also where osTicket wrote them.
 */
import { createHash } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { bodySearchable } from "@ostmesh/kit/osticket/html/format.ts";
import { rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import { MessageFormat } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import type { ThreadEntry } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertUser, type TicketHarness, ticketHarness } from "../testing/harness.ts";

let h: TicketHarness;
let ownerId: number;

beforeAll(async () => {
  h = await ticketHarness("long_bodies");
  ownerId = await insertUser(h, { name: "Lena Long", email: "lena.long@example.com" });
});
afterAll(async () => {
  await h?.close();
});

/** A text body of at least `bytes` bytes (ASCII: as many characters), stored as sent. */
function textBody(bytes: number): string {
  const lines: string[] = [];
  for (let i = 1, size = 0; size < bytes; i++) {
    const line = `line ${i} of a long message`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join("\n");
}

/** An html body of at least `bytes` bytes, stored as sent. */
function htmlBody(bytes: number): string {
  const parts: string[] = [];
  for (let i = 1, size = 0; size < bytes; i++) {
    const part = `<p>Paragraph ${i} of a <strong>long</strong> message</p>`;
    parts.push(part);
    size += part.length;
  }
  return parts.join("");
}

const TEXT_70K = textBody(70_000);
const HTML_70K = htmlBody(70_000);

/** What a TEXT column keeps of a value under sql_mode '' (65,535 bytes, whole characters). */
function textColumn(value: string): string {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length <= 65_535) return value;
  let end = 65_535;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}

/** The entry's row, its files and its search row, as the tests compare them with osTicket's. */
async function stored(entryId: number) {
  const [entry] = await h.query("SELECT body, format FROM ost_thread_entry WHERE id = ?", [entryId]);
  const files = await h.query(
    "SELECT a.id AS attachment_id, a.name AS alias, a.inline, a.type AS object_type, f.id AS file_id, f.name," +
      " f.type, f.size, f.ft, f.bk, (SELECT COUNT(*) FROM ost_file_chunk c WHERE c.file_id = f.id) AS chunks," +
      " (SELECT c.filedata FROM ost_file_chunk c WHERE c.file_id = f.id AND c.chunk_id = 0) AS filedata" +
      " FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.object_id = ? AND a.type = 'H' ORDER BY a.id",
    [entryId],
  );
  const [search] = await h.query(
    "SELECT title, content FROM ost__search WHERE object_type = 'H' AND object_id = ?",
    [entryId],
  );
  return { entry, files, search };
}

/** Checks the rows of an entry whose body went into a file, as ThreadEntry::create writes them. */
async function expectBodyInFile(entryId: number, body: string, format: "text" | "html", otherFiles = 0) {
  const { entry, files, search } = await stored(entryId);
  // osTicket sets the body NULL, which its ORM leaves out of the INSERT: the NOT NULL column's default ''.
  expect(entry).toEqual({ body: "", format });
  const data = Buffer.from(body, "utf8");
  // Linked after the entry's other files, and stored after them.
  expect(files).toHaveLength(otherFiles + 1);
  const file = files[otherFiles] ?? {};
  for (const other of files.slice(0, otherFiles))
    expect(Number(other.file_id)).toBeLessThan(Number(file.file_id));
  expect({ ...file, attachment_id: undefined, file_id: undefined, filedata: undefined }).toEqual({
    attachment_id: undefined,
    file_id: undefined,
    filedata: undefined,
    alias: null,
    inline: 1,
    object_type: "H",
    name: `${createHash("md5").update(data).digest("hex")}.txt`,
    type: "text/html",
    size: data.length,
    ft: "T",
    bk: "D",
    chunks: 1,
  });
  expect(Buffer.isBuffer(file.filedata) && file.filedata.equals(data)).toBe(true);
  // The search row indexes the whole body (ThreadEntry::getBody reads it back from the file), as much of
  // it as the TEXT column holds.
  expect(search?.content).toBe(textColumn(bodySearchable(body, format)));
}

/** ListThreadEntries' view of one entry. */
async function listed(ticketId: number, entryId: number): Promise<ThreadEntry | undefined> {
  const { entries } = await h.client.listThreadEntries({ ticketId }, { headers: await h.agent() });
  return entries.find((e) => e.id === entryId);
}

async function newTicket(): Promise<number> {
  const res = await h.client.createTicket(
    { requester: { userId: ownerId }, subject: "Short first message", message: "Hello" },
    { headers: await h.service() },
  );
  return res.ticket?.id ?? 0;
}

describe("CreateTicket with a body of 65,000 characters or more", () => {
  it("typed (html): stores the body as an inline text/html <md5>.txt file, the entry's body empty", async () => {
    const res = await h.client.createTicket(
      {
        requester: { userId: ownerId },
        subject: "Long html",
        message: HTML_70K,
        messageFormat: MessageFormat.HTML,
      },
      { headers: await h.service() },
    );
    await expectBodyInFile(res.messageEntryId, HTML_70K, "html");
    const entry = await listed(res.ticket?.id ?? 0, res.messageEntryId);
    expect(entry).toMatchObject({ body: HTML_70K, bodyInAttachment: true, format: MessageFormat.HTML });
    expect(entry?.attachments.map((a) => a.inline)).toEqual([true]);
  });

  it("legacy (the JSON/XML API's text message): the same rows", async () => {
    const res = await h.client.createTicket(
      {
        requester: { email: "legacy.long@example.com", name: "Legacy Long" },
        subject: "Long text",
        message: TEXT_70K,
        legacy: { source: "API" },
        attachments: [{ source: { case: "file", value: { name: "notes.txt", data: Buffer.from("notes") } } }],
      },
      { headers: await h.service() },
    );
    await expectBodyInFile(res.messageEntryId, TEXT_70K, "text", 1);
    expect((await stored(res.messageEntryId)).files[0]).toMatchObject({ name: "notes.txt", inline: 0 });
    expect((await listed(res.ticket?.id ?? 0, res.messageEntryId))?.body).toBe(TEXT_70K);
  });

  it("measures characters, not bytes: 65,000 characters go into a file, 64,999 stay in the entry", async () => {
    const at = `${"x".repeat(64_990)}${"é".repeat(10)}`;
    const atRes = await h.client.createTicket(
      { requester: { userId: ownerId }, subject: "At the limit", message: at, legacy: { source: "API" } },
      { headers: await h.service() },
    );
    await expectBodyInFile(atRes.messageEntryId, at, "text");

    const under = "y".repeat(64_999);
    const underRes = await h.client.createTicket(
      { requester: { userId: ownerId }, subject: "Under the limit", message: under },
      { headers: await h.service() },
    );
    const { entry, files, search } = await stored(underRes.messageEntryId);
    expect(entry).toEqual({ body: under, format: "text" });
    expect(files).toEqual([]);
    expect(search?.content).toBe(bodySearchable(under, "text"));
    expect(await listed(underRes.ticket?.id ?? 0, underRes.messageEntryId)).toMatchObject({
      body: under,
      bodyInAttachment: false,
    });
  });
});

describe("PostReply, PostNote and PostMessage with a body of 65,000 characters or more", () => {
  it("store it in a file as create does, and answer with the whole body", async () => {
    const ticketId = await newTicket();
    const reply = await h.client.postReply(
      { ticketId, body: HTML_70K, format: MessageFormat.HTML },
      { headers: await h.agent() },
    );
    await expectBodyInFile(reply.entry?.id ?? 0, HTML_70K, "html");
    expect(reply.entry).toMatchObject({ body: HTML_70K, bodyInAttachment: true });

    const note = await h.client.postNote(
      { ticketId, title: "Long note", body: TEXT_70K },
      { headers: await h.agent() },
    );
    await expectBodyInFile(note.entry?.id ?? 0, TEXT_70K, "text");
    expect(note.entry).toMatchObject({ body: TEXT_70K, bodyInAttachment: true });

    const message = await h.client.postMessage(
      { ticketId, body: TEXT_70K },
      { headers: await h.endUser(ownerId) },
    );
    await expectBodyInFile(message.entry?.id ?? 0, TEXT_70K, "text");
    expect(message.entry).toMatchObject({ body: TEXT_70K, bodyInAttachment: true });

    // The same body twice is two files: osTicket never deduplicates it.
    const [note2, message2] = [await stored(note.entry?.id ?? 0), await stored(message.entry?.id ?? 0)];
    expect(note2.files[0]?.file_id).not.toBe(message2.files[0]?.file_id);

    const { entries } = await h.client.listThreadEntries({ ticketId }, { headers: await h.agent() });
    expect(entries.map((e) => e.body)).toEqual(["Hello", HTML_70K, TEXT_70K, TEXT_70K]);
  });

  it("leave a body just under the limit in the entry", async () => {
    const ticketId = await newTicket();
    const under = "z".repeat(64_999);
    const reply = await h.client.postReply({ ticketId, body: under }, { headers: await h.agent() });
    const { entry, files } = await stored(reply.entry?.id ?? 0);
    expect(entry).toEqual({ body: under, format: "text" });
    expect(files).toEqual([]);
    expect(reply.entry).toMatchObject({ body: under, bodyInAttachment: false });
  });
});

describe("reading a long entry osTicket wrote", () => {
  it("rebuilds the body from its inline text files, chunk by chunk, in attachment order", async () => {
    const ticketId = await newTicket();
    const [{ thread_id: threadId } = {}] = await h.query(
      "SELECT id AS thread_id FROM ost_thread WHERE object_type = 'T' AND object_id = ?",
      [ticketId],
    );
    // A body of two 500 KiB chunks and one more, as AttachmentFile::create stores it in the database.
    const body = htmlBody(600_000);
    const data = Buffer.from(body, "utf8");
    const entry = await h.exec(
      "INSERT INTO ost_thread_entry (pid, thread_id, staff_id, user_id, type, flags, poster, source, title," +
        " format, ip_address, created) VALUES (0, ?, 0, ?, 'M', 64, 'Lena Long', 'Web', NULL, 'html', '', NOW())",
      [threadId, ownerId],
    );
    const file = await h.exec(
      "INSERT INTO ost_file (ft, bk, type, size, `key`, signature, name, attrs, created)" +
        " VALUES ('T', 'D', 'text/html', ?, 'LongBodyKey0000000000000000000001', 'sig', ?, NULL, NOW())",
      [data.length, `${createHash("md5").update(data).digest("hex")}.txt`],
    );
    await h.exec("INSERT INTO ost_file_chunk (file_id, chunk_id, filedata) VALUES (?, 0, ?), (?, 1, ?)", [
      file.insertId,
      data.subarray(0, 512_000),
      file.insertId,
      data.subarray(512_000),
    ]);
    await h.exec(
      "INSERT INTO ost_attachment (object_id, type, file_id, name, inline) VALUES (?, 'H', ?, NULL, 1)",
      [entry.insertId, file.insertId],
    );
    // A second inline text file is read after the first (ThreadEntry::getBody appends each one).
    const tail = await h.exec(
      "INSERT INTO ost_file (ft, bk, type, size, `key`, signature, name, attrs, created)" +
        " VALUES ('T', 'D', 'text/plain', 4, 'LongBodyKey0000000000000000000003', 'sig3', 'tail.txt', NULL, NOW())",
    );
    await h.exec("INSERT INTO ost_file_chunk (file_id, chunk_id, filedata) VALUES (?, 0, 'tail')", [
      tail.insertId,
    ]);
    await h.exec(
      "INSERT INTO ost_attachment (object_id, type, file_id, name, inline) VALUES (?, 'H', ?, NULL, 1)",
      [entry.insertId, tail.insertId],
    );
    const read = await listed(ticketId, entry.insertId);
    expect(read?.body.length).toBe(body.length + 4);
    expect(read).toMatchObject({ body: `${body}tail`, bodyInAttachment: true });

    // A file osTicket keeps outside the database cannot be read here: the body stays empty.
    await h.exec("UPDATE ost_file SET bk = 'F' WHERE id = ?", [file.insertId]);
    expect(await listed(ticketId, entry.insertId)).toMatchObject({ body: "", bodyInAttachment: true });
  });

  it("leaves entries with a body alone, whatever text files they have", async () => {
    const ticketId = await newTicket();
    const [{ id: entryId } = {}] = await h.query(
      "SELECT e.id FROM ost_thread_entry e JOIN ost_thread t ON t.id = e.thread_id" +
        " WHERE t.object_type = 'T' AND t.object_id = ?",
      [ticketId],
    );
    const file = await h.exec(
      "INSERT INTO ost_file (ft, bk, type, size, `key`, signature, name, attrs, created)" +
        " VALUES ('T', 'D', 'text/plain', 5, 'LongBodyKey0000000000000000000002', 'sig2', 'note.txt', NULL, NOW())",
    );
    await h.exec("INSERT INTO ost_file_chunk (file_id, chunk_id, filedata) VALUES (?, 0, 'extra')", [
      file.insertId,
    ]);
    await h.exec(
      "INSERT INTO ost_attachment (object_id, type, file_id, name, inline) VALUES (?, 'H', ?, NULL, 1)",
      [entryId, file.insertId],
    );
    expect(await listed(ticketId, Number(entryId))).toMatchObject({ body: "Hello", bodyInAttachment: false });
  });
});

describe("a body larger than an event carries", () => {
  it("is stored and answered whole, and its event leaves the body out (body_omitted)", async () => {
    const body = textBody(1_100_000);
    const before = (await h.events()).length;
    const created = await h.client.createTicket(
      {
        requester: { email: "lena.long@example.com", name: "Lena Long" },
        subject: "A very long message",
        message: body,
      },
      { headers: await h.service() },
    );
    // In its file, in several chunks (expectBodyInFile checks the one-chunk case row by row).
    const { entry, files } = await stored(created.messageEntryId);
    expect(entry).toEqual({ body: "", format: "text" });
    expect(files).toMatchObject([{ type: "text/html", size: body.length, inline: 1 }]);
    const ticketId = created.ticket?.id ?? 0;
    expect(await listed(ticketId, created.messageEntryId)).toMatchObject({ body, bodyInAttachment: true });

    const [event, ...more] = (await h.events()).slice(before);
    expect(more).toEqual([]);
    expect(event?.payload.case).toBe("ticketCreated");
    const message = event?.payload.case === "ticketCreated" ? event.payload.value.message : undefined;
    expect(message).toMatchObject({ id: created.messageEntryId, body: "", bodyOmitted: true });
    // Everything else of the entry and the ticket is there.
    expect(message?.bodyInAttachment).toBe(true);
    expect(event?.payload.case === "ticketCreated" && event.payload.value.ticket?.subject).toBe(
      "A very long message",
    );
  });

  it("keeps the body in events under the budget", async () => {
    const before = (await h.events()).length;
    const created = await h.client.createTicket(
      {
        requester: { email: "lena.long@example.com", name: "Lena Long" },
        subject: "A long message",
        message: TEXT_70K,
      },
      { headers: await h.service() },
    );
    const [event] = (await h.events()).slice(before);
    const message = event?.payload.case === "ticketCreated" ? event.payload.value.message : undefined;
    expect(message).toMatchObject({ body: TEXT_70K, bodyOmitted: false });
  });
});
