/**
 * The BOLA matrix over the real ticket and attachment services (issue 6): both services hosted in one kit
 * process on a scratch copy of the fresh osTicket install, behind the real auth interceptor with a verifier
 * that trusts the test issuer's JWKS, called over h2c by every kind of caller of the shared BOLA world with
 * real credentials. Every RPC that acts on a ticket, a thread entry or a file is run against five tickets:
 *
 *   plain    Support, owned by endUserOwner (+ endUserCollaborator), open, unassigned
 *   private  Support, owned by another end user in an organization that shares nothing
 *   primary  Sales (another department), owned by another end user whose organization shares with primary
 *            contacts, assigned to the team of agentTeamMember
 *   shared   Support, owned by another end user whose organization shares with every member, assigned to
 *            agentAssignedOnly
 *   closed   Sales, closed, owned by endUserOther, assigned to agentAssignedOnly (a closed ticket no longer
 *            counts as assigned); everything but status, assignment, transfer and update calls
 *
 * Rules (packages/kit/src/auth, the access options of the contracts): a caller who may not see a ticket
 * gets NOT_FOUND; a caller who may see it but whose kind or role may not do the action gets
 * PERMISSION_DENIED (the kind check comes first, so end users are refused agent-only RPCs even on tickets
 * they cannot see); an API key without the RPC's scope gets PERMISSION_DENIED; anonymous callers get
 * UNAUTHENTICATED; end users never see internal notes or their files.
 *
 * Every write is checked for its effect: an allowed call must leave its row (entry, status, assignee,
 * department, subject, attachment), a refused call must leave every table's row count and the ticket row
 * as they were. State changed by an allowed call is put back before the next caller, so each caller meets
 * the same ticket.
 *
 * Fresh uploads (attached nowhere yet) belong to their uploader: every RPC that links stored files by id
 * (CreateTicket, PostReply, PostMessage, PostNote with attachments[].file_id; AttachFiles) is also run with
 * the caller's own fresh upload (the outcome of the RPC) and with another caller's (NOT_FOUND wherever the
 * RPC itself would be allowed, nothing written).
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { type BolaCase, bolaHeaders, runBolaMatrix } from "@ostmesh/kit/auth/testing/matrix.ts";
import {
  BOLA_CALLERS,
  type BolaCaller,
  type BolaOutcome,
  type BolaWorld,
  createBolaWorld,
} from "@ostmesh/kit/auth/testing/world.ts";
import { AttachmentService } from "@ostmesh/proto";
import { PrincipalKind, PrincipalSchema } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { type TicketHarness, ticketHarness } from "@ostmesh/ticket/testing/harness.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const NF = Code.NotFound;
const PD = Code.PermissionDenied;
const UA = Code.Unauthenticated;

const SUPPORT = 1;
const SALES = 2;
const CLOSED = 3;

type Target = "plain" | "private" | "primary" | "shared" | "closed";
const TARGETS: readonly Target[] = ["plain", "private", "primary", "shared", "closed"];
/** Open tickets, where status, assignment and department changes are run too. */
const OPEN_TARGETS: readonly Target[] = ["plain", "private", "primary", "shared"];

const AGENTS = [
  "agentWithAccess",
  "agentViewOnly",
  "agentLimitedExtraDept",
  "agentWithoutAccess",
  "agentAssignedOnly",
  "agentTeamMember",
] as const satisfies readonly BolaCaller[];
const END_USERS = [
  "endUserOwner",
  "endUserCollaborator",
  "endUserOther",
  "orgMemberShared",
  "orgMemberNotShared",
  "orgPrimaryContact",
] as const satisfies readonly BolaCaller[];
type Agent = (typeof AGENTS)[number];

/** Who may see each ticket (the kit's visibility rules on the world's rows). */
const SEES: Record<Target, readonly BolaCaller[]> = {
  plain: ["agentWithAccess", "agentViewOnly", "agentLimitedExtraDept", "endUserOwner", "endUserCollaborator"],
  private: ["agentWithAccess", "agentViewOnly", "agentLimitedExtraDept"],
  // Sales agents, the team the ticket is assigned to, the primary contact of the owner's organization.
  primary: ["agentLimitedExtraDept", "agentWithoutAccess", "agentTeamMember", "orgPrimaryContact"],
  // Support agents (the assigned-only agent because it is assigned), every member of the owner's organization.
  shared: [
    "agentWithAccess",
    "agentViewOnly",
    "agentLimitedExtraDept",
    "agentAssignedOnly",
    "orgMemberShared",
  ],
  closed: ["agentLimitedExtraDept", "agentWithoutAccess", "endUserOther"],
};

