import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError } from "@connectrpc/connect";
import { rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import {
  MessageFormat,
  SortDirection,
  TicketSource,
  TicketState,
} from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { TicketSortField } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { levelScanCounts } from "../read/list.ts";
import { loadFulltextRules, searchText } from "../read/search-text.ts";
import { insertUser, type TicketHarness, ticketHarness } from "../testing/harness.ts";
import { replayApiCreate, replayTicketActions } from "../testing/replay.ts";

let h: TicketHarness;
let admin: Headers;
let service: Headers;

beforeAll(async () => {
  h = await ticketHarness("reads");
  // osTicket's own rows first (they carry fixed ids), then ostmesh's.
  await replayTicketActions(h);
  await replayApiCreate(h);
  admin = await h.agent();
  service = await h.service();
});
afterAll(async () => {
  await h?.close();
});

interface SearchPagesRequest {
  readonly filter?: { deptIds: number[] };
  readonly sortDirection?: SortDirection;
}

/** The ids of every page of a search, in order, following the page tokens. */
async function searchPages(query: string, request: SearchPagesRequest, pageSize: number): Promise<number[]> {
  const ids: number[] = [];
  let pageToken = "";
  do {
    const res = await h.client.searchTickets({ query, pageSize, pageToken, ...request }, { headers: admin });
    ids.push(...res.tickets.map((t) => t.id));
    pageToken = res.nextPageToken;
  } while (pageToken);
  return ids;
}

function field(error: ConnectError): string | undefined {
  return error.findDetails(ValidationErrorsSchema)[0]?.violations[0]?.field;
}

/** A DB-local DATETIME as the instant it stands for (the server's zone decides). */
async function instant(datetime: string) {
  const [row] = await h.query("SELECT UNIX_TIMESTAMP(?) AS s", [datetime]);
  return timestampFromMs(Number(row?.s) * 1000);
}

describe("tickets osTicket's PHP wrote", () => {
  it("reads the API-created ticket of the trace exactly", async () => {
    const { ticket } = await h.client.getTicket(
      { lookup: { case: "ticketId", value: 25 } },
      { headers: admin },
    );
    expect(ticket).toMatchObject({
      id: 25,
      number: "771291",
      subject: "Trace ticket",
      status: { id: 1, name: "Open", state: TicketState.OPEN },
      priority: { id: 2, name: "Normal" },
      department: { id: 1, name: "Support" },
      sla: { id: 1, name: "Default SLA" },
      requester: { id: 28, name: "Trace User", email: "trace.user@example.net" },
      source: TicketSource.API,
      ipAddress: "203.0.113.7",
      threadId: 25,
      isAnswered: false,
      answers: [],
      collaborators: [],
    });
    expect(ticket?.estDueDate).toEqual(await instant("2026-12-01 13:00:00"));
    expect(ticket?.helpTopic).toBeUndefined();
    expect(ticket?.assigneeStaff).toBeUndefined();
    const { entries } = await h.client.listThreadEntries({ ticketId: 25 }, { headers: admin });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      id: 31,
      type: ThreadEntryType.MESSAGE,
      flags: 65,
      poster: "Trace User",
      title: "Trace ticket",
      body: "<p>Hello <b>trace</b></p>",
      format: MessageFormat.HTML,
      source: TicketSource.API,
      userId: 28,
      bodyInAttachment: false,
      attachments: [
        { attachmentId: 18, fileId: 9, name: "trace.txt", type: "text/plain", size: 28n, inline: false },
      ],
    });
    // osTicket leaves `updated` at the zero date on entries never edited: absent, not 1970.
    expect(entries[0]?.updatedAt).toBeUndefined();
  });

  it("reads the ticket after osTicket's own reply, note, close, reopen, assignment, transfer and resolve", async () => {
    const { ticket } = await h.client.getTicket(
      { lookup: { case: "number", value: "832810" } },
      { headers: admin },
    );
    expect(ticket).toMatchObject({
      id: 1,
      status: { id: 2, name: "Resolved", state: TicketState.CLOSED },
      department: { id: 2, name: "Sales" },
      assigneeStaff: { id: 1, username: "ostadmin" },
      assigneeTeam: { id: 1 },
      isAnswered: false,
      subject: "Testing API",
    });
    expect(ticket?.closedAt).toBeDefined();
    expect(ticket?.reopenedAt).toBeDefined();
    expect(ticket?.lastResponseAt).toBeDefined();
    const { entries } = await h.client.listThreadEntries({ ticketId: 1 }, { headers: admin });
    expect(entries.map((e) => [e.id, e.type, e.title, e.poster])).toEqual([
      [1, ThreadEntryType.MESSAGE, "Testing API", "Angry User"],
      [5, ThreadEntryType.RESPONSE, "", "Admin User"],
      [6, ThreadEntryType.NOTE, "My note title", "Admin User"],
      [7, ThreadEntryType.NOTE, "Ticket transferred from Support to Sales", "Admin User"],
      [8, ThreadEntryType.MESSAGE, "", "Angry User"],
      [9, ThreadEntryType.NOTE, "Status Changed", "Admin User"],
    ]);
    expect(entries[1]).toMatchObject({
      pid: 1,
      staffId: 1,
      format: MessageFormat.HTML,
      source: TicketSource.UNSPECIFIED,
    });
    expect(entries[4]).toMatchObject({
      source: TicketSource.WEB,
      ipAddress: "10.1.1.1",
      body: "user follow-up",
    });
  });

  it("lists and searches osTicket's tickets like ostmesh's own", async () => {
    const list = await h.client.listTickets({ filter: { states: [TicketState.CLOSED] } }, { headers: admin });
    expect(list.tickets.map((t) => t.number)).toContain("832810");
    const search = await h.client.searchTickets({ query: "trace" }, { headers: admin });
    expect(search.tickets.map((t) => t.id)).toEqual([25]);
    const byNote = await h.client.searchTickets({ query: "closing comment" }, { headers: admin });
    expect(byNote.tickets.map((t) => t.id)).toEqual([1]);
  });
});

