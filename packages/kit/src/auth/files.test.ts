import { createOrm, execute, type Orm, query, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FileVisibility, fileVisibility } from "./files.ts";
import { idOf } from "./principal.ts";
import type { SqlQuery } from "./sql.ts";
import { type BolaCaller, type BolaWorld, createBolaWorld } from "./testing/world.ts";
import { loadEndUserOrgFacts, THREAD_ENTRY_HIDDEN } from "./tickets.ts";

/** The callers the rules bind to tickets (API keys and services are decided by scope before asking). */
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
  | "missing";

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
    files.missing = 999_999_999;
  });
  afterAll(async () => {
    await world?.close();
    await orm?.close();
    await db?.drop();
  });

  it("visible through a visible ticket's entry, hidden when attached only elsewhere, unattached when nowhere", async () => {
    const mismatches: string[] = [];
    for (const [name, visibleTo] of Object.entries(VISIBLE) as [FileName, readonly BolaCaller[]][]) {
      const unattached = name === "fresh" || name === "missing";
      for (const caller of TICKET_BOUND) {
        const expected: FileVisibility = visibleTo.includes(caller)
          ? "visible"
          : unattached
            ? "unattached"
            : "hidden";
        const actual = await fileVisibility(q, world.principal(caller), files[name]);
        if (actual !== expected) mismatches.push(`${caller} / ${name}: expected ${expected}, got ${actual}`);
      }
    }
    expect(mismatches).toEqual([]);
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
});