/** The osTicket role that applies to an agent who sees the ticket (role 1 All Access, 3 Limited, 4 View only). */
const ROLE: Record<Target, Partial<Record<Agent, "all" | "limited" | "view">>> = {
  plain: { agentWithAccess: "all", agentViewOnly: "view", agentLimitedExtraDept: "limited" },
  private: { agentWithAccess: "all", agentViewOnly: "view", agentLimitedExtraDept: "limited" },
  // Limited's and Without's primary department is Sales (All Access); the team member's ticket is assigned
  // to its team, so its primary role (All Access) applies.
  primary: { agentLimitedExtraDept: "all", agentWithoutAccess: "all", agentTeamMember: "all" },
  // The assigned-only agent's primary department is Support, with All Access.
  shared: {
    agentWithAccess: "all",
    agentViewOnly: "view",
    agentLimitedExtraDept: "limited",
    agentAssignedOnly: "all",
  },
  closed: { agentLimitedExtraDept: "all", agentWithoutAccess: "all" },
};
const ROLE_PERMISSIONS: Record<"all" | "limited" | "view", readonly string[]> = {
  all: ["ticket.assign", "ticket.close", "ticket.edit", "ticket.reply", "ticket.transfer", "ticket.release"],
  limited: ["ticket.assign", "ticket.release", "ticket.transfer"],
  view: [],
};

function isAgent(caller: BolaCaller): caller is Agent {
  return (AGENTS as readonly BolaCaller[]).includes(caller);
}
function isEndUser(caller: BolaCaller): boolean {
  return (END_USERS as readonly BolaCaller[]).includes(caller);
}

/** Reads: who sees the ticket gets it, the rest NOT_FOUND; the key without the scope is refused. */
function read(target: Target): Record<BolaCaller, BolaOutcome> {
  const out = {} as Record<BolaCaller, BolaOutcome>;
  for (const caller of BOLA_CALLERS) out[caller] = SEES[target].includes(caller) ? "ok" : NF;
  out.apiKeyWithScope = "ok";
  out.apiKeyWithoutScope = PD;
  out.anonymous = UA;
  return out;
}

/** Agent-side actions: end users refused by kind, visible agents need the role's permission (if any). */
function agentAction(target: Target, permission?: string): Record<BolaCaller, BolaOutcome> {
  const out = read(target);
  for (const caller of BOLA_CALLERS) {
    if (isEndUser(caller)) out[caller] = PD;
    else if (isAgent(caller) && out[caller] === "ok" && permission) {
      const role = ROLE[target][caller];
      if (!role || !ROLE_PERMISSIONS[role].includes(permission)) out[caller] = PD;
    }
  }
  return out;
}

/** End-user messages: agents refused by kind, end users who see the ticket may post. */
function endUserAction(target: Target): Record<BolaCaller, BolaOutcome> {
  const out = read(target);
  for (const caller of AGENTS) out[caller] = PD;
  return out;
}

let h: TicketHarness;
let world: BolaWorld;
let files: Client;
let session: Http2SessionManager;
type Client = ReturnType<typeof createClient<typeof AttachmentService>>;

const ticketIds = {} as Record<Target, number>;
const numbers = {} as Record<Target, string>;
/** An end-user message entry on each ticket (the world's own on plain). */
const messages = {} as Record<Target, number>;
/** A file attached to each ticket's message, one on plain's internal note, and one per ticket to attach. */
const fileOn = {} as Record<Target, number>;
const toAttach = {} as Record<Target, number>;
let noteFile = 0;
let serviceHeaders: Headers;