describe("GetTicket", () => {
  it("refuses requests without a lookup and answers NOT_FOUND for unknown tickets", async () => {
    expect((await rejectionOf(h.client.getTicket({}, { headers: admin }))).code).toBe(Code.InvalidArgument);
    const zero = await rejectionOf(
      h.client.getTicket({ lookup: { case: "ticketId", value: 0 } }, { headers: admin }),
    );
    expect(field(zero)).toBe("ticket_id");
    const blank = await rejectionOf(
      h.client.getTicket({ lookup: { case: "number", value: " " } }, { headers: admin }),
    );
    expect(field(blank)).toBe("number");
    const unknown = await rejectionOf(
      h.client.getTicket({ lookup: { case: "ticketId", value: 424242 } }, { headers: admin }),
    );
    expect(unknown.code).toBe(Code.NotFound);
    const number = await rejectionOf(
      h.client.getTicket({ lookup: { case: "number", value: "000000" } }, { headers: admin }),
    );
    expect(number.code).toBe(Code.NotFound);
  });

  it("shows end users their own tickets without agent-only details, and hides others'", async () => {
    const owner = await h.endUser(28);
    const { ticket } = await h.client.getTicket(
      { lookup: { case: "ticketId", value: 25 } },
      { headers: owner },
    );
    expect(ticket?.number).toBe("771291");
    expect(ticket?.sla).toBeUndefined();
    expect(ticket?.estDueDate).toBeUndefined();
    expect(ticket?.ipAddress).toBe("");
    const other = await rejectionOf(
      h.client.getTicket({ lookup: { case: "ticketId", value: 1 } }, { headers: owner }),
    );
    expect(other.code).toBe(Code.NotFound);
  });

  it("returns custom answers and collaborators", async () => {
    const form = await h.exec(
      "INSERT INTO ost_form SET type = 'G', flags = 1, title = 'Extra', name = '', created = NOW(), updated = NOW()",
    );
    await h.exec(
      "INSERT INTO ost_form_field SET form_id = ?, flags = 769, type = 'text', label = 'Asset tag', name = 'asset', sort = 1, created = NOW(), updated = NOW()",
      [form.insertId],
    );
    await h.exec(
      "INSERT INTO ost_help_topic_form SET topic_id = 1, form_id = ?, sort = 2, extra = '{\"disable\":[]}'",
      [form.insertId],
    );
    const res = await h.client.createTicket(
      {
        requester: { email: "answers@example.com", name: "Ann Answers" },
        subject: "With an asset",
        message: "see asset",
        topicId: 1,
        answers: { asset: "A-1234" },
      },
      { headers: service },
    );
    const ticketId = res.ticket?.id ?? 0;
    const collaborator = await insertUser(h, { name: "Cole Collab", email: "cole@example.com" });
    await h.exec(
      "INSERT INTO ost_thread_collaborator SET flags = 3, thread_id = ?, user_id = ?, role = 'M', created = NOW(), updated = NOW()",
      [res.ticket?.threadId, collaborator],
    );
    const { ticket } = await h.client.getTicket(
      { lookup: { case: "ticketId", value: ticketId } },
      { headers: admin },
    );
    expect(ticket?.answers.map((a) => [a.name, a.label, a.value])).toEqual([
      ["asset", "Asset tag", "A-1234"],
    ]);
    expect(ticket?.collaborators).toMatchObject([
      { user: { id: collaborator, name: "Cole Collab" }, active: true, cc: true },
    ]);
    // Lists leave answers and collaborators out.
    const list = await h.client.listTickets(
      { filter: { requesterUserId: res.ticket?.requester?.id } },
      { headers: admin },
    );
    expect(list.tickets[0]?.answers).toEqual([]);
    expect(list.tickets[0]?.subject).toBe("With an asset");
  });
});

describe("ListThreadEntries", () => {
  it("pages a thread oldest first and hides notes from end users", async () => {
    const first = await h.client.listThreadEntries({ ticketId: 1, pageSize: 4 }, { headers: admin });
    expect(first.entries.map((e) => e.id)).toEqual([1, 5, 6, 7]);
    const second = await h.client.listThreadEntries(
      { ticketId: 1, pageSize: 4, pageToken: first.nextPageToken },
      { headers: admin },
    );
    expect(second.entries.map((e) => e.id)).toEqual([8, 9]);
    expect(second.nextPageToken).toBe("");
    const notes = await h.client.listThreadEntries(
      { ticketId: 1, types: [ThreadEntryType.NOTE] },
      { headers: admin },
    );
    expect(notes.entries.map((e) => e.id)).toEqual([6, 7, 9]);
    const user = await h.endUser(1);
    const seen = await h.client.listThreadEntries({ ticketId: 1 }, { headers: user });
    expect(seen.entries.map((e) => e.id)).toEqual([1, 5, 8]);
    const onlyNotes = await h.client.listThreadEntries(
      { ticketId: 1, types: [ThreadEntryType.NOTE] },
      { headers: user },
    );
    expect(onlyNotes.entries).toEqual([]);
  });

  it("refuses bad requests", async () => {
    expect(field(await rejectionOf(h.client.listThreadEntries({ ticketId: 0 }, { headers: admin })))).toBe(
      "ticket_id",
    );
    expect(
      field(await rejectionOf(h.client.listThreadEntries({ ticketId: 1, pageSize: -1 }, { headers: admin }))),
    ).toBe("page_size");
    const other = await h.client.listThreadEntries({ ticketId: 1, pageSize: 1 }, { headers: admin });
    const misused = await rejectionOf(
      h.client.listThreadEntries({ ticketId: 25, pageToken: other.nextPageToken }, { headers: admin }),
    );
    expect(field(misused)).toBe("page_token");
    const hidden = await rejectionOf(
      h.client.listThreadEntries({ ticketId: 1, includeHidden: true }, { headers: await h.endUser(1) }),
    );
    expect(field(hidden)).toBe("include_hidden");
    expect(
      (await rejectionOf(h.client.listThreadEntries({ ticketId: 424242 }, { headers: admin }))).code,
    ).toBe(Code.NotFound);
  });
});

describe("timestamps the wire carries but Timestamp forbids", () => {
  it("are INVALID_ARGUMENT naming the field, before any handler reads them", async () => {
    const admin = await h.agent();
    const listed = await rejectionOf(
      h.client.listTickets(
        { filter: { created: { start: { seconds: -62135596801n } } } },
        { headers: admin },
      ),
    );
    expect(listed.code).toBe(Code.InvalidArgument);
    expect(listed.rawMessage).toBe("filter.created.start: timestamp outside 0001-01-01 … 9999-12-31");
    const searched = await rejectionOf(
      h.client.searchTickets(
        { query: "printer", filter: { updated: { end: { seconds: 253402300800n } } } },
        { headers: admin },
      ),
    );
    expect(searched.rawMessage).toBe("filter.updated.end: timestamp outside 0001-01-01 … 9999-12-31");
    const before = await h.counts();
    const created = await rejectionOf(
      h.client.createTicket(
        {
          requester: { email: "far.future@example.com", name: "Far Future" },
          subject: "Due in the year 10000",
          message: "hello",
          dueDate: { seconds: 253402300800n },
        },
        { headers: admin },
      ),
    );
    expect(created.code).toBe(Code.InvalidArgument);
    expect(created.rawMessage).toBe("due_date: timestamp outside 0001-01-01 … 9999-12-31");
    expect(await h.counts()).toEqual(before);
  });
});

