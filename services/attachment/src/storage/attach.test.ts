import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  attachToEntry,
  listAttachmentsOfEntries,
  listEntryAttachments,
  listTicketAttachments,
} from "./attach.ts";
import {
  AttachmentConflictError,
  FileNotFoundError,
  InvalidArgumentError,
  ThreadEntryNotFoundError,
} from "./errors.ts";
import { type Db, run, selectRows } from "./sql.ts";
import { type StoredFile, storeFile } from "./store.ts";
import { countRows, openScratchStore, type ScratchStore } from "./testing.ts";

let store: ScratchStore;

beforeAll(async () => {
  store = await openScratchStore("attlink");
});

afterAll(async () => {
  await store?.close();
});

/** A ticket thread with `entries` entries, written with the statements osTicket issues (trace lines 76, 99). */
async function ticketThread(
  em: Db,
  ticketId: number,
  entries: number,
): Promise<{ threadId: number; entryIds: number[] }> {
  const { insertId: threadId } = await run(
    em,
    "INSERT INTO `ost_thread` SET `object_id` = ?, `object_type` = 'T', `created` = NOW()",
    [ticketId],
  );
  const entryIds: number[] = [];
  for (let i = 0; i < entries; i++) {
    const { insertId } = await run(
      em,
      "INSERT INTO `ost_thread_entry` SET `created` = NOW(), `type` = 'M', `thread_id` = ?, `title` = 'T', `format` = 'html', `user_id` = 1, `poster` = 'P', `source` = 'API', `flags` = 64, `ip_address` = '203.0.113.7', `body` = 'b'",
      [threadId],
    );
    entryIds.push(insertId);
  }
  return { threadId, entryIds };
}

async function newFile(name: string): Promise<StoredFile> {
  return storeFile(store.em(), {
    name,
    declaredType: "text/plain",
    source: randomBytes(100),
    maxBytes: 1000,
  });
}

async function attachmentRows(entryId: number) {
  return selectRows(
    store.em(),
    "SELECT `object_id`, `type`, `file_id`, `name`, `inline`, `lang` FROM `ost_attachment` WHERE `object_id` = ? AND `type` = 'H' ORDER BY `id`",
    [entryId],
  );
}