beforeAll(async () => {
  h = await ticketHarness("bolamatrix");
  world = await createBolaWorld(h.db.url, {
    apiKeyScopes: ["tickets:read", "tickets:write", "tickets:create", "files:read", "files:write"],
  });
  ticketIds.plain = world.tickets.plain;
  ticketIds.private = world.tickets.privateOrg;
  ticketIds.primary = world.tickets.primaryOrg;
  ticketIds.shared = world.tickets.sharedOrg;
  ticketIds.closed = world.tickets.closedAssigned;
  for (const t of TARGETS) {
    const [row] = await h.query("SELECT number FROM ost_ticket WHERE ticket_id = ?", [ticketIds[t]]);
    numbers[t] = String(row?.number);
  }
  messages.plain = world.entries.message;
  for (const t of ["private", "primary", "shared", "closed"] as const) {
    const { insertId } = await h.exec(
      "INSERT INTO ost_thread_entry SET thread_id = (SELECT id FROM ost_thread WHERE object_type = 'T' AND object_id = ?)," +
        " staff_id = 0, user_id = (SELECT user_id FROM ost_ticket WHERE ticket_id = ?), type = 'M', poster = 'Bola'," +
        " body = 'message body', format = 'text', created = NOW(), updated = NOW()",
      [ticketIds[t], ticketIds[t]],
    );
    messages[t] = insertId;
  }

  const baseUrl = `http://127.0.0.1:${h.process.ports.h2c[0]}`;
  session = new Http2SessionManager(baseUrl);
  files = createClient(AttachmentService, createGrpcTransport({ baseUrl, sessionManager: session }));
  const service = await h.headers(
    create(PrincipalSchema, {
      actor: { kind: PrincipalKind.SERVICE, username: "bola", displayName: "bola" },
      scopes: ["files:read", "files:write"],
    }),
  );
  serviceHeaders = service;
  // 64 bytes of text (random hex): random binary labelled text/plain may sniff as another type.
  const upload = async (name: string, headers = service) => {
    const res = await files.uploadFile(
      {
        name: `${name}.txt`,
        type: "text/plain",
        data: Buffer.from(randomBytes(32).toString("hex")),
      },
      { headers },
    );
    if (!res.file?.id) throw new Error("upload returned no file");
    return res.file.id;
  };
  for (const t of TARGETS) {
    fileOn[t] = await upload(`on-${t}`);
    await files.attachFiles(
      { threadEntryId: messages[t], files: [{ fileId: fileOn[t] }] },
      { headers: service },
    );
    // A fresh upload may be linked by its uploader only: the matrix's first caller allowed to attach to the
    // ticket uploads it, and once it is linked to the ticket's message, every later caller who sees the
    // ticket may link it again.
    const first = BOLA_CALLERS.find((caller) => agentAction(t)[caller] === "ok");
    if (!first) throw new Error(`nobody may attach to ${t}`);
    toAttach[t] = await upload(`attach-${t}`, await bolaHeaders(world, h.issuer, first));
  }
  noteFile = await upload("note");
  await files.attachFiles(
    { threadEntryId: world.entries.note, files: [{ fileId: noteFile }] },
    { headers: service },
  );
});

afterAll(async () => {
  session?.abort();
  await world?.close();
  await h?.close();
});

const TICKET_STATE = "dept_id, staff_id, team_id, status_id, isanswered, isoverdue, closed, reopened";

async function ticketRow(ticketId: number): Promise<string> {
  const [row] = await h.query("SELECT * FROM ost_ticket WHERE ticket_id = ?", [ticketId]);
  return JSON.stringify(row);
}

async function countOf(sql: string, params: readonly unknown[]): Promise<number> {
  const [row] = await h.query(sql, params);
  return Number(row?.n);
}

/** Entries of a type on a ticket's thread whose body carries a marker. */
function entriesWith(ticketId: number, type: string, marker: string): Promise<number> {
  return countOf(
    "SELECT COUNT(*) AS n FROM ost_thread_entry e JOIN ost_thread th ON th.id = e.thread_id" +
      " WHERE th.object_type = 'T' AND th.object_id = ? AND e.type = ? AND e.body LIKE ?",
    [ticketId, type, `%${marker}%`],
  );
}

async function ticketColumn(ticketId: number, column: string): Promise<number> {
  const [row] = await h.query(`SELECT ${column} AS v FROM ost_ticket WHERE ticket_id = ?`, [ticketId]);
  return Number(row?.v);
}

/** Effects that contradict the outcome: an allowed write without its row, a refused one that wrote. */
const effectFailures: string[] = [];

/**
 * A write case: the call gets a fresh marker; an allowed call must pass `effect`, a refused one must leave
 * every row count and the ticket row untouched. The ticket's state is restored after an allowed call.
 */
function write(
  name: string,
  ticketId: number,
  expect: Record<BolaCaller, BolaOutcome>,
  call: (headers: Headers, caller: BolaCaller, marker: string) => Promise<unknown>,
  effect: (marker: string) => Promise<boolean>,
): BolaCase {
  return {
    name,
    expect,
    call: async (headers, caller) => {
      const marker = `bola${randomBytes(6).toString("hex")}`;
      const [state] = await h.query(`SELECT ${TICKET_STATE} FROM ost_ticket WHERE ticket_id = ?`, [ticketId]);
      const counts = await h.counts();
      const row = await ticketRow(ticketId);
      try {
        await call(headers, caller, marker);
      } catch (error) {
        const after = await h.counts();
        const changed = [...after].filter(([table, n]) => counts.get(table) !== n).map(([t]) => t);
        if (changed.length)
          effectFailures.push(`${name} as ${caller}: refused but wrote ${changed.join(", ")}`);
        if ((await ticketRow(ticketId)) !== row)
          effectFailures.push(`${name} as ${caller}: refused but changed the ticket row`);
        throw error;
      }
      if (!(await effect(marker))) effectFailures.push(`${name} as ${caller}: allowed but no effect`);
      if (state)
        await h.exec(
          `UPDATE ost_ticket SET ${TICKET_STATE.split(", ")
            .map((c) => `${c} = ?`)
            .join(", ")} WHERE ticket_id = ?`,
          [...TICKET_STATE.split(", ").map((c) => state[c]), ticketId],
        );
      return undefined;
    },
  };
}