describe("ListTickets", () => {
  let owner: number;
  const created: number[] = [];

  beforeAll(async () => {
    owner = await insertUser(h, { name: "Lisa Lister", email: "lisa@example.com" });
    for (let i = 0; i < 12; i++) {
      const res = await h.client.createTicket(
        {
          requester: { userId: owner },
          subject: `Listed ${i}`,
          message: `body ${i}`,
          priorityId: (i % 4) + 1,
          deptId: i % 3 === 0 ? 2 : 1,
        },
        { headers: service },
      );
      created.push(res.ticket?.id ?? 0);
    }
  });

  async function all(request: Parameters<TicketHarness["client"]["listTickets"]>[0], headers = admin) {
    const ids: number[] = [];
    let pageToken = "";
    for (let pages = 0; pages < 100; pages++) {
      const res = await h.client.listTickets({ ...request, pageToken }, { headers });
      ids.push(...res.tickets.map((t) => t.id));
      pageToken = res.nextPageToken;
      if (!pageToken) return ids;
    }
    throw new Error("too many pages");
  }

  it("pages through every match exactly once in each order", async () => {
    const filter = { requesterUserId: owner };
    const byId = [...created].sort((a, b) => a - b);
    expect(
      await all({
        filter,
        pageSize: 5,
        sortField: TicketSortField.CREATED_AT,
        sortDirection: SortDirection.ASC,
      }),
    ).toEqual(byId);
    expect(await all({ filter, pageSize: 5, sortField: TicketSortField.CREATED_AT })).toEqual(
      [...byId].reverse(),
    );
    // Same-second tickets tie on lastupdate: the ticket id decides, in the same direction.
    expect(await all({ filter, pageSize: 3 })).toEqual([...byId].reverse());
    const byNumber = await all({
      filter,
      pageSize: 4,
      sortField: TicketSortField.NUMBER,
      sortDirection: SortDirection.ASC,
    });
    expect(new Set(byNumber)).toEqual(new Set(created));
    const numbers = (
      await h.client.listTickets(
        { filter, pageSize: 50, sortField: TicketSortField.NUMBER, sortDirection: SortDirection.ASC },
        { headers: admin },
      )
    ).tickets.map((t) => t.number);
    expect(numbers).toEqual([...numbers].sort());
    const byPriority = await h.client.listTickets(
      { filter, pageSize: 50, sortField: TicketSortField.PRIORITY, sortDirection: SortDirection.ASC },
      { headers: admin },
    );
    const urgencies = byPriority.tickets.map((t) => t.priority?.urgency ?? 99);
    expect(urgencies).toEqual([...urgencies].sort((a, b) => a - b));
    expect(await all({ filter, pageSize: 5, sortField: TicketSortField.PRIORITY })).toHaveLength(12);
    expect(
      await all({
        filter,
        pageSize: 5,
        sortField: TicketSortField.DUE_DATE,
        sortDirection: SortDirection.ASC,
      }),
    ).toHaveLength(12);
    expect(await all({ filter, pageSize: 5, sortField: TicketSortField.UPDATED_AT })).toHaveLength(12);
  });

  it("orders tickets without a last update as MySQL does: last in DESC, first in ASC", async () => {
    const filter = { requesterUserId: owner };
    const nulls = created.slice(0, 3);
    await h.exec(`UPDATE ost_ticket SET lastupdate = NULL WHERE ticket_id IN (${nulls.join(",")})`);
    await h.exec(
      `UPDATE ost_ticket SET lastupdate = lastupdate - INTERVAL ticket_id MINUTE WHERE ticket_id IN (${created.join(",")})`,
    );
    for (const desc of [true, false]) {
      const expected = (
        await h.query(
          `SELECT ticket_id FROM ost_ticket WHERE user_id = ? ORDER BY lastupdate ${desc ? "DESC" : "ASC"}, ticket_id ${desc ? "DESC" : "ASC"}`,
          [owner],
        )
      ).map((r) => Number(r.ticket_id));
      const paged = await all({
        filter,
        pageSize: 2,
        sortField: TicketSortField.LAST_UPDATE_AT,
        sortDirection: desc ? SortDirection.DESC : SortDirection.ASC,
      });
      expect(paged).toEqual(expected);
      expect(desc ? paged.slice(-3) : paged.slice(0, 3)).toEqual(desc ? [...nulls].reverse() : nulls);
    }
    await h.exec(`UPDATE ost_ticket SET lastupdate = created WHERE ticket_id IN (${created.join(",")})`);
  });

  it("applies every filter of the contract", async () => {
    const count = async (filter: Record<string, unknown>) =>
      Number(
        (
          await h.client.listTickets(
            { filter: { requesterUserId: owner, ...filter }, includeTotalSize: true, pageSize: 1 },
            { headers: admin },
          )
        ).totalSize,
      );
    expect(await count({})).toBe(12);
    expect(await count({ deptIds: [2] })).toBe(4);
    expect(await count({ deptIds: [1, 2] })).toBe(12);
    expect(await count({ priorityIds: [4] })).toBe(3);
    expect(await count({ statusIds: [1] })).toBe(12);
    expect(await count({ states: [TicketState.CLOSED] })).toBe(0);
    expect(await count({ states: [TicketState.UNSPECIFIED] })).toBe(0);
    expect(await count({ assigneeStaffId: 0 })).toBe(12);
    expect(await count({ assigneeTeamId: 0 })).toBe(12);
    expect(await count({ topicIds: [0] })).toBe(12);
    expect(await count({ overdue: false, answered: false })).toBe(12);
    expect(await count({ answered: true })).toBe(0);
    expect(await count({ sources: [TicketSource.API] })).toBe(12);
    expect(await count({ sources: [TicketSource.EMAIL] })).toBe(0);
    expect(await count({ created: { start: timestampFromMs(Date.now() + 3_600_000) } })).toBe(0);
    expect(await count({ updated: { end: timestampFromMs(Date.now() + 3_600_000) } })).toBe(12);
    expect(await count({ orgId: 0 })).toBe(12);
    expect(await count({ orgId: 5 })).toBe(0);
  });

  it("stays correct while tickets are being created", async () => {
    const filter = { requesterUserId: owner };
    const before = await all({ filter, pageSize: 50 });
    const seen: number[] = [];
    let pageToken = "";
    let extra = 0;
    do {
      const res = await h.client.listTickets({ filter, pageSize: 2, pageToken }, { headers: admin });
      seen.push(...res.tickets.map((t) => t.id));
      pageToken = res.nextPageToken;
      // New tickets arrive between pages; they sort before the cursor and never shift what follows.
      await h.client.createTicket(
        { requester: { userId: owner }, subject: `Arrived ${extra++}`, message: "meanwhile" },
        { headers: service },
      );
    } while (pageToken);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(before);
  });

  it("limits agents to their departments and end users to their own tickets", async () => {
    const limited = await h.exec(
      "INSERT INTO ost_staff SET dept_id = 2, role_id = 1, username = 'salesonly', firstname = 'Sal', lastname = 'Es'," +
        " email = 'sal@example.com', signature = '', isactive = 1, permissions = '{}', created = NOW(), updated = NOW()",
    );
    const sales = await all(
      { filter: { requesterUserId: owner }, pageSize: 50 },
      await h.agent(limited.insertId),
    );
    expect(sales).toHaveLength(4);
    const mine = await all({ pageSize: 50 }, await h.endUser(owner));
    expect(new Set(mine)).toEqual(new Set(await all({ filter: { requesterUserId: owner }, pageSize: 50 })));
  });

  it("lists a sub-department's tickets to the parent's agents and a managed department's to its manager (Staff::getDepartments, Staff::getTicketsVisibility)", async () => {
    // getDepartments: departments whose ost_department.path holds the agent's department, and those whose
    // manager_id is the agent. They give visibility; the role there is getRole's ticket.create fallback.
    const agent = async (deptId: number, username: string) =>
      (
        await h.exec(
          "INSERT INTO ost_staff SET dept_id = ?, role_id = 1, username = ?, firstname = 'Tree', lastname = 'Agent'," +
            " email = ?, signature = '', isactive = 1, permissions = '{}', created = NOW(), updated = NOW()",
          [deptId, username, `${username}@example.com`],
        )
      ).insertId;
    const department = async (pid: number, managerId: number, name: string) => {
      const id = (
        await h.exec(
          "INSERT INTO ost_department SET pid = ?, manager_id = ?, name = ?, flags = 4, ispublic = 1, path = '/'," +
            " created = NOW(), updated = NOW()",
          [pid || null, managerId, name],
        )
      ).insertId;
      await h.exec("UPDATE ost_department SET path = ? WHERE id = ?", [
        pid ? `/${pid}/${id}/` : `/${id}/`,
        id,
      ]);
      return id;
    };
    const salesAgent = await agent(2, "salesparent");
    const manager = await agent(3, "deptmanager");
    const salesEurope = await department(2, 0, "Sales Europe");
    const managed = await department(0, manager, "Managed Desk");
    const requester = await insertUser(h, { name: "Tara Tree", email: "tara.tree@example.com" });
    const ticketIn = async (deptId: number) => {
      const res = await h.client.createTicket(
        { requester: { userId: requester }, subject: "Arborist visit", message: "prune it", deptId: 2 },
        { headers: service },
      );
      const id = res.ticket?.id ?? 0;
      await h.exec("UPDATE ost_ticket SET dept_id = ? WHERE ticket_id = ?", [deptId, id]);
      return id;
    };
    const subTicket = await ticketIn(salesEurope);
    const managedTicket = await ticketIn(managed);
    const asSales = await h.agent(salesAgent);
    const asManager = await h.agent(manager);
    const listed = async (headers: Headers) =>
      (await all({ filter: { requesterUserId: requester }, pageSize: 50 }, headers)).sort((a, b) => a - b);
    const searched = async (headers: Headers) =>
      (await h.client.searchTickets({ query: "arborist" }, { headers })).tickets.map((t) => t.id).sort();
    expect(await listed(asSales)).toEqual([subTicket]);
    expect(await searched(asSales)).toEqual([subTicket]);
    expect(await listed(asManager)).toEqual([managedTicket]);
    expect(await searched(asManager)).toEqual([managedTicket]);
    // GetTicket agrees (Ticket::checkStaffPerm), and the role there is the fallback: no ticket.reply.
    const get = (id: number, headers: Headers) =>
      h.client.getTicket({ lookup: { case: "ticketId", value: id } }, { headers });
    expect((await get(subTicket, asSales)).ticket?.id).toBe(subTicket);
    expect((await get(managedTicket, asManager)).ticket?.id).toBe(managedTicket);
    expect((await rejectionOf(get(managedTicket, asSales))).code).toBe(Code.NotFound);
    expect((await rejectionOf(get(subTicket, asManager))).code).toBe(Code.NotFound);
    const reply = await rejectionOf(
      h.client.postReply({ ticketId: subTicket, body: "on it" }, { headers: asSales }),
    );
    expect(reply.code).toBe(Code.PermissionDenied);
  });

  it("lists a ticket referred to an agent only while it is open, yet GetTicket opens it closed too; a department's referral lists it in any state (Staff::getTicketsVisibility, Ticket::checkStaffPerm)", async () => {
    const agent = async (deptId: number, username: string, assignedOnly = 0) =>
      (
        await h.exec(
          "INSERT INTO ost_staff SET dept_id = ?, role_id = 1, username = ?, firstname = 'Ref', lastname = 'Erred'," +
            " email = ?, signature = '', isactive = 1, assigned_only = ?, permissions = '{}', created = NOW(), updated = NOW()",
          [deptId, username, `${username}@example.com`, assignedOnly],
        )
      ).insertId;
    const referredAgent = await agent(3, "referredagent");
    const supportAgent = await agent(1, "supportreferral");
    const supportLimited = await agent(1, "supportlimited", 1);
    const requester = await insertUser(h, { name: "Rita Referral", email: "rita.referral@example.com" });
    const ticketReferredTo = async (objectType: "S" | "D", objectId: number) => {
      const res = await h.client.createTicket(
        { requester: { userId: requester }, subject: "Chimney sweep", message: "soot everywhere", deptId: 2 },
        { headers: service },
      );
      await h.exec(
        "INSERT INTO ost_thread_referral SET thread_id = ?, object_id = ?, object_type = ?, created = NOW()",
        [res.ticket?.threadId, objectId, objectType],
      );
      return res.ticket?.id ?? 0;
    };
    const toAgent = await ticketReferredTo("S", referredAgent);
    const toSupport = await ticketReferredTo("D", 1);
    const listed = async (headers: Headers) =>
      (await all({ filter: { requesterUserId: requester }, pageSize: 50 }, headers)).sort((a, b) => a - b);
    const searched = async (headers: Headers) =>
      (await h.client.searchTickets({ query: "chimney" }, { headers })).tickets.map((t) => t.id).sort();
    const get = async (id: number, headers: Headers) =>
      (await h.client.getTicket({ lookup: { case: "ticketId", value: id } }, { headers })).ticket?.id;
    const asReferred = await h.agent(referredAgent);
    const asSupport = await h.agent(supportAgent);
    const asLimited = await h.agent(supportLimited);

    expect(await listed(asReferred)).toEqual([toAgent]);
    expect(await searched(asReferred)).toEqual([toAgent]);
    expect(await get(toAgent, asReferred)).toBe(toAgent);

    const [closed] = await h.query(
      "SELECT id FROM ost_ticket_status WHERE state = 'closed' ORDER BY id LIMIT 1",
    );
    await h.exec("UPDATE ost_ticket SET status_id = ?, closed = NOW() WHERE ticket_id IN (?, ?)", [
      closed?.id,
      toAgent,
      toSupport,
    ]);
    // Closed: getTicketsVisibility counts the agent's referral under status__state = 'open' only, while
    // checkStaffPerm's Thread::isReferred ignores the state — osTicket's list and view differ here.
    expect(await listed(asReferred)).toEqual([]);
    expect(await searched(asReferred)).toEqual([]);
    expect(await get(toAgent, asReferred)).toBe(toAgent);
    // A department referral is listed whatever the state...
    expect(await listed(asSupport)).toEqual([toSupport]);
    expect(await searched(asSupport)).toEqual([toSupport]);
    expect(await get(toSupport, asSupport)).toBe(toSupport);
    // ...but not to an agent limited to assigned tickets, whom isReferred (getDepts) still lets open it.
    expect(await listed(asLimited)).toEqual([]);
    expect(await searched(asLimited)).toEqual([]);
    expect(await get(toSupport, asLimited)).toBe(toSupport);
    expect(
      (
        await rejectionOf(
          h.client.getTicket({ lookup: { case: "ticketId", value: toAgent } }, { headers: asSupport }),
        )
      ).code,
    ).toBe(Code.NotFound);
  });

  it("lists a ticket referred to a team only while the team's ost_team row exists, yet GetTicket opens it either way (Staff::getTicketsVisibility's referrals__team join, Thread::isReferred)", async () => {
    const { insertId: staffId } = await h.exec(
      "INSERT INTO ost_staff SET dept_id = 3, role_id = 1, username = 'teamreferral', firstname = 'Tea', lastname = 'Mate'," +
        " email = 'teamreferral@example.com', signature = '', isactive = 1, assigned_only = 0, permissions = '{}'," +
        " created = NOW(), updated = NOW()",
    );
    const { insertId: teamId } = await h.exec(
      "INSERT INTO ost_team SET lead_id = 0, flags = 1, name = 'Referral crew', created = NOW(), updated = NOW()",
    );
    await h.exec("INSERT INTO ost_team_member SET team_id = ?, staff_id = ?", [teamId, staffId]);
    const requester = await insertUser(h, { name: "Tom Team", email: "tom.team@example.com" });
    const res = await h.client.createTicket(
      { requester: { userId: requester }, subject: "Gutter repair", message: "leaves everywhere", deptId: 2 },
      { headers: service },
    );
    const ticketId = res.ticket?.id ?? 0;
    await h.exec(
      "INSERT INTO ost_thread_referral SET thread_id = ?, object_id = ?, object_type = 'E', created = NOW()",
      [res.ticket?.threadId, teamId],
    );
    const listed = async (headers: Headers) => await all({ filter: { requesterUserId: requester } }, headers);
    const searched = async (headers: Headers) =>
      (await h.client.searchTickets({ query: "gutter" }, { headers })).tickets.map((t) => t.id);
    const get = async (headers: Headers) =>
      (await h.client.getTicket({ lookup: { case: "ticketId", value: ticketId } }, { headers })).ticket?.id;
    const member = await h.agent(staffId);
    expect(await listed(member)).toEqual([ticketId]);
    expect(await searched(member)).toEqual([ticketId]);
    // The team is deleted behind osTicket's back: its member rows (Staff::getTeams) and the referral stay.
    await h.exec("DELETE FROM ost_team WHERE team_id = ?", [teamId]);
    const stillMember = await h.agent(staffId);
    expect(await listed(stillMember)).toEqual([]);
    expect(await searched(stillMember)).toEqual([]);
    expect(await get(stillMember)).toBe(ticketId);
  });

  it("opens a merged child ticket to a collaborator of its 'C' thread, and its combine/separate parent, but lists neither to them (Ticket::checkUserAccess, Ticket::getThread, include/client/tickets.inc.php)", async () => {
    const owner = await insertUser(h, { name: "Paula Parent", email: "paula.parent@example.com" });
    const childOwner = await insertUser(h, { name: "Carl Child", email: "carl.child@example.com" });
    const collaborator = await insertUser(h, { name: "Mia Merged", email: "mia.merged@example.com" });
    const open = async (userId: number, subject: string) =>
      (
        await h.client.createTicket(
          { requester: { userId }, subject, message: "merge me", deptId: 2 },
          { headers: service },
        )
      ).ticket;
    const parent = await open(owner, "Roof parent");
    const child = await open(childOwner, "Roof child");
    const parentId = parent?.id ?? 0;
    const childId = child?.id ?? 0;
    // Ticket::merge with combined threads: the parent's FLAG_PARENT | FLAG_COMBINE_THREADS, the child's pid,
    // and the child's thread turned into a child thread (Thread::setExtra).
    await h.exec("UPDATE ost_ticket SET flags = flags | 0x11 WHERE ticket_id = ?", [parentId]);
    await h.exec("UPDATE ost_ticket SET ticket_pid = ?, flags = flags | 0x01 WHERE ticket_id = ?", [
      parentId,
      childId,
    ]);
    await h.exec("UPDATE ost_thread SET object_type = 'C' WHERE id = ?", [child?.threadId]);
    await h.exec(
      "INSERT INTO ost_thread_collaborator SET flags = 1, thread_id = ?, user_id = ?, role = 'M', created = NOW(), updated = NOW()",
      [child?.threadId, collaborator],
    );
    const get = async (id: number, headers: Headers) =>
      (await h.client.getTicket({ lookup: { case: "ticketId", value: id } }, { headers })).ticket;
    // Ticket::getCollaborators of the child: its 'C' thread's.
    const asAdmin = await get(childId, admin);
    expect(asAdmin?.threadId).toBe(child?.threadId);
    expect(asAdmin?.collaborators.map((c) => c.user?.id)).toEqual([collaborator]);
    const asCollaborator = await h.endUser(collaborator);
    expect((await get(childId, asCollaborator))?.id).toBe(childId);
    expect((await get(parentId, asCollaborator))?.id).toBe(parentId);
    expect(await all({}, asCollaborator)).toEqual([]);
    // The child's owner: the child is theirs (listed), the parent opens through it.
    const asChildOwner = await h.endUser(childOwner);
    expect((await get(parentId, asChildOwner))?.id).toBe(parentId);
    expect(await all({}, asChildOwner)).toEqual([childId]);
    // A visual merge (neither combine nor separate) opens nothing through its children.
    await h.exec("UPDATE ost_ticket SET flags = (flags & ~0x03) WHERE ticket_id IN (?, ?)", [
      parentId,
      childId,
    ]);
    expect((await rejectionOf(get(parentId, asCollaborator))).code).toBe(Code.NotFound);
    expect((await get(childId, asCollaborator))?.id).toBe(childId);
  });

  it("refuses bad page sizes, sorts and tokens", async () => {
    expect(field(await rejectionOf(h.client.listTickets({ pageSize: -5 }, { headers: admin })))).toBe(
      "page_size",
    );
    expect(
      field(
        await rejectionOf(h.client.listTickets({ sortField: TicketSortField.RELEVANCE }, { headers: admin })),
      ),
    ).toBe("sort_field");
    const page = await h.client.listTickets({ pageSize: 1 }, { headers: admin });
    expect(page.tickets).toHaveLength(1);
    // One character changed in the middle (the last characters of base64 may carry unused bits).
    const token = page.nextPageToken;
    const at = Math.floor(token.length / 2);
    const tampered = `${token.slice(0, at)}${token[at] === "A" ? "B" : "A"}${token.slice(at + 1)}`;
    expect(
      field(
        await rejectionOf(h.client.listTickets({ pageSize: 1, pageToken: tampered }, { headers: admin })),
      ),
    ).toBe("page_token");
    const otherFilter = await rejectionOf(
      h.client.listTickets(
        { pageSize: 1, pageToken: page.nextPageToken, filter: { deptIds: [1] } },
        { headers: admin },
      ),
    );
    expect(field(otherFilter)).toBe("page_token");
    expect(field(await rejectionOf(h.client.listTickets({ pageToken: "garbage" }, { headers: admin })))).toBe(
      "page_token",
    );
    // page_size above the maximum is clamped, not refused.
    expect(
      (await h.client.listTickets({ pageSize: 100_000 }, { headers: admin })).tickets.length,
    ).toBeLessThanOrEqual(200);
  });
});

