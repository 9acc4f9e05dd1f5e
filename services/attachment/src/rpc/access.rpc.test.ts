import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { type BolaCase, runBolaMatrix } from "@ostmesh/kit/auth/testing/matrix.ts";
import type { BolaCaller, BolaOutcome } from "@ostmesh/kit/auth/testing/world.ts";
import { AttachmentService } from "@ostmesh/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, selectRow } from "../storage/sql.ts";
import { type AttachmentHarness, attachmentHarness, bytesOf } from "../testing/harness.ts";
import { AttachmentServiceImpl } from "./service.ts";

/**
 * Who may reach which file (the BOLA matrix): every RPC, every kind of caller of the shared test world, with
 * real tokens through the real auth interceptor. Files are reachable through the tickets they are attached
 * to (FACTS: ost_attachment type H on a thread entry); what a caller may not see is NOT_FOUND.
 */
let h: AttachmentHarness;
const files = { message: 0, note: 0, orphan: 0, sharedOrg: 0, primaryOrg: 0, toAttach: 0 };

const NF = Code.NotFound;
const PD = Code.PermissionDenied;
const UA = Code.Unauthenticated;

/** Outcomes keyed by caller; callers not named get `rest`. */
function outcomes(
  named: Partial<Record<BolaCaller, BolaOutcome>>,
  rest: BolaOutcome,
): Record<BolaCaller, BolaOutcome> {
  const all: Record<BolaCaller, BolaOutcome> = {
    agentWithAccess: rest,
    agentViewOnly: rest,
    agentLimitedExtraDept: rest,
    agentWithoutAccess: rest,
    agentAssignedOnly: rest,
    agentTeamMember: rest,
    endUserOwner: rest,
    endUserCollaborator: rest,
    endUserOther: rest,
    orgMemberShared: rest,
    orgMemberNotShared: rest,
    orgPrimaryContact: rest,
    apiKeyWithScope: "ok",
    apiKeyWithoutScope: PD,
    anonymous: UA,
  };
  return { ...all, ...named };
}

beforeAll(async () => {
  h = await attachmentHarness("attrpcacl");
  const headers = await h.serviceHeaders();
  const upload = async (seed: number, as = headers) =>
    (
      await h.client.uploadFile(
        { name: `f${seed}.txt`, type: "text/plain", data: bytesOf(100, seed) },
        { headers: as },
      )
    ).file?.id ?? 0;
  const entryOn = async (ticketId: number) => {
    const { insertId } = await run(
      h.em(),
      "INSERT INTO `ost_thread_entry` SET `created` = NOW(), `type` = 'M', `thread_id` = (SELECT `id` FROM `ost_thread` WHERE `object_type` = 'T' AND `object_id` = ?), `poster` = 'P', `body` = 'b'",
      [ticketId],
    );
    return insertId;
  };
  const attach = async (entryId: number, fileId: number) =>
    h.client.attachFiles({ threadEntryId: entryId, files: [{ fileId }] }, { headers });
  files.message = await upload(1);
  files.note = await upload(2);
  files.orphan = await upload(3);
  files.sharedOrg = await upload(4);
  files.primaryOrg = await upload(5);
  // Uploaded by the matrix's first caller that may link it: a fresh upload may be linked by its uploader only,
  // and once linked to the plain ticket's message everyone who sees that ticket may link it again.
  files.toAttach = await upload(6, await h.headersOf("agentWithAccess"));
  await attach(h.world.entries.message, files.message);
  await attach(h.world.entries.note, files.note);
  await attach(await entryOn(h.world.tickets.sharedOrg), files.sharedOrg);
  await attach(await entryOn(h.world.tickets.primaryOrg), files.primaryOrg);
});

afterAll(async () => {
  await h?.close();
});