describe("attachToEntry", () => {
  it("writes the row osTicket writes: type H, object_id = entry, name NULL, inline 0", async () => {
    const { entryIds } = await ticketThread(store.em(), 5001, 1);
    const entryId = entryIds[0]!;
    const file = await newFile("trace.txt");
    const attachment = await attachToEntry(store.em(), {
      entryId,
      fileId: file.id,
      name: "trace.txt",
      inline: false,
    });
    expect(attachment).toMatchObject({
      entryId,
      fileId: file.id,
      name: null,
      displayName: "trace.txt",
      inline: false,
      lang: null,
      file: { id: file.id, name: "trace.txt", size: 100 },
    });
    expect(await attachmentRows(entryId)).toEqual([
      { object_id: entryId, type: "H", file_id: file.id, name: null, inline: 0, lang: null },
    ]);
  });

  it("keeps one row for the same file twice, named after the later name (FACTS §2.4)", async () => {
    const { entryIds } = await ticketThread(store.em(), 5002, 1);
    const entryId = entryIds[0]!;
    const file = await newFile("notes.txt");
    const first = await attachToEntry(store.em(), {
      entryId,
      fileId: file.id,
      name: "notes.txt",
      inline: false,
    });
    const second = await attachToEntry(store.em(), {
      entryId,
      fileId: file.id,
      name: "copy.txt",
      inline: false,
    });
    expect(second).toMatchObject({ id: first.id, name: "copy.txt", displayName: "copy.txt" });
    expect(await attachmentRows(entryId)).toEqual([
      { object_id: entryId, type: "H", file_id: file.id, name: "copy.txt", inline: 0, lang: null },
    ]);
    // Attaching under the file's own name again clears the override; the inline flag follows the latest call.
    const third = await attachToEntry(store.em(), { entryId, fileId: file.id, inline: true });
    expect(third).toMatchObject({ id: first.id, name: null, displayName: "notes.txt", inline: true });
    expect(await countRows(store.em(), "ost_attachment", "object_id = ? AND type = 'H'", [entryId])).toBe(1);
  });

  it("stores a sanitised override name when it differs from the file's name", async () => {
    const { entryIds } = await ticketThread(store.em(), 5003, 1);
    const file = await newFile("file.txt");
    const attachment = await attachToEntry(store.em(), {
      entryId: entryIds[0]!,
      fileId: file.id,
      name: "../a\u0000.txt",
      inline: false,
    });
    expect(attachment).toMatchObject({ name: "a.txt", displayName: "a.txt" });
  });

  it("refuses unknown entries and files, and bad ids", async () => {
    const { entryIds } = await ticketThread(store.em(), 5004, 1);
    const file = await newFile("x.txt");
    await expect(
      attachToEntry(store.em(), { entryId: 999_999, fileId: file.id, inline: false }),
    ).rejects.toThrow(ThreadEntryNotFoundError);
    await expect(
      attachToEntry(store.em(), { entryId: entryIds[0]!, fileId: 999_999, inline: false }),
    ).rejects.toThrow(FileNotFoundError);
    await expect(attachToEntry(store.em(), { entryId: -1, fileId: file.id, inline: false })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(
      // @ts-expect-error: inline must be a boolean
      attachToEntry(store.em(), { entryId: entryIds[0]!, fileId: file.id, inline: 1 }),
    ).rejects.toThrow(InvalidArgumentError);
    expect(await countRows(store.em(), "ost_attachment", "file_id = ?", [file.id])).toBe(0);
  });

  it("reports a conflict when the file is linked to the same object id as another type", async () => {
    const { entryIds } = await ticketThread(store.em(), 5005, 1);
    const entryId = entryIds[0]!;
    const file = await newFile("draft.txt");
    // A draft (type D) whose id happens to equal the entry id already holds the file.
    await run(store.em(), "INSERT INTO `ost_attachment` SET `type` = 'D', `object_id` = ?, `file_id` = ?", [
      entryId,
      file.id,
    ]);
    const error = await attachToEntry(store.em(), { entryId, fileId: file.id, inline: false }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AttachmentConflictError);
    expect(await attachmentRows(entryId)).toEqual([]);
  });

  it("joins the caller's transaction", async () => {
    const file = await newFile("tx.txt");
    let entryId = 0;
    await expect(
      store.em().transactional(async (tx) => {
        entryId = (await ticketThread(tx, 5006, 1)).entryIds[0]!;
        await attachToEntry(tx, { entryId, fileId: file.id, inline: false });
        throw new Error("ticket creation failed later");
      }),
    ).rejects.toThrow("later");
    expect(entryId).toBeGreaterThan(0);
    expect(await countRows(store.em(), "ost_attachment", "file_id = ?", [file.id])).toBe(0);
  });
});

describe("listing", () => {
  it("lists an entry's and a ticket's attachments with their files", async () => {
    const em = store.em();
    const ticketId = 6001;
    const { threadId, entryIds } = await ticketThread(em, ticketId, 3);
    const [e1, e2, e3] = entryIds as [number, number, number];
    const a = await newFile("a.txt");
    const b = await newFile("b.txt");
    await attachToEntry(store.em(), { entryId: e1, fileId: a.id, inline: false });
    await attachToEntry(store.em(), { entryId: e1, fileId: b.id, name: "b-renamed.txt", inline: true });
    await attachToEntry(store.em(), { entryId: e3, fileId: a.id, inline: false });
    // Another ticket's thread and a task thread with the same object id must not leak in.
    const other = await ticketThread(em, 6002, 1);
    await attachToEntry(store.em(), { entryId: other.entryIds[0]!, fileId: a.id, inline: false });
    const { insertId: taskThread } = await run(
      em,
      "INSERT INTO `ost_thread` SET `object_id` = ?, `object_type` = 'A', `created` = NOW()",
      [ticketId],
    );
    const { insertId: taskEntry } = await run(
      em,
      "INSERT INTO `ost_thread_entry` SET `created` = NOW(), `type` = 'N', `thread_id` = ?, `body` = 'task note'",
      [taskThread],
    );
    await attachToEntry(store.em(), { entryId: taskEntry, fileId: b.id, inline: false });

    const ofE1 = await listEntryAttachments(store.em(), e1);
    expect(ofE1.map((x) => [x.fileId, x.displayName, x.inline])).toEqual([
      [a.id, "a.txt", false],
      [b.id, "b-renamed.txt", true],
    ]);
    expect(ofE1[1]?.file).toMatchObject({ id: b.id, name: "b.txt", size: 100, type: "text/plain" });
    expect(await listEntryAttachments(store.em(), e2)).toEqual([]);

    const byEntry = await listAttachmentsOfEntries(store.em(), [e1, e2, e3]);
    expect([...byEntry.keys()]).toEqual([e1, e3]);
    expect(byEntry.get(e3)?.map((x) => x.fileId)).toEqual([a.id]);
    expect((await listAttachmentsOfEntries(store.em(), [])).size).toBe(0);

    const ofTicket = await listTicketAttachments(store.em(), ticketId);
    expect(ofTicket.map((x) => [x.entryId, x.fileId, x.threadId])).toEqual([
      [e1, a.id, threadId],
      [e1, b.id, threadId],
      [e3, a.id, threadId],
    ]);
    expect(await listTicketAttachments(store.em(), 999_999)).toEqual([]);
    await expect(listTicketAttachments(store.em(), 0)).rejects.toThrow(InvalidArgumentError);
    await expect(listAttachmentsOfEntries(store.em(), [1, Number.NaN])).rejects.toThrow(InvalidArgumentError);
  });

  it("reads the attachment row osTicket wrote in the trace", async () => {
    const em = store.em();
    const { entryIds } = await ticketThread(em, 6003, 1);
    const file = await newFile("trace.txt");
    // traces/api-create-ticket.full.log line 102 (no name, no inline: their defaults).
    await run(em, "INSERT INTO `ost_attachment` SET `type` = 'H', `object_id` = ?, `file_id` = ?", [
      entryIds[0],
      file.id,
    ]);
    expect(await listEntryAttachments(store.em(), entryIds[0]!)).toMatchObject([
      { fileId: file.id, name: null, displayName: "trace.txt", inline: false, lang: null },
    ]);
  });
});