/** API keys and services name the agent they act for; agents act as themselves. */
function staffFor(target: Target, caller: BolaCaller): number {
  if (isAgent(caller)) return 0;
  return inSales(target) ? world.staff.withoutAccess : world.staff.withAccess;
}

function inSales(target: Target): boolean {
  return target === "primary" || target === "closed";
}

function ticketCases(t: Target): BolaCase[] {
  const id = ticketIds[t];
  const c = h.client;
  const otherDept = inSales(t) ? SUPPORT : SALES;
  const assignee = inSales(t) ? world.staff.withoutAccess : world.staff.withAccess;
  const open = OPEN_TARGETS.includes(t);
  const cases: BolaCase[] = [
    {
      name: `GetTicket by id (${t})`,
      call: (headers) => c.getTicket({ lookup: { case: "ticketId", value: id } }, { headers }),
      expect: read(t),
    },
    {
      name: `GetTicket by number (${t})`,
      call: (headers) => c.getTicket({ lookup: { case: "number", value: numbers[t] } }, { headers }),
      expect: read(t),
    },
    {
      name: `ListThreadEntries (${t})`,
      call: (headers) => c.listThreadEntries({ ticketId: id }, { headers }),
      expect: read(t),
    },
    write(
      `PostReply (${t})`,
      id,
      agentAction(t, "ticket.reply"),
      (headers, caller, marker) =>
        c.postReply(
          { ticketId: id, body: `reply ${marker}`, staffId: staffFor(t, caller), notify: false },
          { headers },
        ),
      async (marker) => (await entriesWith(id, "R", marker)) === 1,
    ),
    write(
      `PostMessage (${t})`,
      id,
      endUserAction(t),
      (headers, _caller, marker) => c.postMessage({ ticketId: id, body: `message ${marker}` }, { headers }),
      async (marker) => (await entriesWith(id, "M", marker)) === 1,
    ),
    write(
      `PostNote (${t})`,
      id,
      agentAction(t),
      (headers, caller, marker) =>
        c.postNote(
          { ticketId: id, title: "note", body: `note ${marker}`, staffId: staffFor(t, caller) },
          { headers },
        ),
      async (marker) => (await entriesWith(id, "N", marker)) === 1,
    ),
  ];
  if (!open) return cases;
  return [
    ...cases,
    write(
      `ChangeStatus to closed (${t})`,
      id,
      agentAction(t, "ticket.close"),
      (headers) => c.changeStatus({ ticketId: id, statusId: CLOSED }, { headers }),
      async () => (await ticketColumn(id, "status_id")) === CLOSED,
    ),
    write(
      `AssignTicket (${t})`,
      id,
      agentAction(t, "ticket.assign"),
      (headers) =>
        c.assignTicket({ ticketId: id, assignee: { case: "staffId", value: assignee } }, { headers }),
      async () => (await ticketColumn(id, "staff_id")) === assignee,
    ),
    write(
      `TransferTicket (${t})`,
      id,
      agentAction(t, "ticket.transfer"),
      (headers) => c.transferTicket({ ticketId: id, deptId: otherDept }, { headers }),
      async () => (await ticketColumn(id, "dept_id")) === otherDept,
    ),
  ];
}

/** UpdateTicket (ticket.edit): the subject change is read back through GetTicket. */
function updateCases(t: Target): BolaCase[] {
  const id = ticketIds[t];
  const c = h.client;
  return [
    write(
      `UpdateTicket subject (${t})`,
      id,
      agentAction(t, "ticket.edit"),
      (headers, _caller, marker) =>
        c.updateTicket(
          { ticketId: id, patch: { subject: `subject ${marker}` }, updateMask: { paths: ["subject"] } },
          { headers },
        ),
      async (marker) => {
        const res = await c.getTicket(
          { lookup: { case: "ticketId", value: id } },
          { headers: await h.agent() },
        );
        return res.ticket?.subject === `subject ${marker}`;
      },
    ),
  ];
}

function fileCases(t: Target): BolaCase[] {
  const fileId = fileOn[t];
  return [
    {
      name: `GetFileInfo (${t})`,
      call: (headers) => files.getFileInfo({ fileId }, { headers }),
      expect: read(t),
    },
    {
      name: `ListAttachments by ticket (${t})`,
      call: (headers) =>
        files.listAttachments({ target: { case: "ticketId", value: ticketIds[t] } }, { headers }),
      expect: read(t),
    },
    {
      name: `ListAttachments by entry (${t})`,
      call: (headers) =>
        files.listAttachments({ target: { case: "threadEntryId", value: messages[t] } }, { headers }),
      expect: read(t),
    },
    {
      name: `DownloadFile (${t})`,
      call: async (headers) => {
        let bytes = 0;
        for await (const m of files.downloadFile({ file: { case: "fileId", value: fileId } }, { headers }))
          if (m.part.case === "chunk") bytes += m.part.value.length;
        if (bytes !== 64) throw new Error(`downloaded ${bytes} bytes`);
      },
      expect: read(t),
    },
    {
      name: `CreateDownloadLink (${t})`,
      call: (headers) => files.createDownloadLink({ fileId }, { headers }),
      expect: read(t),
    },
    write(
      `AttachFiles (${t})`,
      ticketIds[t],
      agentAction(t),
      (headers) =>
        files.attachFiles({ threadEntryId: messages[t], files: [{ fileId: toAttach[t] }] }, { headers }),
      async () =>
        (await countOf(
          "SELECT COUNT(*) AS n FROM ost_attachment WHERE object_id = ? AND type = 'H' AND file_id = ?",
          [messages[t], toAttach[t]],
        )) === 1,
    ),
  ];
}