describe("access to files follows osTicket's ticket rules", () => {
  it("holds for every RPC and every caller", async () => {
    const c = h.client;
    // The plain ticket (Support): its department's agents, its owner and collaborator.
    const plainTicket = outcomes(
      {
        agentWithAccess: "ok",
        agentViewOnly: "ok",
        agentLimitedExtraDept: "ok",
        endUserOwner: "ok",
        endUserCollaborator: "ok",
      },
      NF,
    );
    // An internal note of the same ticket: agents as above, no end user.
    const plainNote = outcomes(
      { agentWithAccess: "ok", agentViewOnly: "ok", agentLimitedExtraDept: "ok" },
      NF,
    );
    const cases: BolaCase[] = [
      {
        name: "GetFileInfo (file on a message)",
        call: (headers) => c.getFileInfo({ fileId: files.message }, { headers }),
        expect: plainTicket,
      },
      {
        name: "GetFileInfo (file on an internal note)",
        call: (headers) => c.getFileInfo({ fileId: files.note }, { headers }),
        expect: plainNote,
      },
      {
        name: "GetFileInfo (file on no ticket)",
        call: (headers) => c.getFileInfo({ fileId: files.orphan }, { headers }),
        expect: outcomes({}, NF),
      },
      {
        name: "DownloadFile (org-shared ticket, assigned to the assigned-only agent)",
        call: async (headers) => {
          for await (const _ of c.downloadFile(
            { file: { case: "fileId", value: files.sharedOrg } },
            { headers },
          ));
        },
        expect: outcomes(
          {
            agentWithAccess: "ok",
            agentViewOnly: "ok",
            agentLimitedExtraDept: "ok",
            agentAssignedOnly: "ok",
            orgMemberShared: "ok",
          },
          NF,
        ),
      },
      {
        name: "CreateDownloadLink (Sales ticket assigned to the team, org sharing with primary contacts)",
        call: (headers) => c.createDownloadLink({ fileId: files.primaryOrg }, { headers }),
        expect: outcomes(
          {
            agentLimitedExtraDept: "ok",
            agentWithoutAccess: "ok",
            agentTeamMember: "ok",
            orgPrimaryContact: "ok",
          },
          NF,
        ),
      },
      {
        name: "ListAttachments (plain ticket)",
        call: (headers) =>
          c.listAttachments({ target: { case: "ticketId", value: h.world.tickets.plain } }, { headers }),
        expect: plainTicket,
      },
      {
        name: "ListAttachments (internal note)",
        call: (headers) =>
          c.listAttachments({ target: { case: "threadEntryId", value: h.world.entries.note } }, { headers }),
        expect: plainNote,
      },
      {
        name: "AttachFiles (message of the plain ticket)",
        call: (headers) =>
          c.attachFiles(
            { threadEntryId: h.world.entries.message, files: [{ fileId: files.toAttach }] },
            { headers },
          ),
        // End users may not call it at all (the contract's access rule).
        expect: outcomes(
          {
            agentWithAccess: "ok",
            agentViewOnly: "ok",
            agentLimitedExtraDept: "ok",
            endUserOwner: PD,
            endUserCollaborator: PD,
            endUserOther: PD,
            orgMemberShared: PD,
            orgMemberNotShared: PD,
            orgPrimaryContact: PD,
          },
          NF,
        ),
      },
      {
        name: "PurgeOrphanFiles (administrators, cron keys)",
        call: (headers) => c.purgeOrphanFiles({ minAge: { seconds: 10n * 365n * 86_400n } }, { headers }),
        expect: outcomes({}, PD),
      },
    ];
    expect(await runBolaMatrix(h.world, h.issuer, cases)).toEqual([]);
  });

  it("shows end users the files of messages only, never of internal notes", async () => {
    const owner = await h.headersOf("endUserOwner");
    const agent = await h.headersOf("agentWithAccess");
    const target = { case: "ticketId" as const, value: h.world.tickets.plain };
    const asOwner = await h.client.listAttachments({ target }, { headers: owner });
    const asAgent = await h.client.listAttachments({ target }, { headers: agent });
    // The message entry also got `toAttach` in the matrix above.
    expect(asOwner.attachments.map((a) => a.file?.id)).toEqual([files.message, files.toAttach]);
    expect(asAgent.attachments.map((a) => a.file?.id)).toEqual([files.message, files.toAttach, files.note]);
  });

  it("links only files the caller may see: attached to a visible ticket, or their own fresh upload", async () => {
    const service = await h.serviceHeaders();
    const upload = async (seed: number, as: Headers = service) =>
      (
        await h.client.uploadFile(
          { name: `l${seed}.txt`, type: "text/plain", data: bytesOf(90, seed) },
          { headers: as },
        )
      ).file?.id ?? 0;
    const fresh = await upload(31, await h.headersOf("agentWithAccess"));
    const onFaqOnly = await upload(32);
    // Fresh uploads of other callers: another agent's, the service's, and a key's.
    const othersFresh = await upload(33, await h.headersOf("agentViewOnly"));
    const servicesFresh = await upload(34);
    const keysFresh = await upload(35, await h.headersOf("apiKeyWithScope"));
    // An unattached file osTicket's PHP stored: no ostmesh uploader at all.
    const { insertId: phpOrphan } = await run(
      h.em(),
      "INSERT INTO `ost_file` SET `ft` = 'T', `bk` = 'D', `type` = 'text/plain', `size` = 1, `key` = 'phporphan'," +
        " `signature` = 'phporphan', `name` = 'php.txt', `created` = NOW()",
    );
    await run(
      h.em(),
      "INSERT INTO `ost_attachment` SET `object_id` = 1, `type` = 'F', `file_id` = ?, `inline` = 0",
      [onFaqOnly],
    );
    const count = async () =>
      Number((await selectRow(h.em(), "SELECT COUNT(*) AS n FROM `ost_attachment`"))?.n ?? -1);
    const link = async (caller: BolaCaller, fileIds: number[]) => {
      const before = await count();
      const outcome = await h.client
        .attachFiles(
          { threadEntryId: h.world.entries.note, files: fileIds.map((fileId) => ({ fileId })) },
          { headers: await h.headersOf(caller) },
        )
        .then(
          (res) => `ok ${res.attachments.map((a) => a.file?.id).join(",")}`,
          (e: unknown) => `${Code[ConnectError.from(e).code]}: ${ConnectError.from(e).rawMessage}`,
        );
      return { outcome, added: (await count()) - before };
    };
    // A Sales ticket's file, out of the Support agent's sight: as missing as a file that does not exist, and
    // nothing is linked even when the other file of the call is fine.
    expect(await link("agentWithAccess", [files.primaryOrg])).toEqual({
      outcome: `NotFound: files[0].file_id: file ${files.primaryOrg} not found`,
      added: 0,
    });
    expect(await link("agentWithAccess", [files.message, files.primaryOrg])).toEqual({
      outcome: `NotFound: files[1].file_id: file ${files.primaryOrg} not found`,
      added: 0,
    });
    expect(await link("agentWithAccess", [2_000_000_000])).toEqual({
      outcome: "NotFound: files[0].file_id: file 2000000000 not found",
      added: 0,
    });
    // Attached elsewhere than to a ticket (a FAQ): no ticket makes it visible, so it is not linkable either.
    expect(await link("agentWithAccess", [onFaqOnly])).toEqual({
      outcome: `NotFound: files[0].file_id: file ${onFaqOnly} not found`,
      added: 0,
    });
    // Someone else's fresh upload, or osTicket's own unattached file: as missing as a file that does not exist.
    for (const [caller, fileId] of [
      ["agentWithAccess", othersFresh],
      ["agentWithAccess", servicesFresh],
      ["agentWithAccess", keysFresh],
      ["agentWithAccess", phpOrphan],
      ["apiKeyWithScope", fresh],
      ["apiKeyWithScope", phpOrphan],
    ] as const)
      expect({ caller, ...(await link(caller, [fileId])) }).toEqual({
        caller,
        outcome: `NotFound: files[0].file_id: file ${fileId} not found`,
        added: 0,
      });
    // A file of a ticket the agent sees, and the agent's own fresh upload attached nowhere yet.
    expect(await link("agentWithAccess", [files.message, fresh])).toEqual({
      outcome: `ok ${files.message},${fresh}`,
      added: 2,
    });
    // The key's own fresh upload; a service links any unattached file, osTicket's own included.
    expect(await link("apiKeyWithScope", [keysFresh])).toEqual({ outcome: `ok ${keysFresh}`, added: 1 });
    const byService = await h.client.attachFiles(
      { threadEntryId: h.world.entries.note, files: [{ fileId: servicesFresh }, { fileId: phpOrphan }] },
      { headers: service },
    );
    expect(byService.attachments.map((a) => a.file?.id)).toEqual([servicesFresh, phpOrphan]);
    // The agent who may see the Sales ticket (an extra department) links its file; so may a scoped key.
    expect(await link("agentLimitedExtraDept", [files.primaryOrg])).toEqual({
      outcome: `ok ${files.primaryOrg}`,
      added: 1,
    });
    expect(await link("apiKeyWithScope", [onFaqOnly])).toEqual({ outcome: `ok ${onFaqOnly}`, added: 1 });
    await run(
      h.em(),
      "DELETE FROM `ost_attachment` WHERE `object_id` = ? AND `type` = 'H' AND `file_id` IN (?, ?, ?, ?, ?, ?, ?)",
      [
        h.world.entries.note,
        files.message,
        fresh,
        files.primaryOrg,
        onFaqOnly,
        keysFresh,
        servicesFresh,
        phpOrphan,
      ],
    );
  });

  it("fails closed when a process serves the service without the auth interceptor", async () => {
    const impl = new AttachmentServiceImpl({ orm: h.orm, signer: h.signer, config: { unaryMaxBytes: 1024 } });
    const bare = createClient(
      AttachmentService,
      createRouterTransport((router) => router.service(AttachmentService, impl)),
    );
    const outcomes = await Promise.all(
      [
        () => bare.getFileInfo({ fileId: files.message }),
        () => bare.uploadFile({ name: "x.txt", data: Buffer.from("x") }),
        async () => {
          for await (const _ of bare.downloadFile({ file: { case: "fileId", value: files.message } }));
        },
        () => bare.purgeOrphanFiles({}),
      ].map((call) =>
        call().then(
          () => "ok",
          (e: unknown) => `${Code[ConnectError.from(e).code]}: ${ConnectError.from(e).rawMessage}`,
        ),
      ),
    );
    expect(outcomes).toEqual(Array(4).fill("Internal: authorization is not configured on this server"));
  });
});
