import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachToEntry, listAttachmentsPage } from "./attach.ts";
import { FileNotFoundError, FileTooLargeError, InvalidArgumentError } from "./errors.ts";
import { getFileInfo, getFileInfoByExactKey, readFile } from "./files.ts";
import { type Db, run } from "./sql.ts";
import { storeFile } from "./store.ts";
import { collect, openScratchStore, type ScratchStore } from "./testing.ts";

let store: ScratchStore;

beforeAll(async () => {
  store = await openScratchStore("attpages");
});

afterAll(async () => {
  await store?.close();
});

async function entry(em: Db, threadId: number, type: string, flags = 0): Promise<number> {
  const { insertId } = await run(
    em,
    "INSERT INTO `ost_thread_entry` SET `created` = NOW(), `type` = ?, `thread_id` = ?, `flags` = ?, `poster` = 'P', `body` = 'b'",
    [type, threadId, flags],
  );
  return insertId;
}

async function attachNew(entryId: number, name: string) {
  const file = await storeFile(store.em(), {
    name,
    declaredType: "text/plain",
    source: randomBytes(50),
    maxBytes: 100,
  });
  return attachToEntry(store.em(), { entryId, fileId: file.id, inline: false });
}

describe("listAttachmentsPage", () => {
  it("pages through a ticket's attachments by entry then attachment, and one entry's", async () => {
    const em = store.em();
    const ticketId = 7001;
    const { insertId: threadId } = await run(
      em,
      "INSERT INTO `ost_thread` SET `object_id` = ?, `object_type` = 'T', `created` = NOW()",
      [ticketId],
    );
    // Another object's thread with the same object id must not leak in.
    const { insertId: taskThread } = await run(
      em,
      "INSERT INTO `ost_thread` SET `object_id` = ?, `object_type` = 'A', `created` = NOW()",
      [ticketId],
    );
    const message = await entry(em, threadId, "M");
    const note = await entry(em, threadId, "N");
    const hidden = await entry(em, threadId, "R", 0x004);
    const taskEntry = await entry(em, taskThread, "N");
    const expected = [
      await attachNew(message, "m1.txt"),
      await attachNew(message, "m2.txt"),
      await attachNew(note, "n1.txt"),
      await attachNew(hidden, "h1.txt"),
    ];
    await attachNew(taskEntry, "task.txt");

    const seen: string[] = [];
    let after: { entryId: number; attachmentId: number } | undefined;
    for (let pages = 0; pages < 5; pages++) {
      const page = await listAttachmentsPage(
        store.em(),
        { ticketId },
        { limit: 3, ...(after ? { after } : {}) },
      );
      seen.push(...page.attachments.map((a) => a.displayName));
      const last = page.attachments.at(-1);
      if (!page.hasMore || !last) break;
      after = { entryId: last.entryId, attachmentId: last.id };
    }
    expect(seen).toEqual(expected.map((a) => a.displayName));

    const first = await listAttachmentsPage(store.em(), { ticketId }, { limit: 10 });
    expect(first.hasMore).toBe(false);
    expect(first.attachments[0]).toMatchObject({ entryId: message, threadId, file: { name: "m1.txt" } });

    // What an end user may see: messages and responses that are not hidden.
    const visible = await listAttachmentsPage(
      store.em(),
      { ticketId },
      { limit: 10, entryTypes: ["M", "R"], excludeEntryFlags: 0x004 },
    );
    expect(visible.attachments.map((a) => a.displayName)).toEqual(["m1.txt", "m2.txt"]);
    expect(
      (await listAttachmentsPage(store.em(), { ticketId }, { limit: 10, entryTypes: [] })).attachments,
    ).toEqual([]);

    const ofNote = await listAttachmentsPage(store.em(), { entryId: note }, { limit: 10 });
    expect(ofNote.attachments.map((a) => a.displayName)).toEqual(["n1.txt"]);
    expect((await listAttachmentsPage(store.em(), { entryId: 999_999 }, { limit: 10 })).attachments).toEqual(
      [],
    );
  });

  it("refuses bad limits and targets", async () => {
    await expect(listAttachmentsPage(store.em(), { ticketId: 1 }, { limit: 0 })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(listAttachmentsPage(store.em(), { ticketId: 1 }, { limit: 1001 })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(listAttachmentsPage(store.em(), { ticketId: 0 }, { limit: 5 })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(
      listAttachmentsPage(store.em(), { entryId: 1 }, { limit: 5, after: { entryId: 1.5, attachmentId: 1 } }),
    ).rejects.toThrow(InvalidArgumentError);
  });
});

describe("file metadata", () => {
  it("carries the creation time as Unix seconds, converted by the server", async () => {
    const file = await storeFile(store.em(), {
      name: "t.txt",
      declaredType: "text/plain",
      source: Buffer.from("when"),
      maxBytes: 100,
    });
    const now = Math.floor(Date.now() / 1000);
    expect(file.createdAt).toBeGreaterThan(now - 120);
    expect(file.createdAt).toBeLessThan(now + 120);
    await run(store.em(), "UPDATE `ost_file` SET `created` = '0000-00-00 00:00:00' WHERE `id` = ?", [
      file.id,
    ]);
    expect((await getFileInfo(store.em(), file.id)).createdAt).toBeNull();
  });

  it("finds a file by its exact key only", async () => {
    const file = await storeFile(store.em(), {
      name: "k.txt",
      declaredType: "text/plain",
      source: randomBytes(40),
      maxBytes: 100,
    });
    expect((await getFileInfoByExactKey(store.em(), file.key)).id).toBe(file.id);
    const swapped = file.key.replace(/[a-z]/, (c) => c.toUpperCase());
    if (swapped !== file.key) {
      await expect(getFileInfoByExactKey(store.em(), swapped)).rejects.toThrow(FileNotFoundError);
    }
    await expect(getFileInfoByExactKey(store.em(), "")).rejects.toThrow(FileNotFoundError);
    await expect(getFileInfoByExactKey(store.em(), "x".repeat(87))).rejects.toThrow(FileNotFoundError);
  });
});

describe("recorded size (osTicket's legacy XML base64 attachments)", () => {
  it("records and dedupes by the given size while storing the bytes given", async () => {
    // <file encoding="base64">SGVsbG8=</file>: size 5 recorded, the 3 twice-decoded bytes stored (FACTS §2.4).
    const bytes = Buffer.from([0x1d, 0xe9, 0x65]);
    const stored = await storeFile(store.em(), {
      name: "hello.txt",
      declaredType: "text/plain",
      source: bytes,
      maxBytes: 100,
      recordedSize: 5,
    });
    expect(stored).toMatchObject({ size: 5, deduplicated: false });
    const again = await storeFile(store.em(), {
      name: "hello.txt",
      declaredType: "text/plain",
      source: bytes,
      maxBytes: 100,
      recordedSize: 5,
    });
    expect(again).toMatchObject({ id: stored.id, deduplicated: true });
    // The same bytes recorded at their true size are another file.
    const plain = await storeFile(store.em(), {
      name: "hello.txt",
      declaredType: "text/plain",
      source: bytes,
      maxBytes: 100,
    });
    expect(plain.id).not.toBe(stored.id);
    expect(plain.size).toBe(3);
    const content = await readFile(store.em(), plain.id);
    expect(await collect(content.chunks())).toEqual(bytes);
  });

  it("applies the limit to the recorded size and refuses bad values", async () => {
    const input = { name: "x.txt", declaredType: "text/plain", source: Buffer.from("abc"), maxBytes: 4 };
    await expect(storeFile(store.em(), { ...input, recordedSize: 5 })).rejects.toThrow(FileTooLargeError);
    await expect(storeFile(store.em(), { ...input, recordedSize: -1 })).rejects.toThrow(InvalidArgumentError);
    await expect(storeFile(store.em(), { ...input, recordedSize: 1.5 })).rejects.toThrow(
      InvalidArgumentError,
    );
  });
});
