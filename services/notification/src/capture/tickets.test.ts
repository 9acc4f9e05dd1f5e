import { create } from "@bufbuild/protobuf";
import { writeOutbox } from "@ostmesh/bus";
import { execute, query } from "@ostmesh/db";
import { EventTypes } from "@ostmesh/proto";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, streamEvents, type TestEnv, waitFor } from "../testing/env.ts";
import { replay, replayApiCreateTicket, type TraceAction, ticketActions } from "../testing/osticket-php.ts";
import { ChangeCapture, outboxEventOf } from "./capture.ts";

/** Events published for ost_ticket changes without a thread event. */
async function ticketChangeEvents(env: TestEnv): Promise<Event[]> {
  return (await streamEvents(env))
    .map((m) => m.event)
    .filter((e) => e.origin === EventOrigin.OSTICKET && e.id.startsWith("osticket-ticket-"));
}

function newCapture(env: TestEnv) {
  return new ChangeCapture({
    orm: env.orm,
    stream: env.stream,
    logger: env.logger,
    startFrom: "beginning",
    onPublished: () => env.relay.notify(),
    ticketPollMs: 0,
    ticketSettleMs: 0,
    ticketOverlapMs: 5_000,
  });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe("ost_ticket changes osTicket makes without a thread event", () => {
  let env: TestEnv;
  let actions: TraceAction[];
  const em = () => env.orm.em.fork();

  beforeAll(async () => {
    env = await createTestEnv("capturetickets");
    await replayApiCreateTicket(em());
    actions = await ticketActions();
  });
  afterAll(async () => {
    await env?.close();
  });

  it("publishes each once, origin OSTICKET, across restarts and with two replicas", async () => {
    const first = newCapture(env);
    // The first cycle takes the baseline of every ticket and publishes the API-created ticket's rows.
    expect((await first.runCycle()).tickets.published).toBe(0);

    // The staff panel's reply auto-claims the ticket: an UPDATE of ost_ticket.staff_id, no thread event.
    const reply = actions.find((a) => a.name === "reply");
    if (!reply) throw new Error("no reply in the trace");
    await replay(em(), reply);
    expect((await first.runCycle()).tickets.published).toBe(1);
    const [claim] = await waitFor(async () => {
      const list = await ticketChangeEvents(env);
      return list.length >= 1 ? list : undefined;
    }, "the auto-claim");
    expect(claim?.type).toBe(EventTypes.TICKET_ASSIGNED);
    expect(claim?.ticket).toMatchObject({ ticketId: 25, staffId: 1 });
    if (claim?.payload.case !== "ticketAssigned") throw new Error("not a ticket.assigned payload");
    expect(claim.payload.value).toMatchObject({ staff: { id: 1, name: "Admin User" }, released: false });
    expect(claim.payload.value.previousStaff).toBeUndefined();
    // Nothing more on the next cycles.
    expect((await first.runCycle()).tickets.published).toBe(0);

    // A due date and the SLA set in the staff panel, read by two replicas at once: one ticket.updated.
    await execute(
      em(),
      "UPDATE ost_ticket SET duedate = NOW() + INTERVAL 3 DAY, sla_id = 0, updated = NOW() WHERE ticket_id = 25",
    );
    const second = newCapture(env);
    const [a, b] = await Promise.all([first.runCycle(), second.runCycle()]);
    expect(a.tickets.published + b.tickets.published).toBe(1);
    const updated = await waitFor(async () => {
      const list = await ticketChangeEvents(env);
      return list.length >= 2 ? list[1] : undefined;
    }, "the due date");
    expect(updated?.type).toBe(EventTypes.TICKET_UPDATED);
    if (updated?.payload.case !== "ticketUpdated") throw new Error("not a ticket.updated payload");
    expect(updated.payload.value.changed?.paths).toEqual(["sla_id", "due_date"]);
    expect(updated.payload.value.ticket?.dueDate).toBeDefined();

    // Status and department changed together (no events): a status change and a transfer.
    await execute(
      em(),
      "UPDATE ost_ticket SET status_id = 3, dept_id = 2, updated = NOW() WHERE ticket_id = 25",
    );
    expect((await second.runCycle()).tickets.published).toBe(2);
    const [status, transfer] = await waitFor(async () => {
      const list = await ticketChangeEvents(env);
      return list.length >= 4 ? list.slice(2) : undefined;
    }, "status and transfer");
    if (status?.payload.case !== "ticketStatusChanged")
      throw new Error("not a ticket.status_changed payload");
    expect(status.payload.value).toMatchObject({
      previous: { id: 1, name: "Open" },
      current: { id: 3, name: "Closed" },
      closed: true,
      reopened: false,
    });
    if (transfer?.payload.case !== "ticketTransferred") throw new Error("not a ticket.transferred payload");
    expect(transfer.payload.value).toMatchObject({
      previous: { id: 1, name: "Support" },
      current: { id: 2, name: "Sales" },
    });

    // A restart that lost the ticket cursor re-reads and publishes nothing again.
    await first.stop();
    await second.stop();
    await execute(em(), "UPDATE ostmesh_capture_cursor SET position = 0 WHERE source LIKE 'ost_ticket.%'");
    const third = newCapture(env);
    const again = await third.runCycle();
    expect(again.tickets.read).toBeGreaterThan(0);
    expect(again.tickets.published).toBe(0);
    await settle();
    expect(await ticketChangeEvents(env)).toHaveLength(4);
    const decisions = await query(
      em(),
      "SELECT COUNT(*) AS n FROM ostmesh_capture_published WHERE source = 'ticket' AND outcome = 'published'",
    );
    expect(Number(decisions[0]?.n)).toBe(3);
    await third.stop();
  });

  it("leaves changes that log a thread event to the thread tail, and ostmesh's own writes alone", async () => {
    const capture = newCapture(env);
    await capture.runCycle();
    const before = (await ticketChangeEvents(env)).length;
    const all = (await streamEvents(env)).length;

    // osTicket assigns team 1 the way assignToTeam does: the UPDATE and an `assigned` thread event.
    await execute(em(), "UPDATE ost_ticket SET team_id = 1, updated = NOW() WHERE ticket_id = 25");
    const assigned = await execute(
      em(),
      "INSERT INTO ost_thread_event SET thread_type = 'T', staff_id = 1, team_id = 1, dept_id = 2, timestamp = NOW()," +
        " uid_type = 'S', uid = 1, username = 'ostadmin', event_id = 4, data = '{\"team\":1}', thread_id = 25",
    );
    const cycle = await capture.runCycle();
    expect(cycle).toMatchObject({ published: 1, tickets: { published: 0 } });
    await waitFor(
      async () => (await streamEvents(env)).some((m) => m.event.id === `osticket-${assigned.insertId}`),
      "the assigned event",
    );

    // ostmesh replies and auto-claims for agent 2 (no thread event; its outbox event says staff 2).
    await em().transactional(async (tx) => {
      const entry = await execute(
        tx,
        "INSERT INTO ost_thread_entry SET created = NOW(), type = 'R', thread_id = 25, format = 'html', staff_id = 2," +
          " poster = 'Jane Agent', flags = 64, pid = 31, body = '<p>ostmesh reply</p>'",
      );
      await execute(tx, "UPDATE ost_ticket SET staff_id = 2, updated = NOW() WHERE ticket_id = 25");
      const event = create(EventSchema, {
        type: EventTypes.TICKET_ENTRY_ADDED,
        origin: EventOrigin.OSTMESH,
        aggregate: { type: AggregateType.TICKET, id: 25 },
        ticket: { ticketId: 25, number: "771291", deptId: 2, staffId: 2, teamId: 1, statusId: 3, userId: 28 },
        payload: { case: "threadEntryAdded", value: { entry: { id: entry.insertId, threadId: 25 } } },
      });
      await writeOutbox(tx, outboxEventOf(event, env.stream));
    });
    expect(await capture.runCycle()).toMatchObject({ ostmesh: 1, published: 0, tickets: { published: 0 } });

    // Right after, the staff panel unassigns the agent (no event): published, not taken for ostmesh's.
    await execute(em(), "UPDATE ost_ticket SET staff_id = 0, updated = NOW() WHERE ticket_id = 25");
    expect((await capture.runCycle()).tickets.published).toBe(1);
    const released = await waitFor(async () => {
      const list = await ticketChangeEvents(env);
      return list.length > before ? list.at(-1) : undefined;
    }, "the unassignment");
    if (released?.payload.case !== "ticketAssigned") throw new Error("not a ticket.assigned payload");
    expect(released.payload.value).toMatchObject({
      previousStaff: { id: 2 },
      team: { id: 1 },
      released: false,
    });
    expect(released.payload.value.staff).toBeUndefined();

    await settle();
    // The thread event, the unassignment; the ostmesh rows published nothing.
    expect((await streamEvents(env)).length - all).toBe(3);
    await capture.stop();
  });
});
