import { create } from "@bufbuild/protobuf";
import { createOrm, execute, type Orm, query, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import {
  ApiKeyKind,
  type Principal,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileVisibility, fileVisibility, mayLinkFile, uploaderOf } from "./files.ts";
import { ANONYMOUS, idOf, systemPrincipal } from "./principal.ts";
import type { SqlQuery } from "./sql.ts";
import { type BolaCaller, type BolaWorld, createBolaWorld } from "./testing/world.ts";
import {
  decideThreadEntryAccess,
  loadAttachmentAccessFacts,
  loadEndUserOrgFacts,
  THREAD_ENTRY_HIDDEN,
} from "./tickets.ts";

/** The callers the rules bind to tickets (API keys and services see every ticket). */
const TICKET_BOUND: readonly BolaCaller[] = [
  "agentWithAccess",
  "agentViewOnly",
  "agentLimitedExtraDept",
  "agentWithoutAccess",
  "agentAssignedOnly",
  "agentTeamMember",
  "endUserOwner",
  "endUserCollaborator",
  "endUserOther",
  "orgMemberShared",
  "orgMemberNotShared",
  "orgPrimaryContact",
];

type FileName =
  | "message"
  | "note"
  | "hiddenResponse"
  | "sharedOrgMessage"
  | "twoTickets"
  | "faqOnly"
  | "fresh"
  | "ownUpload"
  | "staleUpload"
  | "attachedUpload"
  | "missing";

/** Fresh uploads (attached nowhere) and who uploaded them through ostmesh (ostmesh_upload rows). */
const UPLOADED_BY: Partial<Record<FileName, readonly BolaCaller[]>> = {
  // The same bytes uploaded twice (deduplicated to one ost_file row): both uploaders are recorded.
  ownUpload: ["endUserOwner", "agentViewOnly"],
};

/** Who sees which file: the BOLA world's ticket visibility, narrowed to messages and responses for end users. */
const VISIBLE: Record<FileName, readonly BolaCaller[]> = {
  message: [
    "agentWithAccess",
    "agentViewOnly",
    "agentLimitedExtraDept",
    "endUserOwner",
    "endUserCollaborator",
  ],
  note: ["agentWithAccess", "agentViewOnly", "agentLimitedExtraDept"],
  hiddenResponse: ["agentWithAccess", "agentViewOnly", "agentLimitedExtraDept"],
  sharedOrgMessage: [
    "agentWithAccess",
    "agentViewOnly",
    "agentLimitedExtraDept",
    "agentAssignedOnly",
    "orgMemberShared",
  ],
  // The same bytes on the plain ticket and on the primary-contact org's ticket: either one is enough.
  twoTickets: [
    "agentWithAccess",
    "agentViewOnly",
    "agentLimitedExtraDept",
    "agentWithoutAccess",
    "agentTeamMember",
    "endUserOwner",
    "endUserCollaborator",
    "orgPrimaryContact",
  ],
  faqOnly: [],
  fresh: [],
  ownUpload: [],
  staleUpload: [],
  // Uploaded by an end user who may not see it, then attached to an internal note: the upload row no longer
  // counts once the file is attached somewhere.
  attachedUpload: ["agentWithAccess", "agentViewOnly", "agentLimitedExtraDept"],
  missing: [],
};

describe("fileVisibility: may this caller see this stored file (real rows of the BOLA world)", () => {
  let db: ScratchDatabase;
  let orm: Orm;
  let world: BolaWorld;
  let q: SqlQuery;
  const files = {} as Record<FileName, number>;

  beforeAll(async () => {
    db = await createScratchDatabase({ label: "authfiles" });
    orm = await createOrm({ url: db.url });
    await runMigrations(orm);
    world = await createBolaWorld(db.url);
    q = (sql, params = []) => query(orm.em.fork(), sql, params);
    const em = orm.em.fork();
    const file = async (name: string) =>
      (
        await execute(
          em,
          "INSERT INTO ost_file SET ft = 'T', bk = 'D', type = 'text/plain', size = 1, `key` = ?, signature = ?," +
            " name = ?, created = NOW()",
          [name, name, `${name}.txt`],
        )
      ).insertId;
    const attach = (fileId: number, objectId: number, type = "H") =>
      execute(em, "INSERT INTO ost_attachment SET object_id = ?, type = ?, file_id = ?, inline = 0", [
        objectId,
        type,
        fileId,
      ]);
    const entryOn = async (ticketId: number, type: string, flags = 0) => {
      const [thread] = await q("SELECT id FROM ost_thread WHERE object_type = 'T' AND object_id = ?", [
        ticketId,
      ]);
      return (
        await execute(
          em,
          "INSERT INTO ost_thread_entry SET thread_id = ?, type = ?, flags = ?, poster = 'Files', body = 'b'," +
            " format = 'text', created = NOW()",
          [Number(thread?.id), type, flags],
        )
      ).insertId;
    };

    files.message = await file("message");
    await attach(files.message, world.entries.message);
    files.note = await file("note");
    await attach(files.note, world.entries.note);
    files.hiddenResponse = await file("hiddenResponse");
    await attach(files.hiddenResponse, await entryOn(world.tickets.plain, "R", THREAD_ENTRY_HIDDEN));
    files.sharedOrgMessage = await file("sharedOrgMessage");
    await attach(files.sharedOrgMessage, await entryOn(world.tickets.sharedOrg, "M"));
    files.twoTickets = await file("twoTickets");
    await attach(files.twoTickets, world.entries.message);
    await attach(files.twoTickets, await entryOn(world.tickets.primaryOrg, "M"));
    files.faqOnly = await file("faqOnly");
    await attach(files.faqOnly, 1, "F");
    files.fresh = await file("fresh");
    const uploaded = (fileId: number, caller: BolaCaller, key: string) => {
      const uploader = uploaderOf(world.principal(caller));
      return execute(
        em,
        "INSERT INTO ostmesh_upload (file_id, principal_kind, principal_id, file_key) VALUES (?, ?, ?, ?)",
        [fileId, uploader.kind, uploader.id, key],
      );
    };
    files.ownUpload = await file("ownUpload");
    await uploaded(files.ownUpload, "endUserOwner", "ownUpload");
    await uploaded(files.ownUpload, "agentViewOnly", "ownUpload");
    // A row left behind for an earlier file of the same id (osTicket's cron purged it, the id was reused):
    // another key, so it is not this file's upload.
    files.staleUpload = await file("staleUpload");
    await uploaded(files.staleUpload, "endUserOwner", "someEarlierFile");
    files.attachedUpload = await file("attachedUpload");
    await uploaded(files.attachedUpload, "endUserOther", "attachedUpload");
    await attach(files.attachedUpload, world.entries.note);
    files.missing = 999_999_999;
  });
  afterAll(async () => {
    await world?.close();
    await orm?.close();
    await db?.drop();
  });

  it("visible through a visible ticket's entry, hidden when attached only elsewhere, uploaded or unattached when nowhere", async () => {
    const mismatches: string[] = [];
    for (const [name, visibleTo] of Object.entries(VISIBLE) as [FileName, readonly BolaCaller[]][]) {
      const unattached = ["fresh", "ownUpload", "staleUpload", "missing"].includes(name);
      for (const caller of TICKET_BOUND) {
        const expected: FileVisibility = visibleTo.includes(caller)
          ? "visible"
          : unattached
            ? UPLOADED_BY[name]?.includes(caller)
              ? "uploaded"
              : "unattached"
            : "hidden";
        const actual = await fileVisibility(q, world.principal(caller), files[name]);
        if (actual !== expected) mismatches.push(`${caller} / ${name}: expected ${expected}, got ${actual}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("counts the entries of a merged child's 'C' thread as that ticket's (Ticket::getThread, whose entries its view renders and links), and no 'C' thread of a ticket that still has its own", async () => {
    const em = orm.em.fork();
    const ticketWith = async (threads: readonly ("T" | "C")[]) => {
      const { insertId: ticketId } = await execute(
        em,
        "INSERT INTO ost_ticket SET number = ?, user_id = ?, status_id = 3, dept_id = 2, source = 'API'," +
          " flags = 1, created = NOW(), updated = NOW(), lastupdate = NOW()",
        [String(Math.floor(100000 + Math.random() * 899999)), world.users.privateOrgOwner],
      );
      const ids: number[] = [];
      for (const type of threads)
        ids.push(
          (
            await execute(em, "INSERT INTO ost_thread SET object_id = ?, object_type = ?, created = NOW()", [
              ticketId,
              type,
            ])
          ).insertId,
        );
      return ids;
    };
    const fileOn = async (threadId: number, type: string, name: string) => {
      const { insertId: entryId } = await execute(
        em,
        "INSERT INTO ost_thread_entry SET thread_id = ?, type = ?, flags = 0, poster = 'Files', body = 'b'," +
          " format = 'text', created = NOW()",
        [threadId, type],
      );
      const { insertId: fileId } = await execute(
        em,
        "INSERT INTO ost_file SET ft = 'T', bk = 'D', type = 'text/plain', size = 1, `key` = ?, signature = ?," +
          " name = ?, created = NOW()",
        [name, name, `${name}.txt`],
      );
      const { insertId: attachmentId } = await execute(
        em,
        "INSERT INTO ost_attachment SET object_id = ?, type = 'H', file_id = ?, inline = 0",
        [entryId, fileId],
      );
      return { fileId, attachmentId };
    };
    const [childThread = 0] = await ticketWith(["C"]);
    await execute(
      em,
      "INSERT INTO ost_thread_collaborator SET thread_id = ?, user_id = ?, flags = 1, role = 'M'," +
        " created = NOW(), updated = NOW()",
      [childThread, world.users.collaborator],
    );
    const childMessage = await fileOn(childThread, "M", "childMessage");
    const childNote = await fileOn(childThread, "N", "childNote");
    const [, strayThread = 0] = await ticketWith(["T", "C"]);
    const stray = await fileOn(strayThread, "M", "strayChildThread");
    // Sales tickets: the agents of Sales, and the collaborator of the child thread for its messages.
    const expected: Record<string, readonly BolaCaller[]> = {
      [childMessage.fileId]: ["agentLimitedExtraDept", "agentWithoutAccess", "endUserCollaborator"],
      [childNote.fileId]: ["agentLimitedExtraDept", "agentWithoutAccess"],
      [stray.fileId]: [],
    };
    const mismatches: string[] = [];
    for (const [fileId, visibleTo] of Object.entries(expected))
      for (const caller of TICKET_BOUND) {
        const want: FileVisibility = visibleTo.includes(caller) ? "visible" : "hidden";
        const got = await fileVisibility(q, world.principal(caller), Number(fileId));
        if (got !== want) mismatches.push(`${caller} / file ${fileId}: expected ${want}, got ${got}`);
      }
    expect(mismatches).toEqual([]);
    // One attachment's facts resolve to the same ticket and thread.
    const collaborator = world.principal("endUserCollaborator");
    const endUser = await loadEndUserOrgFacts(q, idOf(collaborator));
    const facts = await loadAttachmentAccessFacts(q, childMessage.attachmentId);
    expect(facts?.ticket.threadId).toBe(childThread);
    expect(decideThreadEntryAccess(collaborator, facts?.ticket, facts?.entry, { endUser }).allowed).toBe(
      true,
    );
    expect(await loadAttachmentAccessFacts(q, stray.attachmentId)).toBeUndefined();
  });

  it("uses the end user's organization facts when given, and loads them when not", async () => {
    const member = world.principal("orgMemberShared");
    const facts = await loadEndUserOrgFacts(q, idOf(member));
    expect(await fileVisibility(q, member, files.sharedOrgMessage, facts)).toBe("visible");
    // Facts of an organization that does not share: only the member's own and collaborated tickets count.
    const notSharing = await loadEndUserOrgFacts(q, idOf(world.principal("orgMemberNotShared")));
    expect(
      await fileVisibility(q, member, files.sharedOrgMessage, { ...notSharing, userId: idOf(member) }),
    ).toBe("hidden");
  });

  it("lets only the uploader link a fresh upload (same kind and id), services any file, and the rest what they see", async () => {
    const apiKey = world.principal("apiKeyWithScope");
    const keyId = idOf(apiKey);
    const service = create(PrincipalSchema, {
      actor: { kind: PrincipalKind.SERVICE, username: "gateway", displayName: "gateway" },
      scopes: ["files:write"],
    });
    // An osTicket key and an end user with the API key's id, and an agent with the end user's id: other
    // uploaders, however their ids compare.
    const osticketKey = create(PrincipalSchema, {
      actor: { kind: PrincipalKind.API_KEY, id: keyId, apiKeyKind: ApiKeyKind.OSTICKET },
    });
    const sameIdUser = create(PrincipalSchema, { actor: { kind: PrincipalKind.END_USER, id: keyId } });
    const sameIdAgent = create(PrincipalSchema, {
      actor: { kind: PrincipalKind.AGENT, id: idOf(world.principal("endUserOwner")) },
      agent: { departments: [] },
    });
    const em = orm.em.fork();
    const keyUpload = (
      await execute(
        em,
        "INSERT INTO ost_file SET ft = 'T', bk = 'D', type = 'text/plain', size = 1, `key` = 'keyUpload'," +
          " signature = 'keyUpload', name = 'k.txt', created = NOW()",
      )
    ).insertId;
    await execute(
      em,
      "INSERT INTO ostmesh_upload (file_id, principal_kind, principal_id, file_key) VALUES (?, 'apikey:ostmesh', ?, 'keyUpload')",
      [keyUpload, keyId],
    );
    const cases: [string, Principal, number, boolean][] = [
      ["key / own upload", apiKey, keyUpload, true],
      ["key / end user's upload", apiKey, files.ownUpload, false],
      ["key / osTicket's unattached file", apiKey, files.fresh, false],
      ["key / file on a ticket", apiKey, files.sharedOrgMessage, true],
      ["key / file on a FAQ only (by scope)", apiKey, files.faqOnly, true],
      ["key / missing file", apiKey, files.missing, false],
      ["osTicket key with the same id / ostmesh key's upload", osticketKey, keyUpload, false],
      ["end user with the key's id / key's upload", sameIdUser, keyUpload, false],
      ["agent with the end user's id / end user's upload", sameIdAgent, files.ownUpload, false],
      ["end user / own upload", world.principal("endUserOwner"), files.ownUpload, true],
      [
        "end user / another end user's upload",
        world.principal("endUserCollaborator"),
        files.ownUpload,
        false,
      ],
      [
        "end user / upload of a file id reused since",
        world.principal("endUserOwner"),
        files.staleUpload,
        false,
      ],
      ["end user / visible file", world.principal("endUserOwner"), files.message, true],
      [
        "end user / own upload, attached where they may not see it",
        world.principal("endUserOther"),
        files.attachedUpload,
        false,
      ],
      ["agent / own upload", world.principal("agentViewOnly"), files.ownUpload, true],
      ["agent / another caller's upload", world.principal("agentWithAccess"), files.ownUpload, false],
      ["agent / osTicket's unattached file", world.principal("agentWithAccess"), files.fresh, false],
      ["agent / file of a ticket out of sight", world.principal("agentWithoutAccess"), files.message, false],
      ["service / anyone's upload", service, files.ownUpload, true],
      ["service / osTicket's unattached file", service, files.fresh, true],
      ["system / osTicket's unattached file", systemPrincipal(), files.fresh, true],
      ["anonymous / visible everywhere", ANONYMOUS, files.twoTickets, false],
    ];
    const mismatches: string[] = [];
    for (const [name, principal, fileId, expected] of cases)
      if ((await mayLinkFile(q, principal, fileId)) !== expected)
        mismatches.push(`${name}: expected ${expected}`);
    expect(mismatches).toEqual([]);
    expect(await fileVisibility(q, apiKey, keyUpload)).toBe("uploaded");
  });

  it("names uploaders by kind (with the key's table) and id", () => {
    expect(uploaderOf(world.principal("agentWithAccess"))).toEqual({
      kind: "agent",
      id: world.staff.withAccess,
    });
    expect(uploaderOf(world.principal("endUserOwner"))).toEqual({ kind: "user", id: world.users.owner });
    expect(uploaderOf(world.principal("apiKeyWithScope"))).toEqual({
      kind: "apikey:ostmesh",
      id: world.apiKeys.withScope.id,
    });
    expect(
      uploaderOf(
        create(PrincipalSchema, {
          actor: { kind: PrincipalKind.API_KEY, id: 3, apiKeyKind: ApiKeyKind.OSTICKET },
        }),
      ),
    ).toEqual({ kind: "apikey:osticket", id: 3 });
    expect(uploaderOf(systemPrincipal())).toEqual({ kind: "system", id: 0 });
  });
});
