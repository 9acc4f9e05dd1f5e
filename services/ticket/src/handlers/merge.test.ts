import { Code } from "@connectrpc/connect";
import { rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { TicketRelationKind } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { IngestOutcome } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertUser, type TicketHarness, ticketHarness } from "../testing/harness.ts";
import { mergeAsOsTicket } from "../testing/merge.ts";

let h: TicketHarness;
let admin: Headers;
let service: Headers;

beforeAll(async () => {
  h = await ticketHarness("merge");
  admin = await h.agent();
  service = await h.service();
});
afterAll(async () => {
  await h?.close();
});

interface Opened {
  readonly id: number;
  readonly number: string;
  readonly threadId: number;
  readonly userId: number;
}

let serial = 0;
async function open(subject: string, userId?: number): Promise<Opened> {
  serial += 1;
  const owner =
    userId ?? (await insertUser(h, { name: `Owner ${serial}`, email: `owner${serial}@example.com` }));
  const res = await h.client.createTicket(
    { requester: { userId: owner }, subject, message: `${subject} message`, deptId: 1 },
    { headers: service },
  );
  const t = res.ticket;
  if (!t) throw new Error("no ticket");
  return { id: t.id, number: t.number, threadId: t.threadId, userId: owner };
}

const get = async (id: number, headers = admin) =>
  (await h.client.getTicket({ lookup: { case: "ticketId", value: id } }, { headers })).ticket;

/** Every entry of a ticket's thread as ListThreadEntries pages it (page size 1 crosses every boundary). */
async function threadOf(ticketId: number, pageSize = 1): Promise<string[]> {
  const bodies: string[] = [];
  let pageToken = "";
  do {
    const res = await h.client.listThreadEntries({ ticketId, pageSize, pageToken }, { headers: admin });
    bodies.push(...res.entries.map((e) => e.body));
    pageToken = res.nextPageToken;
  } while (pageToken);
  return bodies;
}

/** The staff panel's posts on a ticket: reply, then a note. */
async function postOn(ticketId: number, what: string): Promise<void> {
  await h.client.postReply({ ticketId, body: `${what} reply`, notify: false }, { headers: admin });
}

const reply = (ticketId: number, body: string) =>
  h.client.postReply({ ticketId, body, notify: false }, { headers: admin });