describe("SearchTickets", () => {
  it("finds tickets by subject, thread text, requester and exact number, with filters", async () => {
    const res = await h.client.createTicket(
      {
        requester: { email: "zed@example.com", name: "Zed Zebra" },
        subject: "Quasar malfunction",
        message: "the flux capacitor hums",
      },
      { headers: service },
    );
    const id = res.ticket?.id ?? 0;
    await h.client.postNote(
      { ticketId: id, title: "Diagnosis", body: "gyroscope misaligned" },
      { headers: admin },
    );
    const ids = async (query: string, filter = {}) =>
      (await h.client.searchTickets({ query, filter }, { headers: admin })).tickets.map((t) => t.id);
    expect(await ids("quasar")).toEqual([id]);
    expect(await ids("capacitor")).toEqual([id]);
    expect(await ids("gyroscope")).toEqual([id]);
    expect(await ids("zebra")).toEqual([id]);
    expect(await ids(res.ticket?.number ?? "")).toEqual([id]);
    // Boolean operators apply per indexed row (subject row, each entry), as in osTicket's search.
    expect(await ids("+quasar +malfunction")).toEqual([id]);
    expect(await ids("+quasar -malfunction")).toEqual([]);
    expect(await ids('"flux capacitor"')).toEqual([id]);
    expect(await ids("zed@example.com")).toContain(id);
    expect(await ids("quasar", { deptIds: [2] })).toEqual([]);
    expect(await ids("quasar", { deptIds: [1] })).toEqual([id]);
    expect(await ids("nothing-matches-this")).toEqual([]);
    // End users find only their own tickets.
    const stranger = await insertUser(h, { name: "Sam Searcher", email: "sam@example.com" });
    const theirs = await h.client.searchTickets({ query: "quasar" }, { headers: await h.endUser(stranger) });
    expect(theirs.tickets).toEqual([]);
  });

  it("finds exactly the tickets InnoDB's own phrase search finds, ranked as it ranks them", async () => {
    // Each text in a message, a subject or both; the phrase "zorblax quimbly" is asked for as its two
    // words plus an order check, which must agree with MariaDB's phrase matching row for row.
    const texts = [
      "zorblax quimbly",
      "Zorblax, QUIMBLY!",
      "first zorblax\n\tquimbly then",
      "zórblax quimbly",
      "zorblaxquimbly",
      "zorblax_quimbly",
      "zorblax a quimbly",
      "zorblax the quimbly",
      "quimbly zorblax",
      "zorblax-quimbly",
      "zorblaxx quimbly",
      "zorblax quimblys",
      "zorblax somewhere else quimbly",
    ];
    const ticketOf = new Map<number, string>();
    for (const [i, text] of texts.entries()) {
      const res = await h.client.createTicket(
        {
          requester: { email: "phrase@example.com", name: "Phil Phrase" },
          subject: i % 3 === 1 ? `Phrase case ${i}` : text,
          message: i % 3 === 0 ? "nothing to see" : text,
        },
        { headers: service },
      );
      ticketOf.set(res.ticket?.id ?? 0, text);
    }
    const innodb = async (against: string) =>
      (
        await h.query(
          "SELECT DISTINCT COALESCE(IF(s.object_type = 'T', s.object_id, NULL), th.object_id) AS id" +
            " FROM ost__search s LEFT JOIN ost_thread_entry e ON s.object_type = 'H' AND e.id = s.object_id" +
            " LEFT JOIN ost_thread th ON th.id = e.thread_id AND th.object_type = 'T'" +
            " WHERE MATCH (s.title, s.content) AGAINST (? IN BOOLEAN MODE)",
          [against],
        )
      )
        .map((r) => Number(r.id))
        .filter((id) => ticketOf.has(id))
        .sort((a, b) => a - b);
    const ours = async (query: string) =>
      (await h.client.searchTickets({ query, pageSize: 50 }, { headers: admin })).tickets
        .map((t) => t.id)
        .sort((a, b) => a - b);
    // The server's rules allow the rewrite here (so this compares it, not InnoDB with itself).
    const rules = await loadFulltextRules(h.em());
    expect(searchText('"zorblax quimbly"', rules).match).toBe("+zorblax +quimbly");
    expect(rules?.stopwords.has("the")).toBe(true);
    const expected = await innodb('"zorblax quimbly"');
    // MariaDB's own verdict: whole words, anything but word characters between, case and accents folded.
    expect(expected.map((id) => ticketOf.get(id))).toEqual([
      "zorblax quimbly",
      "Zorblax, QUIMBLY!",
      "first zorblax\n\tquimbly then",
      "zórblax quimbly",
      "zorblax-quimbly",
    ]);
    expect(await ours('"zorblax quimbly"')).toEqual(expected);
    expect(await ours('+"zorblax quimbly"')).toEqual(expected);
    expect(await ours('"zorblax quimbly" -somewhere')).toEqual(await innodb('"zorblax quimbly" -somewhere'));
    // Phrases left to InnoDB (a stopword inside) still answer as InnoDB does.
    expect(await ours('"zorblax the quimbly"')).toEqual(await innodb('"zorblax the quimbly"'));
    // The same scores as the phrase: the page comes back in InnoDB's order of relevance.
    const [row] = await h.query(
      "SELECT MATCH (title, content) AGAINST (? IN BOOLEAN MODE) AS phrase," +
        " MATCH (title, content) AGAINST (? IN BOOLEAN MODE) AS words FROM ost__search" +
        " WHERE MATCH (title, content) AGAINST (? IN BOOLEAN MODE) LIMIT 1",
      ['"zorblax quimbly"', "+zorblax +quimbly", '"zorblax quimbly"'],
    );
    expect(Number(row?.words)).toBeCloseTo(Number(row?.phrase), 6);
  });

  const quickTicket = async (subject: string, message: string) => {
    const res = await h.client.createTicket(
      { requester: { email: "quick@example.com", name: "Quinn Quick" }, subject, message },
      { headers: service },
    );
    return { id: res.ticket?.id ?? 0, number: res.ticket?.number ?? "" };
  };
  const quickIds = async (query: string) =>
    (await h.client.searchTickets({ query, pageSize: 200 }, { headers: admin })).tickets.map((t) => t.id);
  const refusal = async (query: string) => {
    const error = await rejectionOf(h.client.searchTickets({ query }, { headers: admin }));
    const violation = error.findDetails(ValidationErrorsSchema)[0]?.violations[0];
    return { code: error.code, field: violation?.field, description: violation?.description };
  };

  it("finds the tickets whose number contains a numeric text, as osTicket's quick search does", async () => {
    const numbered = await quickTicket("Ticket with a number", "nothing numeric here");
    const part = numbered.number.slice(1, 5);
    // The digits in text are not searched: osTicket looks only at numbers (`number contains`).
    const mentions = await quickTicket(`Mentions ${part}0 in its subject`, `and ${part} in its message`);
    const found = await quickIds(part);
    expect(found).toContain(numbered.id);
    expect(found).not.toContain(mentions.id);
    const [count] = await h.query("SELECT COUNT(*) AS n FROM ost_ticket WHERE number LIKE ?", [`%${part}%`]);
    expect(found.length).toBe(Number(count?.n));
    // The exact number first; and a number is never too short.
    expect((await quickIds(numbered.number))[0]).toBe(numbered.id);
    expect(await quickIds(numbered.number.slice(-2))).toContain(numbered.id);
  });

  it("searches the requester's addresses for an e-mail-like text, as osTicket's quick search does", async () => {
    const own = await h.client.createTicket(
      {
        requester: { email: "Ada.Lovelace@example.org", name: "Ada Lovelace" },
        subject: "Engine",
        message: "notes",
      },
      { headers: service },
    );
    const ownId = own.ticket?.id ?? 0;
    // Another requester's ticket that mentions the address: full text would find it, osTicket does not.
    const mentions = await h.client.createTicket(
      {
        requester: { email: "babbage@example.org", name: "Charles Babbage" },
        subject: "Write to ada.lovelace@example.org",
        message: "ada.lovelace@example.org knows",
      },
      { headers: service },
    );
    const mentionsId = mentions.ticket?.id ?? 0;
    const userId = Number(own.ticket?.requester?.id);
    // A second address of the same user counts too (user__emails__address, any of them).
    await h.exec("INSERT INTO ost_user_email SET user_id = ?, flags = 0, address = ?", [
      userId,
      "countess@example.net",
    ]);
    // A valid address is compared whole (the column's case-insensitive collation).
    expect(await quickIds("ada.lovelace@example.org")).toEqual([ownId]);
    expect(await quickIds("ADA.LOVELACE@EXAMPLE.ORG")).toEqual([ownId]);
    expect(await quickIds("countess@example.net")).toEqual([ownId]);
    expect(await quickIds("lovelace@example.org")).toEqual([]);
    // Not a valid address: contained in an address (LIKE, its wildcards taken literally).
    expect(await quickIds("lovelace@example.")).toEqual([ownId]);
    expect(await quickIds("a.lovelace@")).toEqual([ownId]);
    expect(await quickIds("@example.org")).toEqual(expect.arrayContaining([ownId, mentionsId]));
    expect(await quickIds("ace@ex_mple")).toEqual([]);
    // Filters and visibility as every search.
    const search = (query: string, filter: { deptIds: number[] }, headers: Headers) =>
      h.client.searchTickets({ query, filter }, { headers }).then((r) => r.tickets.map((t) => t.id));
    expect(await search("countess@example.net", { deptIds: [2] }, admin)).toEqual([]);
    expect(await search("countess@example.net", { deptIds: [1] }, admin)).toEqual([ownId]);
    const babbage = Number(mentions.ticket?.requester?.id);
    expect(await search("countess@example.net", { deptIds: [] }, await h.endUser(babbage))).toEqual([]);
    expect(await search("countess@example.net", { deptIds: [] }, await h.endUser(userId))).toEqual([ownId]);
  });

  it("chooses natural language or boolean mode as osTicket does", async () => {
    const both = await quickTicket("Wombat kettle broken", "the wombat and the kettle");
    const wombat = await quickTicket("Wombat loose in the office", "only the animal");
    const kettle = await quickTicket("Kettle leaking", "only the appliance");
    // Hyphenated words without an operator: natural language mode, any of the parts, both parts first.
    const hyphenated = await quickIds("wombat-kettle");
    expect(new Set(hyphenated)).toEqual(new Set([both.id, wombat.id, kettle.id]));
    expect(hyphenated[0]).toBe(both.id);
    // With an operator the text is boolean: `-kettle` leaves out tickets whose row has kettle.
    expect(await quickIds("+wombat -kettle")).toEqual([wombat.id]);
    // osTicket's grammar has no operator before a phrase: natural language mode, InnoDB's phrase.
    expect(await quickIds('+"wombat kettle"')).toEqual([both.id]);
    expect(await quickIds('"wombat kettle" -broken')).toEqual([]);
  });

  it("refuses four keywords as osTicket counts them, with its text, and allows five words on a line", async () => {
    const ticket = await quickTicket("Platypus grooming", "platypus care");
    expect(await refusal("platypus\ngrooming\ncare\nnow")).toEqual({
      code: Code.InvalidArgument,
      field: "query",
      description: "Search term cannot have more than 4 keywords",
    });
    // osTicket counts at most 2 on one line; natural language mode matches any word.
    expect(await quickIds("platypus zzqx yyqx xxqz wwqz")).toEqual([ticket.id]);
  });

  it("refuses a non-numeric text under 3 bytes, which osTicket would answer with every ticket", async () => {
    expect(await refusal("ab")).toEqual({
      code: Code.InvalidArgument,
      field: "query",
      description: "query must be at least 3 bytes long unless it is a ticket number",
    });
    expect((await refusal("é")).code).toBe(Code.InvalidArgument);
    expect(await quickIds("éa")).toEqual([]);
  });

  it("pages by relevance and by other sorts, and refuses an empty query", async () => {
    for (let i = 0; i < 5; i++)
      await h.client.createTicket(
        {
          requester: { email: "pager@example.com", name: "Pat Pager" },
          subject: `Nebula report ${i}`,
          message: i % 2 ? "nebula nebula" : "calm",
        },
        { headers: service },
      );
    const seen: number[] = [];
    let pageToken = "";
    do {
      const page = await h.client.searchTickets(
        { query: "nebula", pageSize: 2, pageToken, includeTotalSize: true },
        { headers: admin },
      );
      expect(page.totalSize).toBe(5n);
      seen.push(...page.tickets.map((t) => t.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(new Set(seen).size).toBe(5);
    const byCreated = await h.client.searchTickets(
      { query: "nebula", sortField: TicketSortField.CREATED_AT, sortDirection: SortDirection.ASC },
      { headers: admin },
    );
    const idsAsc = byCreated.tickets.map((t) => t.id);
    expect(idsAsc).toEqual([...idsAsc].sort((a, b) => a - b));
    expect(field(await rejectionOf(h.client.searchTickets({ query: "  " }, { headers: admin })))).toBe(
      "query",
    );
  });

  it("ranks the first page from the index's best rows and agrees with the complete ranking", async () => {
    // Enough matching rows that the first page is served from the best index rows only (page size 2 reads
    // 24 of them), with relevance varying by how often the word occurs.
    for (let i = 0; i < 30; i++)
      await h.client.createTicket(
        {
          requester: { email: "walrus@example.com", name: "Wally Walrus" },
          subject: `Walrus sighting ${i}`,
          message: `${"walrus ".repeat(1 + (i % 7))}seen near dock ${i}`,
          deptId: i % 7 === 0 ? 2 : 1,
        },
        { headers: service },
      );
    const pages = (request: SearchPagesRequest, pageSize: number) => searchPages("walrus", request, pageSize);
    // Ascending relevance always takes the complete query; reversed, it is the descending order.
    const complete = (await pages({ sortDirection: SortDirection.ASC }, 50)).reverse();
    expect(complete).toHaveLength(30);
    expect(await pages({}, 2)).toEqual(complete);
    expect(await pages({}, 50)).toEqual(complete);
    // Filters that leave few of the best rows' tickets fall back to the complete query.
    const sales = (await pages({ filter: { deptIds: [2] }, sortDirection: SortDirection.ASC }, 50)).reverse();
    expect(sales).toHaveLength(5);
    expect(await pages({ filter: { deptIds: [2] } }, 2)).toEqual(sales);
  });

  it("maps the best score levels first and the rest only when a filter leaves them short, with the same ranking", async () => {
    // Three score levels: 30 tickets in Support at the top, then 2 and 20 in Sales. Sales' first page needs
    // rows below the top level, which the fast path maps in a second step.
    const levels = [
      { count: 30, times: 3, deptId: 1 },
      { count: 2, times: 2, deptId: 2 },
      { count: 20, times: 1, deptId: 2 },
    ];
    for (const { count, times, deptId } of levels)
      for (let i = 0; i < count; i++)
        await h.client.createTicket(
          {
            requester: { email: "levels@example.com", name: "Lev Levels" },
            subject: `Level report ${times}.${i}`,
            message: `${"zyzzyva ".repeat(times)}case ${i}`,
            deptId,
          },
          { headers: service },
        );
    const pages = (request: SearchPagesRequest, pageSize: number) =>
      searchPages("zyzzyva", request, pageSize);
    const sales = (await pages({ filter: { deptIds: [2] }, sortDirection: SortDirection.ASC }, 50)).reverse();
    expect(sales).toHaveLength(22);
    expect(await pages({ filter: { deptIds: [2] } }, 2)).toEqual(sales);
    // Again, now starting with the read the first page needed last time (a budget hint): the same pages.
    expect(await pages({ filter: { deptIds: [2] } }, 2)).toEqual(sales);
    const every = (await pages({ sortDirection: SortDirection.ASC }, 100)).reverse();
    expect(every).toHaveLength(52);
    expect(await pages({}, 2)).toEqual(every);
    expect(await pages({}, 2)).toEqual(every);
    // Best level first, newest first within a level.
    expect(every.slice(30, 32)).toEqual(sales.slice(0, 2));
    expect(every.slice(0, 30)).toEqual([...every.slice(0, 30)].sort((a, b) => b - a));
  });

  it("serves a run of identical tickets newest first from the newest tickets' own rows, and agrees with the complete ranking", async () => {
    const open = (message: string, deptId = 1) =>
      h.client.createTicket(
        { requester: { email: "monitor@example.com", name: "Monitor" }, subject: "Alert", message, deptId },
        { headers: service },
      );
    // A run of identical alerts (one score), a few mentioning the word twice (a better score), then
    // tickets without it: the first page of size 5 reads 48 index rows, ends inside the run, and takes
    // its newest tickets from the newest tickets' own rows.
    for (let i = 0; i < 60; i++) await open("Disk space low on blorptank", i % 3 === 0 ? 2 : 1);
    for (let i = 0; i < 3; i++) await open("blorptank blorptank is full");
    const before = levelScanCounts();
    const pages = (request: SearchPagesRequest, pageSize: number) =>
      searchPages("blorptank", request, pageSize);
    const complete = (await pages({ sortDirection: SortDirection.ASC }, 100)).reverse();
    expect(complete).toHaveLength(63);
    expect(await pages({}, 5)).toEqual(complete);
    const sales = (
      await pages({ filter: { deptIds: [2] }, sortDirection: SortDirection.ASC }, 100)
    ).reverse();
    expect(sales).toHaveLength(20);
    expect(await pages({ filter: { deptIds: [2] } }, 5)).toEqual(sales);
    const after = levelScanCounts();
    expect(after.settled - before.settled).toBe(2);
    // Buried under 200 newer tickets the run is not among the newest: the read of the whole run answers.
    for (let i = 0; i < 200; i++) await open(`Unrelated note ${i}`);
    expect(await pages({}, 4)).toEqual(complete);
    expect(levelScanCounts().failed - after.failed).toBe(1);
  });
});