/** Who may upload a file (UploadFile: agents, end users, keys with files:write, services). */
function mayUpload(caller: BolaCaller): boolean {
  return caller !== "anonymous" && caller !== "apiKeyWithoutScope";
}

/** The same outcomes, with every allowed call refused as NOT_FOUND (a file the caller may not link). */
function refusedFile(expect: Record<BolaCaller, BolaOutcome>): Record<BolaCaller, BolaOutcome> {
  const out = { ...expect };
  for (const caller of BOLA_CALLERS) if (out[caller] === "ok") out[caller] = NF;
  return out;
}

/** A new file attached nowhere, uploaded through the attachment service with `headers`. */
async function freshUpload(headers: Headers): Promise<number> {
  const res = await files.uploadFile(
    // Unique text: random bytes could look like another type's magic number and be refused as such.
    {
      name: "fresh.txt",
      type: "text/plain",
      data: Buffer.from(`fresh ${randomBytes(16).toString("hex")}\n`),
    },
    { headers },
  );
  if (!res.file?.id) throw new Error("upload returned no file");
  return res.file.id;
}

/** Whether the file is attached to the entry whose body carries the marker. */
async function linkedTo(fileId: number, marker: string): Promise<boolean> {
  return (
    (await countOf(
      "SELECT COUNT(*) AS n FROM ost_attachment a JOIN ost_thread_entry e ON e.id = a.object_id" +
        " WHERE a.type = 'H' AND a.file_id = ? AND e.body LIKE ?",
      [fileId, `%${marker}%`],
    )) === 1
  );
}

type FileLink = (headers: Headers, caller: BolaCaller, marker: string, fileId: number) => Promise<unknown>;

/**
 * One linking RPC, twice: with a fresh upload of the caller's own (callers who cannot upload get a service's
 * upload: the RPC refuses them before it looks at files) and with one of osTicket's admin agent, who may see
 * every ticket. The upload happens before the write case takes its row counts.
 */
function freshUploadCases(
  name: string,
  ticketId: number,
  expect: Record<BolaCaller, BolaOutcome>,
  call: FileLink,
  linked: (marker: string, fileId: number) => Promise<boolean> = async (marker, fileId) =>
    linkedTo(fileId, marker),
): BolaCase[] {
  const withUpload = (
    label: string,
    outcomes: Record<BolaCaller, BolaOutcome>,
    uploader: (caller: BolaCaller, headers: Headers) => Promise<Headers>,
  ): BolaCase => ({
    name: `${name} with ${label}`,
    expect: outcomes,
    call: async (headers, caller) => {
      const fileId = await freshUpload(await uploader(caller, headers));
      return write(
        `${name} with ${label}`,
        ticketId,
        outcomes,
        (h2, c2, marker) => call(h2, c2, marker, fileId),
        (marker) => linked(marker, fileId),
      ).call(headers, caller);
    },
  });
  return [
    withUpload("the caller's own fresh upload", expect, async (caller, headers) =>
      mayUpload(caller) ? headers : serviceHeaders,
    ),
    withUpload("another caller's fresh upload", refusedFile(expect), () => h.agent()),
  ];
}

const byId = (fileId: number) => [{ source: { case: "fileId" as const, value: fileId } }];

function freshUploadTicketCases(t: Target): BolaCase[] {
  const id = ticketIds[t];
  const c = h.client;
  return [
    ...freshUploadCases(
      `PostReply (${t})`,
      id,
      agentAction(t, "ticket.reply"),
      (headers, caller, marker, fileId) =>
        c.postReply(
          {
            ticketId: id,
            body: `reply ${marker}`,
            staffId: staffFor(t, caller),
            notify: false,
            attachments: byId(fileId),
          },
          { headers },
        ),
    ),
    ...freshUploadCases(`PostMessage (${t})`, id, endUserAction(t), (headers, _caller, marker, fileId) =>
      c.postMessage({ ticketId: id, body: `message ${marker}`, attachments: byId(fileId) }, { headers }),
    ),
    ...freshUploadCases(`PostNote (${t})`, id, agentAction(t), (headers, caller, marker, fileId) =>
      c.postNote(
        {
          ticketId: id,
          title: "note",
          body: `note ${marker}`,
          staffId: staffFor(t, caller),
          attachments: byId(fileId),
        },
        { headers },
      ),
    ),
    ...freshUploadCases(
      `AttachFiles (${t})`,
      id,
      agentAction(t),
      (headers, _caller, _marker, fileId) =>
        files.attachFiles({ threadEntryId: messages[t], files: [{ fileId }] }, { headers }),
      async (_marker, fileId) =>
        (await countOf(
          "SELECT COUNT(*) AS n FROM ost_attachment WHERE object_id = ? AND type = 'H' AND file_id = ?",
          [messages[t], fileId],
        )) === 1,
    ),
  ];
}

