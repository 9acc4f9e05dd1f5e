/**
 * Every ost_thread_event row an RPC writes is named by the outbox events of the same change
 * (Event.thread_event_id for the row the event was written with, related_thread_event_ids for the others),
 * so the notification service's change capture tells them from osTicket's own rows exactly, without a time
 * window.
 */
import type { Event } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertUser, type TicketHarness, ticketHarness } from "../testing/harness.ts";

let h: TicketHarness;
let ownerId: number;

beforeAll(async () => {
  h = await ticketHarness("threadevents");
  ownerId = await insertUser(h, { name: "Tess Thread", email: "tess@example.com" });
  // A second open status: open -> open is an `edited` event that names the status.
  await h.exec(
    "INSERT INTO ost_ticket_status SET name = 'Waiting', state = 'open', mode = 3, flags = 0, sort = 9," +
      " properties = '{}', created = NOW(), updated = NOW()",
  );
});
afterAll(async () => {
  await h?.close();
});

async function lastThreadEventId(): Promise<number> {
  const [row] = await h.query("SELECT COALESCE(MAX(id), 0) AS id FROM ost_thread_event");
  return Number(row?.id ?? 0);
}

/** Thread events written after `since`: id -> ost_event name. */
async function threadEventsSince(since: number): Promise<Map<number, string>> {
  const rows = await h.query(
    "SELECT te.id, ev.name FROM ost_thread_event te JOIN ost_event ev ON ev.id = te.event_id WHERE te.id > ? ORDER BY te.id",
    [since],
  );
  return new Map(rows.map((r) => [Number(r.id), String(r.name)]));
}

/**
 * Runs `action` and returns its outbox events with the ost_event name of each one's thread_event_id,
 * after checking that together they name exactly the thread events the action wrote.
 */
async function named(action: () => Promise<unknown>): Promise<{ event: Event; state: string }[]> {
  const since = await lastThreadEventId();
  const before = (await h.events()).length;
  await action();
  const written = await threadEventsSince(since);
  const events = (await h.events()).slice(before);
  const claimed = new Set<number>();
  for (const e of events) {
    if (e.threadEventId) claimed.add(e.threadEventId);
    for (const id of e.relatedThreadEventIds) claimed.add(id);
  }
  expect([...claimed].sort((a, b) => a - b)).toEqual([...written.keys()]);
  return events.map((event) => ({ event, state: written.get(event.threadEventId) ?? "" }));
}

const summary = (list: { event: Event; state: string }[]) => list.map((x) => `${x.event.type}:${x.state}`);

describe("outbox events name the thread events of their change", () => {
  it("create, reply with a status, reopening message, assignment, transfer, release, status, overdue, delete", async () => {
    let ticketId = 0;
    const created = await named(async () => {
      const res = await h.client.createTicket(
        { requester: { userId: ownerId }, subject: "Named rows", message: "Printer jams" },
        { headers: await h.service() },
      );
      ticketId = res.ticket?.id ?? 0;
    });
    expect(summary(created)).toEqual(["ticket.created:created"]);
    const agent = await h.agent();

    const reply = await named(() =>
      h.client.postReply({ ticketId, body: "Fixed", replyStatusId: 3 }, { headers: agent }),
    );
    expect(summary(reply)).toEqual(["ticket.entry_added:", "ticket.status_changed:closed"]);

    // The owner writes again: the message reopens the ticket.
    const owner = await h.endUser(ownerId);
    const message = await named(() =>
      h.client.postMessage({ ticketId, body: "Still jams" }, { headers: owner }),
    );
    expect(summary(message)).toEqual(["ticket.entry_added:", "ticket.status_changed:reopened"]);

    await h.client.changeStatus({ ticketId, statusId: 3 }, { headers: agent });
    // Assigning a closed ticket reopens it: two thread events, two outbox events, each naming its own.
    const assigned = await named(() =>
      h.client.assignTicket({ ticketId, assignee: { case: "teamId", value: 1 } }, { headers: agent }),
    );
    expect(summary(assigned)).toEqual(["ticket.assigned:assigned", "ticket.status_changed:reopened"]);

    const transferred = await named(() =>
      h.client.transferTicket({ ticketId, deptId: 2, comment: "sales owns printers" }, { headers: agent }),
    );
    expect(summary(transferred)).toEqual(["ticket.transferred:transferred"]);

    const released = await named(() =>
      h.client.assignTicket({ ticketId, assignee: { case: "release", value: true } }, { headers: agent }),
    );
    expect(summary(released)).toEqual(["ticket.assigned:released"]);

    await h.client.changeStatus({ ticketId, statusId: 1 }, { headers: agent });
    const [waiting] = await h.query("SELECT id FROM ost_ticket_status WHERE name = 'Waiting'");
    const openToOpen = await named(() =>
      h.client.changeStatus({ ticketId, statusId: Number(waiting?.id) }, { headers: agent }),
    );
    expect(summary(openToOpen)).toEqual(["ticket.status_changed:edited"]);

    await h.exec("UPDATE ost_ticket SET duedate = NOW() - INTERVAL 1 DAY WHERE ticket_id = ?", [ticketId]);
    const service = await h.service();
    const overdue = await named(() =>
      h.client.runScheduledTasks({ idempotencyKey: "cron-named" }, { headers: service }),
    );
    expect(summary(overdue)).toEqual(["ticket.overdue:overdue"]);

    const deleted = await named(() => h.client.changeStatus({ ticketId, statusId: 5 }, { headers: agent }));
    expect(summary(deleted)).toEqual(["ticket.deleted:deleted"]);
  });

  it("UpdateTicket names its one `edited` event (columns and answers together) in its one ticket.updated", async () => {
    const res = await h.client.createTicket(
      { requester: { userId: ownerId }, subject: "Edit me", message: "edit" },
      { headers: await h.service() },
    );
    const ticketId = res.ticket?.id ?? 0;
    const agent = await h.agent();
    const updated = await named(() =>
      h.client.updateTicket(
        {
          ticketId,
          patch: { subject: "Edited", slaId: 0 },
          updateMask: { paths: ["subject", "sla_id"] },
        },
        { headers: agent },
      ),
    );
    expect(summary(updated)).toEqual(["ticket.updated:edited"]);
    expect(updated[0]?.event.relatedThreadEventIds).toEqual([]);
  });
});
