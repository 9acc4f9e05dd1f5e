import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { bolaHeaders } from "@ostmesh/kit/auth/testing/matrix.ts";
import { type BolaCaller, type BolaWorld, createBolaWorld } from "@ostmesh/kit/auth/testing/world.ts";
import { AttachmentService } from "@ostmesh/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TicketHarness, ticketHarness } from "../testing/harness.ts";

/**
 * attachments[].file_id on PostMessage, PostReply, PostNote and CreateTicket: the caller (not the ticket
 * service's own credential) must be allowed to see the named file — attached to an entry of a ticket the
 * caller may see (end users: never internal notes), or their own fresh upload attached nowhere yet (never
 * another caller's, nor one osTicket's PHP stored). Otherwise NOT_FOUND, nothing written.
 */
let h: TicketHarness;
let world: BolaWorld;
let session: Http2SessionManager;
let baseUrl = "";
const file = { sales: 0, note: 0, message: 0 };

/** Uploads a fresh file through the attachment service as `caller`: its uploader is recorded. */
async function uploadAs(caller: BolaCaller): Promise<number> {
  const files = createClient(AttachmentService, createGrpcTransport({ baseUrl, sessionManager: session }));
  const res = await files.uploadFile(
    {
      name: "fresh.txt",
      type: "text/plain",
      data: Buffer.from(`fresh ${randomBytes(16).toString("hex")}\n`),
    },
    { headers: await bolaHeaders(world, h.issuer, caller) },
  );
  return res.file?.id ?? 0;
}

beforeAll(async () => {
  h = await ticketHarness("linkfiles");
  world = await createBolaWorld(h.db.url);
  baseUrl = `http://127.0.0.1:${h.process.ports.h2c[0]}`;
  session = new Http2SessionManager(baseUrl);
  // Files on entries, stored as osTicket stores them (ost_file + a type H ost_attachment row).
  const fileOnEntry = async (entryId: number, name: string) => {
    const { insertId } = await h.exec(
      "INSERT INTO ost_file (ft, bk, type, size, `key`, signature, name, created)" +
        " VALUES ('T', 'D', 'text/plain', 1, ?, ?, ?, NOW())",
      [`key${name}`, `sig${name}`, `${name}.txt`],
    );
    if (entryId)
      await h.exec("INSERT INTO ost_attachment (object_id, type, file_id, inline) VALUES (?, 'H', ?, 0)", [
        entryId,
        insertId,
      ]);
    return insertId;
  };
  const { insertId: salesEntry } = await h.exec(
    "INSERT INTO ost_thread_entry (created, type, thread_id, poster, body) VALUES (NOW(), 'M'," +
      " (SELECT id FROM ost_thread WHERE object_type = 'T' AND object_id = ?), 'P', 'b')",
    [world.tickets.primaryOrg],
  );
  file.sales = await fileOnEntry(salesEntry, "sales");
  file.note = await fileOnEntry(world.entries.note, "note");
  file.message = await fileOnEntry(world.entries.message, "message");
});

afterAll(async () => {
  session?.abort();
  await world?.close();
  await h?.close();
});

const byId = (...ids: number[]) => ids.map((value) => ({ source: { case: "fileId" as const, value } }));

/** Runs a call as `caller`; its outcome (ok: the files linked to the new entry) and whether rows changed. */
async function run(
  caller: BolaCaller,
  call: (headers: Headers) => Promise<{ entryId: number }>,
): Promise<{ outcome: string; wrote: boolean }> {
  const headers = await bolaHeaders(world, h.issuer, caller);
  const before = await h.counts();
  const outcome = await call(headers).then(
    async ({ entryId }) => {
      const rows = await h.query(
        "SELECT file_id FROM ost_attachment WHERE type = 'H' AND object_id = ? ORDER BY file_id",
        [entryId],
      );
      return `ok ${rows.map((r) => Number(r.file_id)).join(",")}`;
    },
    (e: unknown) => `${Code[ConnectError.from(e).code]}: ${ConnectError.from(e).rawMessage}`,
  );
  const after = await h.counts();
  return { outcome, wrote: [...after].some(([t, n]) => before.get(t) !== n) };
}

const message = (caller: BolaCaller, ids: number[]) =>
  run(caller, async (headers) => ({
    entryId:
      (
        await h.client.postMessage(
          { ticketId: world.tickets.plain, body: "see attached", attachments: byId(...ids) },
          { headers },
        )
      ).entry?.id ?? 0,
  }));
const reply = (caller: BolaCaller, ids: number[], staffId = 0) =>
  run(caller, async (headers) => ({
    entryId:
      (
        await h.client.postReply(
          {
            ticketId: world.tickets.plain,
            body: "see attached",
            notify: false,
            staffId,
            attachments: byId(...ids),
          },
          { headers },
        )
      ).entry?.id ?? 0,
  }));