/**
 * CreateTicket: agents whose role holds ticket.create somewhere (all but the view-only agent), end users,
 * the key with tickets:create (see freshUploadCreateCases for whose ticket each opens).
 */
function createExpect(): Record<BolaCaller, BolaOutcome> {
  const out = {} as Record<BolaCaller, BolaOutcome>;
  for (const caller of BOLA_CALLERS) out[caller] = "ok";
  out.agentViewOnly = PD;
  out.apiKeyWithoutScope = PD;
  out.anonymous = UA;
  return out;
}

function freshUploadCreateCases(): BolaCase[] {
  return freshUploadCases(
    "CreateTicket",
    ticketIds.plain,
    createExpect(),
    (headers, caller, marker, fileId) =>
      h.client.createTicket(
        {
          // Agents open it for an existing end user (creating users takes user.create, which these
          // agents' roles do not hold); keys and services name a new requester; end users create for
          // themselves.
          ...(isEndUser(caller)
            ? {}
            : isAgent(caller)
              ? { requester: { userId: world.users.owner } }
              : { requester: { email: `${marker}@example.com`, name: "Fresh Upload" } }),
          // The portal and the staff panel ask for a help topic.
          topicId: 1,
          subject: `create ${marker}`,
          message: `message ${marker}`,
          attachments: byId(fileId),
        },
        { headers },
      ),
  );
}

