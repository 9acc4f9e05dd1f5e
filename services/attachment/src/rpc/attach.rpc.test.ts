import { Code } from "@connectrpc/connect";
import { rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../storage/sql.ts";
import { countRows } from "../storage/testing.ts";
import { type AttachmentHarness, attachmentHarness, bytesOf, randomName } from "../testing/harness.ts";

let h: AttachmentHarness;
let headers: Headers;

beforeAll(async () => {
  h = await attachmentHarness("attrpcat");
  headers = await h.serviceHeaders();
});

afterAll(async () => {
  await h?.close();
});

let seed = 1000;
async function upload(name = randomName("f", "txt")): Promise<number> {
  const res = await h.client.uploadFile({ name, type: "text/plain", data: bytesOf(64, seed++) }, { headers });
  return res.file?.id ?? 0;
}

/** A new entry on the BOLA world's plain ticket. */
async function newEntry(type = "M"): Promise<number> {
  const { insertId } = await run(
    h.em(),
    "INSERT INTO `ost_thread_entry` SET `created` = NOW(), `type` = ?, `thread_id` = (SELECT `id` FROM `ost_thread` WHERE `object_type` = 'T' AND `object_id` = ?), `poster` = 'P', `body` = 'b'",
    [type, h.world.tickets.plain],
  );
  return insertId;
}

describe("AttachFiles", () => {
  it("links files to a thread entry in request order, as osTicket's type H rows", async () => {
    const entryId = await newEntry();
    const [a, b] = [await upload("a.txt"), await upload("b.txt")];
    const res = await h.client.attachFiles(
      {
        threadEntryId: entryId,
        files: [
          { fileId: b, name: "shown-as.txt", inline: true },
          { fileId: a, name: "" },
        ],
      },
      { headers },
    );
    expect(res.attachments.map((x) => [x.objectType, x.objectId, x.file?.id, x.name, x.inline])).toEqual([
      ["H", entryId, b, "shown-as.txt", true],
      ["H", entryId, a, "a.txt", false],
    ]);
    // Linking again keeps one row per file.
    await h.client.attachFiles({ threadEntryId: entryId, files: [{ fileId: a }] }, { headers });
    expect(await countRows(h.em(), "ost_attachment", "`object_id` = ? AND `type` = 'H'", [entryId])).toBe(2);
  });

  it("keeps one row for the same file twice, named after the later one (osTicket)", async () => {
    const entryId = await newEntry();
    const file = await upload("notes.txt");
    const res = await h.client.attachFiles(
      {
        threadEntryId: entryId,
        files: [
          { fileId: file, name: "notes.txt" },
          { fileId: file, name: "copy.txt" },
        ],
      },
      { headers },
    );
    expect(res.attachments.map((x) => x.name)).toEqual(["copy.txt", "copy.txt"]);
    expect(await countRows(h.em(), "ost_attachment", "`object_id` = ?", [entryId])).toBe(1);
  });

  it("links all or nothing, and names what is wrong", async () => {
    const entryId = await newEntry();
    const file = await upload();
    const missing = await rejectionOf(
      h.client.attachFiles(
        {
          threadEntryId: entryId,
          files: [{ fileId: file }, { fileId: 999_999 }],
        },
        { headers },
      ),
    );
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toBe("files[1].file_id: file 999999 not found");
    expect(await countRows(h.em(), "ost_attachment", "`object_id` = ?", [entryId])).toBe(0);

    const noEntry = await rejectionOf(
      h.client.attachFiles({ threadEntryId: 999_999, files: [{ fileId: file }] }, { headers }),
    );
    expect(noEntry.code).toBe(Code.NotFound);
    const cases: Array<[Parameters<typeof h.client.attachFiles>[0], string]> = [
      [{ threadEntryId: 0, files: [{ fileId: file }] }, "thread_entry_id: must be a positive id"],
      [{ threadEntryId: entryId, files: [] }, "files: name at least one file"],
      [
        { threadEntryId: entryId, files: [{ fileId: file }, { fileId: 0 }] },
        "files[1].file_id: must be a positive id",
      ],
      [
        { threadEntryId: entryId, files: Array.from({ length: 101 }, () => ({ fileId: file })) },
        "files: at most 100 files per call",
      ],
    ];
    for (const [request, message] of cases) {
      const error = await rejectionOf(h.client.attachFiles(request, { headers }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toBe(message);
    }

    // The (file_id, object_id) unique key: the file already sits on this object id as a draft.
    await run(h.em(), "INSERT INTO `ost_attachment` SET `type` = 'D', `object_id` = ?, `file_id` = ?", [
      entryId,
      file,
    ]);
    const conflict = await rejectionOf(
      h.client.attachFiles({ threadEntryId: entryId, files: [{ fileId: file }] }, { headers }),
    );
    expect(conflict.code).toBe(Code.FailedPrecondition);
  });

  it("replays a retried call with the same idempotency key", async () => {
    const entryId = await newEntry();
    const file = await upload();
    const key = randomName("attach");
    const first = await h.client.attachFiles(
      { idempotencyKey: key, threadEntryId: entryId, files: [{ fileId: file, name: "first.txt" }] },
      { headers },
    );
    // Renamed meanwhile: the retry still answers as the first call did, and changes nothing.
    await run(h.em(), "UPDATE `ost_attachment` SET `name` = 'renamed.txt' WHERE `object_id` = ?", [entryId]);
    const retry = await h.client.attachFiles(
      { idempotencyKey: key, threadEntryId: entryId, files: [{ fileId: file, name: "first.txt" }] },
      { headers },
    );
    expect(retry).toEqual(first);
    const [row] = await h
      .em()
      .execute("SELECT `name` FROM `ost_attachment` WHERE `object_id` = ?", [entryId]);
    expect(row?.name).toBe("renamed.txt");
    const conflict = await rejectionOf(
      h.client.attachFiles(
        { idempotencyKey: key, threadEntryId: entryId, files: [{ fileId: file, name: "other.txt" }] },
        { headers },
      ),
    );
    expect(conflict.code).toBe(Code.FailedPrecondition);
  });
});

describe("ListAttachments", () => {
  it("pages through a ticket's attachments and one entry's", async () => {
    const entries = [await newEntry("M"), await newEntry("N")];
    const ticketId = h.world.tickets.plain;
    const expected: number[] = [];
    for (const entryId of entries) {
      const files = [await upload(), await upload(), await upload()];
      const res = await h.client.attachFiles(
        { threadEntryId: entryId, files: files.map((fileId) => ({ fileId })) },
        { headers },
      );
      expected.push(...res.attachments.map((a) => a.id));
    }
    const all: number[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await h.client.listAttachments(
        { target: { case: "ticketId", value: ticketId }, pageSize: 4, pageToken: token },
        { headers },
      );
      expect(page.attachments.length).toBeLessThanOrEqual(4);
      all.push(...page.attachments.map((a) => a.id));
      token = page.nextPageToken;
      pages++;
    } while (token !== "" && pages < 50);
    // Earlier tests' attachments on the same ticket come first (older entries); ours end the listing.
    expect(all.slice(-expected.length)).toEqual(expected);
    expect(new Set(all).size).toBe(all.length);

    const ofEntry = await h.client.listAttachments(
      { target: { case: "threadEntryId", value: entries[1] ?? 0 } },
      { headers },
    );
    expect(ofEntry.attachments.map((a) => a.id)).toEqual(expected.slice(3));
    expect(ofEntry.nextPageToken).toBe("");
    expect(ofEntry.attachments[0]).toMatchObject({
      objectType: "H",
      objectId: entries[1],
      file: { purpose: "T" },
    });
  });

  it("applies the paging convention and refuses foreign or broken tokens", async () => {
    const ticketId = h.world.tickets.plain;
    const first = await h.client.listAttachments(
      { target: { case: "ticketId", value: ticketId }, pageSize: 1 },
      { headers },
    );
    expect(first.nextPageToken).not.toBe("");
    const cases: Array<[Parameters<typeof h.client.listAttachments>[0], string]> = [
      [{ target: { case: "ticketId", value: ticketId }, pageSize: -1 }, "page_size: must not be negative"],
      [{}, "target: give ticket_id or thread_entry_id"],
      [{ target: { case: "ticketId", value: 0 } }, "ticket_id: must be a positive id"],
      [
        { target: { case: "ticketId", value: h.world.tickets.sharedOrg }, pageToken: first.nextPageToken },
        "page_token: not a token of this listing",
      ],
      [
        { target: { case: "ticketId", value: ticketId }, pageToken: "%%%" },
        "page_token: not a token of this listing",
      ],
      [
        { target: { case: "ticketId", value: ticketId }, pageToken: Buffer.from("{}").toString("base64url") },
        "page_token: not a token of this listing",
      ],
    ];
    for (const [request, message] of cases) {
      const error = await rejectionOf(h.client.listAttachments(request, { headers }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toBe(message);
    }
    // page_size above 200 is clamped, not refused.
    await h.client.listAttachments(
      { target: { case: "ticketId", value: ticketId }, pageSize: 5000 },
      { headers },
    );
    const unknownTicket = await rejectionOf(
      h.client.listAttachments({ target: { case: "ticketId", value: 999_999 } }, { headers }),
    );
    expect(unknownTicket.code).toBe(Code.NotFound);
    const unknownEntry = await rejectionOf(
      h.client.listAttachments({ target: { case: "threadEntryId", value: 999_999 } }, { headers }),
    );
    expect(unknownEntry.code).toBe(Code.NotFound);
  });
});

describe("PurgeOrphanFiles", () => {
  it("deletes old unattached files as osTicket's cron does, once per idempotency key", async () => {
    const orphan = await upload();
    const attached = await upload();
    await h.client.attachFiles(
      { threadEntryId: await newEntry(), files: [{ fileId: attached }] },
      { headers },
    );
    await run(h.em(), "UPDATE `ost_file` SET `created` = NOW() - INTERVAL 2 DAY WHERE `id` IN (?, ?)", [
      orphan,
      attached,
    ]);
    const young = await upload();
    const key = randomName("purge");
    const res = await h.client.purgeOrphanFiles({ idempotencyKey: key }, { headers });
    expect(res.filesDeleted).toBeGreaterThanOrEqual(1);
    expect(await countRows(h.em(), "ost_file", "`id` = ?", [orphan])).toBe(0);
    expect(await countRows(h.em(), "ost_file", "`id` IN (?, ?)", [attached, young])).toBe(2);
    expect(await h.client.purgeOrphanFiles({ idempotencyKey: key }, { headers })).toEqual(res);

    // A shorter minimum age reaches younger orphans (here ten minutes old).
    await run(h.em(), "UPDATE `ost_file` SET `created` = NOW() - INTERVAL 10 MINUTE WHERE `id` = ?", [young]);
    const shorter = await h.client.purgeOrphanFiles({ minAge: { seconds: 300n } }, { headers });
    expect(shorter.filesDeleted).toBeGreaterThanOrEqual(1);
    expect(await countRows(h.em(), "ost_file", "`id` = ?", [young])).toBe(0);
    const negative = await rejectionOf(h.client.purgeOrphanFiles({ minAge: { seconds: -1n } }, { headers }));
    expect(negative.code).toBe(Code.InvalidArgument);
    expect(negative.rawMessage).toBe("min_age: must not be negative");
  });
});