const note = (caller: BolaCaller, ids: number[]) =>
  run(caller, async (headers) => ({
    entryId:
      (
        await h.client.postNote(
          { ticketId: world.tickets.plain, title: "n", body: "see attached", attachments: byId(...ids) },
          { headers },
        )
      ).entry?.id ?? 0,
  }));

describe("linking stored files to new entries", () => {
  it("refuses files of tickets the caller may not see as NOT_FOUND, writing nothing", async () => {
    const refused = (i: number, id: number) => ({
      outcome: `NotFound: attachments[${i}].file_id: file ${id} not found`,
      wrote: false,
    });
    // The Sales ticket's file: neither the plain ticket's owner nor the Support agent may see it.
    expect(await message("endUserOwner", [file.sales])).toEqual(refused(0, file.sales));
    expect(await reply("agentWithAccess", [file.message, file.sales])).toEqual(refused(1, file.sales));
    expect(await note("agentWithAccess", [file.sales])).toEqual(refused(0, file.sales));
    // An internal note's file, on the end user's own ticket: end users never see notes.
    expect(await message("endUserOwner", [file.note])).toEqual(refused(0, file.note));
    // CreateTicket names files too.
    expect(
      await run("endUserOwner", async (headers) => ({
        entryId: (
          await h.client.createTicket(
            { subject: "files", message: "see attached", attachments: byId(file.sales) },
            { headers },
          )
        ).messageEntryId,
      })),
    ).toEqual(refused(0, file.sales));
  });

  it("refuses another caller's fresh upload, and one osTicket's PHP stored, as NOT_FOUND, writing nothing", async () => {
    const refused = (id: number) => ({
      outcome: `NotFound: attachments[0].file_id: file ${id} not found`,
      wrote: false,
    });
    // The owner's fresh upload: the collaborator and the agents see the ticket, but not this file.
    const owners = await uploadAs("endUserOwner");
    expect(await message("endUserCollaborator", [owners])).toEqual(refused(owners));
    expect(await reply("agentWithAccess", [owners])).toEqual(refused(owners));
    expect(await note("agentWithAccess", [owners])).toEqual(refused(owners));
    const agents = await uploadAs("agentViewOnly");
    expect(await note("agentWithAccess", [agents])).toEqual(refused(agents));
    expect(await message("endUserOwner", [agents])).toEqual(refused(agents));
    expect(
      await run("endUserCollaborator", async (headers) => ({
        entryId: (
          await h.client.createTicket(
            { subject: "files", message: "see attached", attachments: byId(owners) },
            { headers },
          )
        ).messageEntryId,
      })),
    ).toEqual(refused(owners));
    // osTicket's own unattached file has no ostmesh uploader: nobody but a service may link it.
    const { insertId: phpOrphan } = await h.exec(
      "INSERT INTO ost_file (ft, bk, type, size, `key`, signature, name, created)" +
        " VALUES ('T', 'D', 'text/plain', 1, 'keyphp', 'sigphp', 'php.txt', NOW())",
    );
    expect(await message("endUserOwner", [phpOrphan])).toEqual(refused(phpOrphan));
    expect(await note("agentWithAccess", [phpOrphan])).toEqual(refused(phpOrphan));
    const res = await h.client.postNote(
      {
        ticketId: world.tickets.plain,
        title: "n",
        body: "by scope",
        staffId: world.staff.withAccess,
        attachments: byId(phpOrphan),
      },
      { headers: await h.service() },
    );
    expect(res.entry?.attachments.map((a) => a.fileId)).toEqual([phpOrphan]);
  });

  it("links files the caller may see, and the caller's own fresh uploads attached nowhere yet", async () => {
    const orphan = await uploadAs("endUserOwner");
    const agents = await uploadAs("agentWithAccess");
    const ok = (...ids: number[]) => ({
      outcome: `ok ${[...ids].sort((a, b) => a - b).join(",")}`,
      wrote: true,
    });
    expect(await message("endUserOwner", [file.message, orphan])).toEqual(ok(file.message, orphan));
    expect(await reply("agentWithAccess", [agents])).toEqual(ok(agents));
    expect(await message("endUserCollaborator", [file.message])).toEqual(ok(file.message));
    expect(await note("agentWithAccess", [file.note])).toEqual(ok(file.note));
    // An agent who may see the Sales ticket (an extra department), and a service acting by scope.
    expect(await note("agentLimitedExtraDept", [file.sales])).toEqual(ok(file.sales));
    const service = await h.service();
    const before = await h.query("SELECT COUNT(*) AS n FROM ost_attachment WHERE file_id = ?", [file.note]);
    const res = await h.client.postReply(
      {
        ticketId: world.tickets.privateOrg,
        body: "by scope",
        notify: false,
        staffId: world.staff.withAccess,
        attachments: byId(file.note),
      },
      { headers: service },
    );
    expect(res.entry?.attachments.map((a) => a.fileId)).toEqual([file.note]);
    expect(await h.query("SELECT COUNT(*) AS n FROM ost_attachment WHERE file_id = ?", [file.note])).toEqual([
      { n: Number(before[0]?.n) + 1 },
    ]);
  });
});