describe("tickets osTicket merged", () => {
  it("show a parent's relation and children, and a child's parent (Ticket::getChildren, ticket_pid, flags)", async () => {
    const parent = await open("Leaking roof");
    const first = await open("Roof again");
    const second = await open("Water in the attic");
    await mergeAsOsTicket(h, parent.id, [first.id, second.id], "separate");

    const p = await get(parent.id);
    expect(p?.relation).toMatchObject({
      kind: TicketRelationKind.MERGED_SEPARATE,
      isParent: true,
    });
    expect(p?.relation?.parent).toBeUndefined();
    expect(p?.relation?.children.map((c) => [c.id, c.number, c.subject])).toEqual([
      [first.id, first.number, "Roof again"],
      [second.id, second.number, "Water in the attic"],
    ]);
    const c = await get(second.id);
    expect(c?.relation).toMatchObject({
      kind: TicketRelationKind.MERGED_SEPARATE,
      isParent: false,
      parent: { id: parent.id, number: parent.number, subject: "Leaking roof" },
      children: [],
    });
    // Ticket::getThread of a merged child: its child thread ('C'); it keeps only its events.
    expect(c?.threadId).toBe(second.threadId);
    expect(await threadOf(second.id)).toEqual([]);
    // Lists name the parent too (by id and number).
    const listed = await h.client.searchTickets({ query: second.number }, { headers: admin });
    expect(listed.tickets[0]?.relation?.parent).toMatchObject({ id: parent.id, number: parent.number });
    // End users see whose child a ticket is, never a parent's children.
    const asOwner = await get(parent.id, await h.endUser(parent.userId));
    expect(asOwner?.relation?.isParent).toBe(true);
    expect(asOwner?.relation?.children).toEqual([]);
  });

  it("list a separate-threads parent's own entries first, then each child's, the newest child thread first (ThreadEntry::sortEntries)", async () => {
    const parent = await open("Printer jam");
    const older = await open("Printer jam 2");
    const newer = await open("Printer jam 3");
    await postOn(older.id, "older");
    await postOn(parent.id, "parent");
    await postOn(newer.id, "newer");
    await mergeAsOsTicket(h, parent.id, [older.id, newer.id], "separate");
    await postOn(parent.id, "parent later");

    const own = ["Printer jam message", "parent reply", "parent later reply"];
    const expected = [...own, "Printer jam 3 message", "newer reply", "Printer jam 2 message", "older reply"];
    expect(await threadOf(parent.id)).toEqual(expected);
    expect(await threadOf(parent.id, 50)).toEqual(expected);

    // The same tickets combined: one thread in date order, however the ids run.
    await h.exec("UPDATE ost_ticket SET flags = (flags & ~3) | 1 WHERE ticket_id IN (?, ?, ?)", [
      parent.id,
      older.id,
      newer.id,
    ]);
    expect((await get(parent.id))?.relation?.kind).toBe(TicketRelationKind.MERGED_COMBINED);
    const combined = [
      "Printer jam message",
      "Printer jam 2 message",
      "Printer jam 3 message",
      "older reply",
      "parent reply",
      "newer reply",
      "parent later reply",
    ];
    expect(await threadOf(parent.id)).toEqual(combined);
    // An entry dated before others with a higher id (an edit keeps its original's date) takes its date's place.
    await h.exec(
      "UPDATE ost_thread_entry SET created = DATE_SUB((SELECT MIN(x.created) FROM (SELECT created FROM ost_thread_entry WHERE thread_id = ?) x), INTERVAL 1 SECOND) WHERE thread_id = ? AND body = 'parent later reply'",
      [parent.threadId, parent.threadId],
    );
    expect(await threadOf(parent.id)).toEqual(["parent later reply", ...combined.slice(0, -1)]);
  });

  it("leave merged children out of ListTickets (osTicket's queues) but not linked ones, and SearchTickets finds them", async () => {
    const parent = await open("Queue parent");
    const merged = await open("Queue merged child");
    const linkParent = await open("Queue link parent");
    const linked = await open("Queue linked child");
    await mergeAsOsTicket(h, parent.id, [merged.id], "combine");
    await mergeAsOsTicket(h, linkParent.id, [linked.id], "link");
    const ids = async (request: { includeMergedChildren?: boolean }, headers = admin) => {
      const out: number[] = [];
      let pageToken = "";
      do {
        const res = await h.client.listTickets({ pageSize: 200, pageToken, ...request }, { headers });
        out.push(...res.tickets.map((t) => t.id));
        pageToken = res.nextPageToken;
      } while (pageToken);
      return out;
    };
    const queue = await ids({});
    expect(queue).toEqual(expect.arrayContaining([parent.id, linkParent.id, linked.id]));
    expect(queue).not.toContain(merged.id);
    expect(await ids({}, service)).not.toContain(merged.id);
    expect(await ids({ includeMergedChildren: true })).toContain(merged.id);
    const total = await h.client.listTickets({ includeTotalSize: true }, { headers: admin });
    expect(Number(total.totalSize)).toBe(queue.length);
    // The client portal lists a user's merged child (and the parent, whose collaborator the merge made them).
    expect((await ids({}, await h.endUser(merged.userId))).sort()).toEqual([parent.id, merged.id].sort());
    const found = await h.client.searchTickets({ query: "merged" }, { headers: admin });
    expect(found.tickets.map((t) => t.id)).toContain(merged.id);
    expect((await get(linked.id))?.relation).toMatchObject({
      kind: TicketRelationKind.LINKED,
      parent: { id: linkParent.id },
    });
  });
});