describe("BOLA: ticket, thread and attachment RPCs", () => {
  it("give every caller exactly the outcome the access rules say", { timeout: 120_000 }, async () => {
    const cases = TARGETS.flatMap((t) => [...ticketCases(t), ...fileCases(t)]);
    const failures = await runBolaMatrix(world, h.issuer, cases);
    expect({ failures, effectFailures }).toEqual({ failures: [], effectFailures: [] });
  });

  it("UpdateTicket gives every caller the outcome the access rules say", async () => {
    effectFailures.length = 0;
    const failures = await runBolaMatrix(world, h.issuer, OPEN_TARGETS.flatMap(updateCases));
    expect({ failures, effectFailures }).toEqual({ failures: [], effectFailures: [] });
  });

  it("list and search only the tickets a caller may see", async () => {
    const mismatches: string[] = [];
    for (const caller of BOLA_CALLERS) {
      const headers = await bolaHeaders(world, h.issuer, caller);
      for (const t of TARGETS) {
        const expected = read(t)[caller];
        const want = expected === "ok" ? "listed" : expected === NF ? "absent" : Code[expected];
        const got = async (listed: () => Promise<readonly { id: number }[]>) => {
          try {
            return (await listed()).some((x) => x.id === ticketIds[t]) ? "listed" : "absent";
          } catch (error) {
            return Code[ConnectError.from(error).code];
          }
        };
        const list = await got(
          async () => (await h.client.listTickets({ pageSize: 200 }, { headers })).tickets,
        );
        const search = await got(
          async () =>
            (await h.client.searchTickets({ query: numbers[t], pageSize: 50 }, { headers })).tickets,
        );
        if (list !== want) mismatches.push(`ListTickets as ${caller} (${t}): expected ${want}, got ${list}`);
        if (search !== want)
          mismatches.push(`SearchTickets as ${caller} (${t}): expected ${want}, got ${search}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("list nothing but their own tickets to end users", async () => {
    for (const caller of END_USERS) {
      const headers = await bolaHeaders(world, h.issuer, caller);
      const listed = (await h.client.listTickets({ pageSize: 200 }, { headers })).tickets.map((t) => t.id);
      const own = TARGETS.filter((t) => SEES[t].includes(caller)).map((t) => ticketIds[t]);
      expect({ caller, listed: listed.sort((a, b) => a - b) }).toEqual({
        caller,
        listed: [...own].sort((a, b) => a - b),
      });
    }
  });

  it("answer NOT_FOUND for a ticket, entry or file that does not exist, as for one the caller may not see", async () => {
    const missing = (allowed: BolaOutcome): Record<BolaCaller, BolaOutcome> => {
      const out = read("plain");
      for (const caller of [...AGENTS, ...END_USERS]) out[caller] = NF;
      out.apiKeyWithScope = NF;
      for (const caller of END_USERS) out[caller] = allowed;
      return out;
    };
    const c = h.client;
    const failures = await runBolaMatrix(world, h.issuer, [
      {
        name: "GetTicket (missing id)",
        call: (headers) => c.getTicket({ lookup: { case: "ticketId", value: 99_999_999 } }, { headers }),
        expect: missing(NF),
      },
      {
        name: "GetTicket (missing number)",
        call: (headers) => c.getTicket({ lookup: { case: "number", value: "no-such-number" } }, { headers }),
        expect: missing(NF),
      },
      {
        name: "PostNote (missing ticket)",
        call: (headers, caller) =>
          c.postNote(
            { ticketId: 99_999_999, title: "n", body: "n", staffId: staffFor("plain", caller) },
            { headers },
          ),
        expect: missing(PD),
      },
      {
        name: "GetFileInfo (missing file)",
        call: (headers) => files.getFileInfo({ fileId: 2_000_000_000 }, { headers }),
        expect: missing(NF),
      },
      {
        name: "ListAttachments (missing entry)",
        call: (headers) =>
          files.listAttachments({ target: { case: "threadEntryId", value: 99_999_999 } }, { headers }),
        expect: missing(NF),
      },
    ]);
    expect(failures).toEqual([]);
  });

  /** Calls once as `caller`; returns the outcome and the tables whose row counts changed. */
  async function probe(
    caller: BolaCaller,
    call: (headers: Headers) => Promise<unknown>,
  ): Promise<{ outcome: string; wrote: string[] }> {
    const headers = await bolaHeaders(world, h.issuer, caller);
    const before = await h.counts();
    const outcome = await call(headers).then(
      () => "ok",
      (e: unknown) => Code[ConnectError.from(e).code],
    );
    const after = await h.counts();
    return { outcome, wrote: [...after].filter(([t, n]) => before.get(t) !== n).map(([t]) => t) };
  }

  // The file rule of the contracts ("callers may read files attached to tickets they may see") on the ticket
  // service: an attachments[].file_id of a file on a ticket the caller may not see is NOT_FOUND and nothing is
  // written (no entry, ost_attachment, outbox or search row), so the caller cannot get it linked to their own
  // ticket and read it there. File ids are sequential.
  it("let nobody attach a file of a ticket they may not see to an entry they may write", async () => {
    // The file of the Sales ticket, which neither the Support agent nor the plain ticket's owner may see.
    const foreign = fileOn.primary;
    const refused = { outcome: "NotFound", wrote: [] };
    expect
      .soft(
        await probe("endUserOwner", (headers) =>
          h.client.postMessage(
            {
              ticketId: ticketIds.plain,
              body: "steal",
              attachments: [{ source: { case: "fileId", value: foreign } }],
            },
            { headers },
          ),
        ),
      )
      .toEqual(refused);
    expect
      .soft(
        await probe("agentWithAccess", (headers) =>
          h.client.postReply(
            {
              ticketId: ticketIds.plain,
              body: "steal",
              notify: false,
              attachments: [{ source: { case: "fileId", value: foreign } }],
            },
            { headers },
          ),
        ),
      )
      .toEqual(refused);
    expect
      .soft(
        await probe("agentWithAccess", (headers) =>
          h.client.postNote(
            {
              ticketId: ticketIds.plain,
              title: "n",
              body: "steal",
              attachments: [{ source: { case: "fileId", value: foreign } }],
            },
            { headers },
          ),
        ),
      )
      .toEqual(refused);
    // Linked to their own ticket, the foreign file would be theirs to read.
    const owner = await bolaHeaders(world, h.issuer, "endUserOwner");
    expect
      .soft(
        await files.getFileInfo({ fileId: foreign }, { headers: owner }).then(
          () => "ok",
          (e: unknown) => Code[ConnectError.from(e).code],
        ),
      )
      .toBe("NotFound");
  });

  // The same rule in the attachment service: AttachFiles checks the caller's access to the files it links, not
  // only to the target entry, so a Support agent cannot link a Sales ticket's file to a Support entry (and
  // read it from there). NOT_FOUND, nothing written.
  it("let nobody link a file of a ticket they may not see through AttachFiles", async () => {
    expect
      .soft(
        await probe("agentWithAccess", (headers) =>
          files.attachFiles(
            { threadEntryId: messages.plain, files: [{ fileId: fileOn.primary }] },
            { headers },
          ),
        ),
      )
      .toEqual({ outcome: "NotFound", wrote: [] });
  });

  it("let no agent or end user post in another person's name", async () => {
    // Either refused with nothing written, or posted under the caller's own id: never as the named person.
    const posted = async (type: string, marker: string) =>
      h.query(
        "SELECT e.staff_id, e.user_id FROM ost_thread_entry e JOIN ost_thread th ON th.id = e.thread_id" +
          " WHERE th.object_type = 'T' AND th.object_id = ? AND e.type = ? AND e.body LIKE ?",
        [ticketIds.plain, type, `%${marker}%`],
      );
    const [state] = await h.query(`SELECT ${TICKET_STATE} FROM ost_ticket WHERE ticket_id = ?`, [
      ticketIds.plain,
    ]);
    const cases = [
      {
        caller: "agentWithAccess" as const,
        type: "R",
        own: { staff_id: world.staff.withAccess, user_id: 0 },
        call: (headers: Headers, marker: string) =>
          h.client.postReply(
            { ticketId: ticketIds.plain, body: marker, staffId: world.staff.viewOnly, notify: false },
            { headers },
          ),
      },
      {
        caller: "agentWithAccess" as const,
        type: "N",
        own: { staff_id: world.staff.withAccess, user_id: 0 },
        call: (headers: Headers, marker: string) =>
          h.client.postNote(
            { ticketId: ticketIds.plain, title: "n", body: marker, staffId: world.staff.viewOnly },
            { headers },
          ),
      },
      {
        caller: "endUserCollaborator" as const,
        type: "M",
        own: { staff_id: 0, user_id: world.users.collaborator },
        call: (headers: Headers, marker: string) =>
          h.client.postMessage(
            { ticketId: ticketIds.plain, body: marker, userId: world.users.owner },
            { headers },
          ),
      },
    ];
    for (const c of cases) {
      const marker = `imp${randomBytes(6).toString("hex")}`;
      const result = await probe(c.caller, (headers) => c.call(headers, marker));
      const rows = (await posted(c.type, marker)).map((r) => ({
        staff_id: Number(r.staff_id),
        user_id: Number(r.user_id),
      }));
      if (result.outcome === "ok")
        expect({ caller: c.caller, rows }).toEqual({ caller: c.caller, rows: [c.own] });
      else
        expect({ caller: c.caller, ...result, rows }).toEqual({
          caller: c.caller,
          outcome: "PermissionDenied",
          wrote: [],
          rows: [],
        });
    }
    if (state)
      await h.exec(
        `UPDATE ost_ticket SET ${TICKET_STATE.split(", ")
          .map((c) => `${c} = ?`)
          .join(", ")} WHERE ticket_id = ?`,
        [...TICKET_STATE.split(", ").map((c) => state[c]), ticketIds.plain],
      );
  });

  it("never show internal notes or their files to end users", async () => {
    for (const caller of ["endUserOwner", "endUserCollaborator"] as const) {
      const headers = await bolaHeaders(world, h.issuer, caller);
      const thread = await h.client.listThreadEntries(
        { ticketId: ticketIds.plain, pageSize: 200 },
        { headers },
      );
      expect(thread.entries.map((e) => e.id)).toContain(world.entries.message);
      expect(thread.entries.map((e) => e.id)).not.toContain(world.entries.note);
      expect(thread.entries.some((e) => e.type === ThreadEntryType.NOTE)).toBe(false);
      const attached = await files.listAttachments(
        { target: { case: "ticketId", value: ticketIds.plain } },
        { headers },
      );
      expect(attached.attachments.map((a) => a.file?.id)).toContain(fileOn.plain);
      expect(attached.attachments.map((a) => a.file?.id)).not.toContain(noteFile);
      const info = await files.getFileInfo({ fileId: noteFile }, { headers }).then(
        () => "ok",
        (e: unknown) => ConnectError.from(e).code,
      );
      expect(info).toBe(NF);
      const entry = await files
        .listAttachments({ target: { case: "threadEntryId", value: world.entries.note } }, { headers })
        .then(
          () => "ok",
          (e: unknown) => ConnectError.from(e).code,
        );
      expect(entry).toBe(NF);
    }
    // Agents who see the ticket do see the note and its file.
    const agent = await bolaHeaders(world, h.issuer, "agentViewOnly");
    const thread = await h.client.listThreadEntries(
      { ticketId: ticketIds.plain, pageSize: 200 },
      { headers: agent },
    );
    expect(thread.entries.map((e) => e.id)).toContain(world.entries.note);
    const info = await files.getFileInfo({ fileId: noteFile }, { headers: agent });
    expect(info.file?.id).toBe(noteFile);
  });

  // Last: the allowed CreateTicket calls leave new tickets behind (end users' own among them).
  it("let nobody link another caller's fresh upload, and every uploader link their own", {
    timeout: 240_000,
  }, async () => {
    effectFailures.length = 0;
    const cases = [...TARGETS.flatMap(freshUploadTicketCases), ...freshUploadCreateCases()];
    const failures = await runBolaMatrix(world, h.issuer, cases);
    expect({ failures, effectFailures }).toEqual({ failures: [], effectFailures: [] });
  });
});