describe("actions on merged tickets", () => {
  it("refuse a reply or a note on a merged child, naming the parent, and write nothing ($blockReply)", async () => {
    const parent = await open("Refuse parent");
    const child = await open("Refuse child");
    await mergeAsOsTicket(h, parent.id, [child.id], "combine");
    const before = await h.counts();
    for (const call of [
      () => reply(child.id, "Can I reply here?"),
      () => h.client.postNote({ ticketId: child.id, title: "Note", body: "Or a note?" }, { headers: admin }),
    ]) {
      const error = await rejectionOf(call());
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.rawMessage).toContain(`merged into ticket #${parent.number} (id ${parent.id})`);
      expect(error.findDetails(ValidationErrorsSchema)[0]?.violations[0]?.legacyKey).toBe("err");
    }
    expect(await h.counts()).toEqual(before);
    // The parent takes replies; a linked child too.
    await reply(parent.id, "Here instead");
    const linkParent = await open("Refuse link parent");
    const linked = await open("Refuse linked child");
    await mergeAsOsTicket(h, linkParent.id, [linked.id], "link");
    expect((await reply(linked.id, "Linked is fine")).entry?.threadId).toBe(linked.threadId);
  });

  it("post a message to a merged child on its parent, its author joining the parent's thread (Ticket::postMessage)", async () => {
    const parent = await open("Message parent");
    const child = await open("Message child");
    await mergeAsOsTicket(h, parent.id, [child.id], "separate");
    await h.exec("DELETE FROM ost_thread_collaborator WHERE thread_id = ?", [parent.threadId]);
    await h.exec("UPDATE ost_thread SET lastmessage = NULL WHERE id = ?", [parent.threadId]);
    const res = await h.client.postMessage(
      { ticketId: child.id, body: "Any news?" },
      { headers: await h.endUser(child.userId) },
    );
    expect(res.ticket?.id).toBe(parent.id);
    expect(res.entry?.threadId).toBe(parent.threadId);
    expect(res.entry?.userId).toBe(child.userId);
    const [entry] = await h.query("SELECT thread_id, user_id, flags FROM ost_thread_entry WHERE id = ?", [
      res.entry?.id,
    ]);
    // COLLABORATOR, and REPLY_USER for the recipients listed (the parent's owner).
    expect(entry).toEqual({ thread_id: parent.threadId, user_id: child.userId, flags: 0x220 });
    expect(
      await h.query("SELECT user_id FROM ost_thread_collaborator WHERE thread_id = ?", [parent.threadId]),
    ).toEqual([{ user_id: child.userId }]);
    const [thread] = await h.query("SELECT lastmessage IS NOT NULL AS touched FROM ost_thread WHERE id = ?", [
      parent.threadId,
    ]);
    expect(thread).toEqual({ touched: 1 });
    // Nothing lands on the child's thread; the parent shows the message.
    expect(await threadOf(child.id)).toEqual([]);
    expect((await threadOf(parent.id)).at(1)).toBe("Any news?");
    const events = await h.events();
    expect(events.at(-1)?.ticket?.ticketId).toBe(parent.id);
  });

  it("thread an e-mail reply found on a merged child's thread onto the parent, marked as the child's (Thread::postEmail, ThreadEntry::setExtra)", async () => {
    const parent = await open("Mail parent");
    const raw = (from: string, mid: string, extra: string[], body: string) =>
      Buffer.from(
        [
          `From: ${from}`,
          "To: Support <support@example.com>",
          "Subject: Re: Mail child",
          `Message-ID: ${mid}`,
          ...extra,
          "MIME-Version: 1.0",
          "Content-Type: text/plain; charset=utf-8",
          "",
          body,
          "",
        ].join("\r\n"),
      );
    const created = await h.client.ingestEmail(
      {
        rawMessage: raw("Cleo Child <cleo.child@example.com>", "<merge-child@example.com>", [], "First mail"),
      },
      { headers: service },
    );
    const childId = created.ticket?.id ?? 0;
    const childThreadId = created.ticket?.threadId ?? 0;
    // An agent edited the first message before the merge: the original, hidden, keeps its Message-ID and
    // stays on the child's thread (Thread::getEntries leaves hidden entries out of the move).
    await h.exec(
      "INSERT INTO ost_thread_entry (pid, thread_id, staff_id, user_id, type, flags, poster, editor, editor_type, source, title, body, format, ip_address, created, updated)" +
        " SELECT id, thread_id, staff_id, user_id, type, (flags & ~4) | 2, poster, 1, 'S', source, title, 'First mail, edited', format, ip_address, created, NOW()" +
        " FROM ost_thread_entry WHERE id = ?",
      [created.threadEntryId],
    );
    await h.exec("UPDATE ost_thread_entry SET flags = flags | 4 WHERE id = ?", [created.threadEntryId]);
    // Merged with a status that can reopen (Resolved), so osTicket still threads mail on the child.
    await mergeAsOsTicket(h, parent.id, [childId], "combine", 2);

    const reply = await h.client.ingestEmail(
      {
        rawMessage: raw(
          "Cleo Child <cleo.child@example.com>",
          "<merge-child-2@example.com>",
          ["In-Reply-To: <merge-child@example.com>"],
          "Any update?",
        ),
      },
      { headers: service },
    );
    expect(reply.outcome).toBe(IngestOutcome.THREADED_REPLY);
    expect(reply.ticket?.id).toBe(parent.id);
    const [entry] = await h.query(
      "SELECT e.thread_id, e.pid, (e.flags & 0x400) <> 0 AS child, m.data FROM ost_thread_entry e" +
        " LEFT JOIN ost_thread_entry_merge m ON m.thread_entry_id = e.id WHERE e.id = ?",
      [reply.threadEntryId],
    );
    expect(entry).toEqual({
      thread_id: parent.threadId,
      pid: created.threadEntryId,
      child: 1,
      data: JSON.stringify({ thread: childThreadId }),
    });
    expect((await threadOf(parent.id)).slice(-2)).toEqual(["First mail, edited", "Any update?"]);
    // The child stays as the merge left it.
    const [child] = await h.query("SELECT status_id FROM ost_ticket WHERE ticket_id = ?", [childId]);
    expect(child).toEqual({ status_id: 2 });
  });

  it("change a merged child's status, assignment and department on the child, events on its child thread", async () => {
    const parent = await open("Status parent");
    const child = await open("Status child");
    await mergeAsOsTicket(h, parent.id, [child.id], "combine");
    await h.client.changeStatus({ ticketId: child.id, statusId: 1 }, { headers: admin });
    await h.client.assignTicket(
      { ticketId: child.id, assignee: { case: "staffId", value: 1 } },
      { headers: admin },
    );
    await h.client.transferTicket({ ticketId: child.id, deptId: 2 }, { headers: admin });
    const [row] = await h.query("SELECT status_id, staff_id, dept_id FROM ost_ticket WHERE ticket_id = ?", [
      child.id,
    ]);
    expect(row).toEqual({ status_id: 1, staff_id: 1, dept_id: 2 });
    const events = await h.query(
      "SELECT e.name FROM ost_thread_event t JOIN ost_event e ON e.id = t.event_id WHERE t.thread_id = ? ORDER BY t.id",
      [child.threadId],
    );
    expect(events.map((e) => e.name)).toEqual([
      "created",
      "merged",
      "closed",
      "reopened",
      "assigned",
      "transferred",
    ]);
  });

  it("release a deleted parent's children and clear a parent's flags when its last child is deleted (Ticket::delete)", async () => {
    const parent = await open("Delete parent");
    const first = await open("Delete first");
    const second = await open("Delete second");
    await mergeAsOsTicket(h, parent.id, [first.id, second.id], "separate");
    const deleted = (await h.client.listStatuses({}, { headers: admin })).statuses.find(
      (s) => s.name === "Deleted",
    );
    await h.client.changeStatus({ ticketId: parent.id, statusId: deleted?.id ?? 0 }, { headers: admin });
    expect(
      await h.query(
        "SELECT t.ticket_id, t.ticket_pid, t.flags, th.object_type FROM ost_ticket t JOIN ost_thread th ON th.object_id = t.ticket_id WHERE t.ticket_id IN (?, ?) ORDER BY t.ticket_id",
        [first.id, second.id],
      ),
    ).toEqual([
      { ticket_id: first.id, ticket_pid: null, flags: 0, object_type: "T" },
      { ticket_id: second.id, ticket_pid: null, flags: 0, object_type: "T" },
    ]);
    expect((await get(first.id))?.relation).toBeUndefined();
    expect(await reply(first.id, "A ticket of its own again")).toBeTruthy();

    const linkParent = await open("Delete link parent");
    const linked = await open("Delete linked child");
    await mergeAsOsTicket(h, linkParent.id, [linked.id], "link");
    await h.client.changeStatus({ ticketId: linked.id, statusId: deleted?.id ?? 0 }, { headers: admin });
    const [p] = await h.query("SELECT flags FROM ost_ticket WHERE ticket_id = ?", [linkParent.id]);
    expect(p).toEqual({ flags: 0 });
    // A child's thread outlives it, as osTicket deletes only threads that are no child's.
    const [thread] = await h.query("SELECT COUNT(*) AS n FROM ost_thread_entry WHERE thread_id = ?", [
      linked.threadId,
    ]);
    expect(thread).toEqual({ n: 1 });
  });
});
