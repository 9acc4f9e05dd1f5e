import { create, toBinary } from "@bufbuild/protobuf";
import type { Logger as OrmLogger } from "@mikro-orm/core";
import { writeOutbox } from "@ostmesh/bus";
import { createOrm, execute, query } from "@ostmesh/db";
import { EventTypes } from "@ostmesh/proto";
import { EventOrigin, TicketState } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, streamEvents, type TestEnv, waitFor } from "../testing/env.ts";
import { replay, replayApiCreateTicket, type TraceAction, ticketActions } from "../testing/osticket-php.ts";
import { ChangeCapture, outboxEventOf } from "./capture.ts";

/** Events of origin OSTICKET in the stream, by id. */
async function osticketEvents(env: TestEnv): Promise<Event[]> {
  return (await streamEvents(env)).map((m) => m.event).filter((e) => e.origin === EventOrigin.OSTICKET);
}

function newCapture(env: TestEnv, overrides: Partial<ConstructorParameters<typeof ChangeCapture>[0]> = {}) {
  return new ChangeCapture({
    orm: env.orm,
    stream: env.stream,
    logger: env.logger,
    startFrom: "beginning",
    onPublished: () => env.relay.notify(),
    ...overrides,
  });
}

/** Runs cycles until nothing is left to read or deferred. */
async function drain(capture: ChangeCapture): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const r = await capture.runCycle();
    if (r.read === 0 || (r.published === 0 && r.ostmesh === 0 && r.ignored === 0 && r.deferred === 0)) return;
  }
}

describe("change capture of osTicket's PHP side", () => {
  let env: TestEnv;
  let actions: TraceAction[];
  const action = (name: string): TraceAction => {
    const found = actions.find((a) => a.name === name);
    if (!found) throw new Error(`no action ${name} in the trace`);
    return found;
  };

  beforeAll(async () => {
    env = await createTestEnv("capture");
    actions = await ticketActions();
  });
  afterAll(async () => {
    await env?.close();
  });

  it("publishes the API-created ticket and every staff/portal action once, origin OSTICKET, across restarts", async () => {
    const em = env.orm.em.fork();
    await replayApiCreateTicket(em);

    const first = newCapture(env);
    await drain(first);
    let events = await waitFor(async () => {
      const list = await osticketEvents(env);
      return list.length >= 1 ? list : undefined;
    }, "ticket.created");
    const created = events[0];
    expect(created?.type).toBe(EventTypes.TICKET_CREATED);
    expect(created?.id).toBe("osticket-32");
    expect(created?.threadEventId).toBe(32);
    expect(created?.aggregate).toMatchObject({ type: AggregateType.TICKET, id: 25 });
    expect(created?.ticket).toMatchObject({
      ticketId: 25,
      number: "771291",
      deptId: 1,
      userId: 28,
      statusId: 1,
    });
    expect(created?.actor).toMatchObject({ id: 28, displayName: "SYSTEM" });
    expect(created?.occurredAt?.seconds).toBeGreaterThan(0n);
    if (created?.payload.case !== "ticketCreated") throw new Error("not a ticket.created payload");
    expect(created.payload.value.ticket).toMatchObject({
      id: 25,
      number: "771291",
      subject: "Trace ticket",
      requester: { id: 28, name: "Trace User", email: "trace.user@example.net" },
      department: { id: 1, name: "Support" },
      status: { id: 1, name: "Open", state: TicketState.OPEN },
      priority: { id: 2, name: "Normal" },
    });
    expect(created.payload.value.message).toMatchObject({
      id: 31,
      type: ThreadEntryType.MESSAGE,
      body: "<p>Hello <b>trace</b></p>",
      poster: "Trace User",
    });
    // osTicket's PHP side already sent its own alert and auto-response.
    expect(created.payload.value.alert).toBe(false);
    expect(created.payload.value.autorespond).toBe(false);

    // First half of the staff actions, then a restart (a new capture instance on the same tables).
    for (const name of ["reply", "note", "close", "reopen", "assign"]) await replay(em, action(name));
    await drain(first);
    await first.stop();
    const second = newCapture(env);
    await drain(second); // nothing new: must publish nothing twice
    for (const name of ["assignteam", "transfer", "usermsg", "resolve", "lock"])
      await replay(em, action(name));
    await drain(second);

    events = await waitFor(async () => {
      const list = await osticketEvents(env);
      return list.length >= 12 ? list : undefined;
    }, "12 events");
    await new Promise((resolve) => setTimeout(resolve, 300));
    events = await osticketEvents(env);
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(events).toHaveLength(12);

    const summary = events.map((e) => {
      const p = e.payload;
      switch (p.case) {
        case "threadEntryAdded":
          return `entry ${ThreadEntryType[p.value.entry?.type ?? 0]} ${p.value.entry?.title || p.value.entry?.body}`;
        case "ticketStatusChanged":
          return `status ${p.value.current?.name}${p.value.closed ? " closed" : ""}${p.value.reopened ? " reopened" : ""}`;
        case "ticketAssigned":
          return `assigned${p.value.claim ? " claim" : ""} staff=${p.value.staff?.id ?? 0} team=${p.value.team?.id ?? 0}`;
        case "ticketTransferred":
          return `transferred ${p.value.current?.id} ${p.value.current?.name}`;
        default:
          return e.type;
      }
    });
    expect(summary.sort()).toEqual(
      [
        "ticket.created",
        "entry RESPONSE <p>Agent reply</p>",
        "entry NOTE My note title",
        "status Closed closed",
        "status Open reopened",
        "assigned claim staff=1 team=0",
        "assigned staff=0 team=1",
        "transferred 2 Sales",
        "entry NOTE Ticket transferred from Support to Sales",
        "entry MESSAGE user follow-up",
        "entry NOTE Status Changed",
        "status Resolved closed",
      ].sort(),
    );
    const reply = events.find((e) => e.payload.case === "threadEntryAdded");
    expect(reply?.actor).toMatchObject({ id: 1, displayName: "Admin User" });
    expect(reply?.id).toMatch(/^osticket-entry-\d+$/);
    const transfer = events.find((e) => e.type === EventTypes.TICKET_TRANSFERRED);
    expect(transfer?.ticket).toMatchObject({ ticketId: 25, deptId: 2, teamId: 1, staffId: 1 });
    expect(transfer?.actor).toMatchObject({ id: 1, username: "ostadmin" });
    const subjects = (await streamEvents(env)).map((m) => m.subject);
    expect(subjects).toContain(`${env.stream.subjectPrefix}.ticket.entry_added`);
    expect(subjects).toContain(`${env.stream.subjectPrefix}.ticket.status_changed`);

    // A restart that lost its cursor (rewound to 0) re-reads everything and publishes nothing again.
    await second.stop();
    await execute(env.orm.em.fork(), "UPDATE ostmesh_capture_cursor SET position = 0");
    const third = newCapture(env);
    await drain(third);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await osticketEvents(env)).toHaveLength(12);
    await third.stop();
  });

  it("publishes osTicket's changes of a merged child, whose thread osTicket's merge made a child thread ('C')", async () => {
    const em = env.orm.em.fork();
    const before = (await osticketEvents(env)).length;
    const [thread] = await query(em, "SELECT id FROM ost_thread WHERE object_type = 'T' AND object_id = 25");
    const threadId = Number(thread?.id);
    // Ticket::merge: the child's thread becomes a child thread naming the parent; its events keep thread_type T.
    await execute(em, "UPDATE ost_thread SET object_type = 'C', extra = ? WHERE id = ?", [
      JSON.stringify({ ticket_id: 1, number: "771291" }),
      threadId,
    ]);
    // The panel reopens the child: its status, and a 'reopened' event on its (child) thread.
    await execute(
      em,
      "UPDATE ost_ticket SET status_id = 1, reopened = NOW(), closed = NULL WHERE ticket_id = 25",
    );
    await execute(
      em,
      "INSERT INTO ost_thread_event (thread_id, thread_type, event_id, staff_id, team_id, dept_id, topic_id, data," +
        " username, uid, uid_type, annulled, timestamp)" +
        " SELECT ?, 'T', id, 1, 0, 2, 0, NULL, 'ostadmin', 1, 'S', 0, NOW() FROM ost_event WHERE name = 'reopened'",
      [threadId],
    );
    const capture = newCapture(env);
    await drain(capture);
    const events = await waitFor(async () => {
      const list = await osticketEvents(env);
      return list.length > before ? list : undefined;
    }, "the child's reopening");
    const reopened = events.slice(before);
    expect(reopened.map((e) => e.type)).toEqual([EventTypes.TICKET_STATUS_CHANGED]);
    expect(reopened[0]?.ticket).toMatchObject({ ticketId: 25, statusId: 1 });
    const payload = reopened[0]?.payload;
    if (payload?.case !== "ticketStatusChanged") throw new Error("not a status change");
    expect(payload.value).toMatchObject({ reopened: true, current: { id: 1, name: "Open" } });
    await capture.stop();
  });
});

describe("telling ostmesh's own writes apart", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv("captureown");
    await replayApiCreateTicket(env.orm.em.fork());
    const capture = newCapture(env);
    await drain(capture);
    await capture.stop();
    // The tests count the stream's events before and after: the ticket's creation must be in it already.
    await waitFor(async () => {
      const [row] = await query(
        env.orm.em.fork(),
        "SELECT COUNT(*) AS n FROM ostmesh_outbox WHERE published_at IS NULL",
      );
      return Number(row?.n) === 0;
    }, "the relay to publish the ticket's creation");
  });
  afterAll(async () => {
    await env?.close();
  });

  /** Inserts a response into ticket 25's thread the way a writer would (raw, with osTicket's columns). */
  async function insertEntry(em: ReturnType<TestEnv["orm"]["em"]["fork"]>, body: string): Promise<number> {
    const r = await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), type = 'R', thread_id = 25, format = 'html', staff_id = 1," +
        " poster = 'Admin User', flags = 64, pid = 31, body = ?",
      [body],
    );
    return r.insertId;
  }

  function ostmeshEntryEvent(entryId: number): Event {
    return create(EventSchema, {
      type: EventTypes.TICKET_ENTRY_ADDED,
      origin: EventOrigin.OSTMESH,
      aggregate: { type: AggregateType.TICKET, id: 25 },
      ticket: { ticketId: 25, number: "771291", deptId: 1 },
      payload: { case: "threadEntryAdded", value: { entry: { id: entryId, threadId: 25 }, notify: true } },
    });
  }

  it("skips rows committed with an outbox event that names them, even when they commit after a later PHP row", async () => {
    const capture = newCapture(env, { gapTimeoutMs: 60_000 });
    const before = (await osticketEvents(env)).length;
    // An ostmesh transaction takes a lower id and stays open while PHP writes and commits a higher one.
    const ostmeshTx = env.orm.em.fork();
    await ostmeshTx.begin();
    const ostmeshEntry = await insertEntry(ostmeshTx, "<p>written by ostmesh</p>");
    await writeOutbox(ostmeshTx, outboxEventOf(ostmeshEntryEvent(ostmeshEntry), env.stream));
    const phpEntry = await insertEntry(env.orm.em.fork(), "<p>written by the staff panel</p>");
    expect(phpEntry).toBeGreaterThan(ostmeshEntry);

    await capture.runCycle();
    await ostmeshTx.commit();
    await capture.runCycle();
    await capture.runCycle();

    await waitFor(async () => (await osticketEvents(env)).length > before, "the PHP entry");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const added = (await osticketEvents(env)).slice(before);
    expect(added.map((e) => e.id)).toEqual([`osticket-entry-${phpEntry}`]);
    const decisions = await query(
      env.orm.em.fork(),
      "SELECT row_id, outcome FROM ostmesh_capture_published WHERE source = 'entry' AND row_id IN (?, ?) ORDER BY row_id",
      [ostmeshEntry, phpEntry],
    );
    expect(decisions.map((d) => `${d.row_id}:${d.outcome}`)).toEqual([
      `${ostmeshEntry}:ostmesh`,
      `${phpEntry}:published`,
    ]);
    await capture.stop();
  });

  it("skips a thread event of a ticket change whose ostmesh event names no thread row (same ticket, same moment)", async () => {
    const capture = newCapture(env);
    await capture.runCycle();
    const before = (await osticketEvents(env)).length;
    const em = env.orm.em.fork();
    await em.transactional(async (tx) => {
      await execute(
        tx,
        "INSERT INTO ost_thread_event SET thread_type = 'T', staff_id = 1, dept_id = 1, timestamp = NOW(), uid_type = 'S'," +
          " uid = 1, username = 'ostadmin', event_id = 4, data = '{\"team\":1}', thread_id = 25",
      );
      const event = create(EventSchema, {
        type: EventTypes.TICKET_ASSIGNED,
        origin: EventOrigin.OSTMESH,
        aggregate: { type: AggregateType.TICKET, id: 25 },
        ticket: { ticketId: 25, number: "771291", deptId: 1, teamId: 1 },
        payload: { case: "ticketAssigned", value: { team: { id: 1 } } },
      });
      await writeOutbox(tx, outboxEventOf(event, env.stream));
    });
    const result = await capture.runCycle();
    expect(result.ostmesh).toBe(1);
    expect(result.published).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await osticketEvents(env)).length).toBe(before);
    await capture.stop();
  });

  it("publishes an osTicket change made right after an ostmesh change of the same ticket (exact claims, no window)", async () => {
    const capture = newCapture(env);
    await capture.runCycle();
    const before = (await osticketEvents(env)).length;
    // A ticket of its own, so that no earlier test's ostmesh event touches it.
    const em = env.orm.em.fork();
    const ticket = await execute(
      em,
      "INSERT INTO ost_ticket SET created = NOW(), lastupdate = NOW(), number = '500600', user_id = 28, dept_id = 1," +
        " status_id = 1, team_id = 1, ip_address = '', source = 'Web', updated = NOW()",
    );
    const thread = await execute(
      em,
      "INSERT INTO ost_thread SET object_id = ?, object_type = 'T', created = NOW()",
      [ticket.insertId],
    );
    // ostmesh's UpdateTicket changes a column and an answer of the ticket: two `edited` thread events, one
    // ticket.updated naming the first (thread_event_id) and the second (related_thread_event_ids).
    const ostmeshRows: number[] = [];
    await env.orm.em.fork().transactional(async (tx) => {
      for (const data of ['{"sla_id":[1,0]}', '{"fields":{"20":["a","b"]}}']) {
        const r = await execute(
          tx,
          "INSERT INTO ost_thread_event SET thread_type = 'T', staff_id = 1, dept_id = 1, timestamp = NOW(), uid_type = 'S'," +
            " uid = 1, username = 'ostadmin', event_id = 9, data = ?, thread_id = ?",
          [data, thread.insertId],
        );
        ostmeshRows.push(r.insertId);
      }
      const [first = 0, second = 0] = ostmeshRows;
      const event = create(EventSchema, {
        type: EventTypes.TICKET_UPDATED,
        origin: EventOrigin.OSTMESH,
        aggregate: { type: AggregateType.TICKET, id: ticket.insertId },
        ticket: { ticketId: ticket.insertId, number: "500600", deptId: 1, teamId: 1 },
        threadEventId: first,
        relatedThreadEventIds: [second],
        payload: { case: "ticketUpdated", value: { changed: { paths: ["sla_id", "answers"] } } },
      });
      await writeOutbox(tx, outboxEventOf(event, env.stream));
    });
    // The same second, an agent releases the ticket in the staff panel.
    const released = await execute(
      em,
      "INSERT INTO ost_thread_event SET thread_type = 'T', staff_id = 0, dept_id = 1, timestamp = NOW(), uid_type = 'S'," +
        " uid = 1, username = 'ostadmin', event_id = 5, data = '{\"team\":1}', thread_id = ?",
      [thread.insertId],
    );
    expect(await capture.runCycle()).toMatchObject({ ostmesh: 2, published: 1 });
    const event = await waitFor(
      async () => (await osticketEvents(env)).find((e) => e.id === `osticket-${released.insertId}`),
      "the staff panel's release",
    );
    expect(event.type).toBe(EventTypes.TICKET_ASSIGNED);
    if (event.payload.case !== "ticketAssigned") throw new Error("not a ticket.assigned payload");
    expect(event.payload.value.released).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await osticketEvents(env)).length).toBe(before + 1);
    const decisions = await query(
      env.orm.em.fork(),
      "SELECT row_id, outcome FROM ostmesh_capture_published WHERE source = 'event' AND row_id IN (?, ?, ?) ORDER BY row_id",
      [...ostmeshRows, released.insertId],
    );
    expect(decisions.map((d) => `${d.row_id}:${d.outcome}`)).toEqual([
      `${ostmeshRows[0]}:ostmesh`,
      `${ostmeshRows[1]}:ostmesh`,
      `${released.insertId}:published`,
    ]);
    await capture.stop();
  });

  it("skips the rows of a ticket ostmesh created, and ignores task threads", async () => {
    const capture = newCapture(env);
    await capture.runCycle();
    const before = (await osticketEvents(env)).length;
    await env.orm.em.fork().transactional(async (tx) => {
      const ticket = await execute(
        tx,
        "INSERT INTO ost_ticket SET created = NOW(), lastupdate = NOW(), number = '100200', user_id = 28, dept_id = 1," +
          " status_id = 1, ip_address = '', source = 'API', updated = NOW()",
      );
      const thread = await execute(
        tx,
        "INSERT INTO ost_thread SET object_id = ?, object_type = 'T', created = NOW()",
        [ticket.insertId],
      );
      await execute(
        tx,
        "INSERT INTO ost_thread_event SET thread_type = 'T', dept_id = 1, timestamp = NOW(), uid_type = 'U', uid = 28," +
          " username = 'SYSTEM', event_id = 1, thread_id = ?",
        [thread.insertId],
      );
      const entry = await execute(
        tx,
        "INSERT INTO ost_thread_entry SET created = NOW(), type = 'M', thread_id = ?, title = 'x', format = 'text'," +
          " user_id = 28, poster = 'Trace User', source = 'API', flags = 1, body = 'hello'",
        [thread.insertId],
      );
      const event = create(EventSchema, {
        type: EventTypes.TICKET_CREATED,
        origin: EventOrigin.OSTMESH,
        aggregate: { type: AggregateType.TICKET, id: ticket.insertId },
        ticket: { ticketId: ticket.insertId, number: "100200", deptId: 1 },
        payload: {
          case: "ticketCreated",
          value: {
            ticket: { id: ticket.insertId, number: "100200" },
            message: { id: entry.insertId },
            alert: true,
          },
        },
      });
      await writeOutbox(tx, outboxEventOf(event, env.stream));
      // A task thread (osTicket's tasks) is not a ticket: ignored.
      const task = await execute(
        tx,
        "INSERT INTO ost_thread SET object_id = 1, object_type = 'A', created = NOW()",
      );
      await execute(
        tx,
        "INSERT INTO ost_thread_event SET thread_type = 'A', dept_id = 1, timestamp = NOW(), uid_type = 'S', uid = 1," +
          " username = 'ostadmin', event_id = 1, thread_id = ?",
        [task.insertId],
      );
    });
    const result = await capture.runCycle();
    expect(result).toMatchObject({ published: 0, ostmesh: 2, ignored: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await osticketEvents(env)).length).toBe(before);
    // The staff panel closes that ticket at once: osTicket's change, published although the ticket is new.
    const [ticket] = await query(
      env.orm.em.fork(),
      "SELECT ticket_id FROM ost_ticket WHERE number = '100200'",
    );
    const [thread] = await query(
      env.orm.em.fork(),
      "SELECT id FROM ost_thread WHERE object_type = 'T' AND object_id = ?",
      [Number(ticket?.ticket_id)],
    );
    const closed = await execute(
      env.orm.em.fork(),
      "INSERT INTO ost_thread_event SET thread_type = 'T', staff_id = 1, dept_id = 1, timestamp = NOW(), uid_type = 'S'," +
        " uid = 1, username = 'ostadmin', event_id = 2, data = '{\"status\":[3,\"Closed\"]}', thread_id = ?",
      [Number(thread?.id)],
    );
    expect(await capture.runCycle()).toMatchObject({ published: 1, ostmesh: 0 });
    const published = await waitFor(
      async () => (await osticketEvents(env)).find((e) => e.id === `osticket-${closed.insertId}`),
      "the staff panel's close",
    );
    expect(published.type).toBe(EventTypes.TICKET_STATUS_CHANGED);
    await capture.stop();
  });

  it("waits for a new ticket's first message before publishing its creation", async () => {
    const capture = newCapture(env, { createdWaitMs: 60_000 });
    await capture.runCycle();
    const em = env.orm.em.fork();
    const ticket = await execute(
      em,
      "INSERT INTO ost_ticket SET created = NOW(), lastupdate = NOW(), number = '300400', user_id = 28, dept_id = 1," +
        " ip_address = '', source = 'Web', updated = NOW()",
    );
    const thread = await execute(
      em,
      "INSERT INTO ost_thread SET object_id = ?, object_type = 'T', created = NOW()",
      [ticket.insertId],
    );
    const createdEvent = await execute(
      em,
      "INSERT INTO ost_thread_event SET thread_type = 'T', dept_id = 1, timestamp = NOW(), uid_type = 'U', uid = 28," +
        " username = 'SYSTEM', event_id = 1, thread_id = ?",
      [thread.insertId],
    );
    expect((await capture.runCycle()).deferred).toBe(1);
    expect((await capture.runCycle()).deferred).toBe(1);
    await execute(
      em,
      "INSERT INTO ost_thread_entry SET created = NOW(), type = 'M', thread_id = ?, title = 'Printer', format = 'text'," +
        " user_id = 28, poster = 'Trace User', source = 'Web', flags = 0, body = 'It jams'",
      [thread.insertId],
    );
    const result = await capture.runCycle();
    expect(result).toMatchObject({ published: 1, ignored: 1, deferred: 0 });
    const event = await waitFor(
      async () => (await osticketEvents(env)).find((e) => e.id === `osticket-${createdEvent.insertId}`),
      "the deferred ticket.created",
    );
    if (event.payload.case !== "ticketCreated") throw new Error("wrong payload");
    expect(event.payload.value.message?.body).toBe("It jams");
    expect(toBinary(EventSchema, event).byteLength).toBeGreaterThan(0);
    await capture.stop();
  });

  /** An ORM on the test database whose query log (the ORM's statements, begin/commit included) is kept. */
  async function statementLoggingOrm(): Promise<{ orm: TestEnv["orm"]; statements: string[] }> {
    const statements: string[] = [];
    const logger: OrmLogger = {
      log() {},
      error() {},
      warn() {},
      logQuery(context) {
        if (context.query) statements.push(context.query);
      },
      setDebugMode() {},
      isEnabled: () => false,
    };
    const orm = await createOrm({
      url: env.db.url,
      pool: { max: 2 },
      extra: { loggerFactory: () => logger },
    });
    return { orm, statements };
  }

  /** Writes `count` responses to ticket 25's thread, each committed with an ostmesh outbox event naming it. */
  async function ostmeshEntries(count: number): Promise<number[]> {
    return env.orm.em.fork().transactional(async (tx) => {
      const ids: number[] = [];
      for (let i = 0; i < count; i++) {
        const id = await insertEntry(tx, `<p>ostmesh reply ${i}</p>`);
        await writeOutbox(tx, outboxEventOf(ostmeshEntryEvent(id), env.stream));
        ids.push(id);
      }
      return ids;
    });
  }

  const decisionInserts = (statements: readonly string[]) =>
    statements.filter((s) => /^INSERT IGNORE INTO ostmesh_capture_published\b/.test(s));
  const transactionsBegun = (statements: readonly string[]) =>
    statements.filter((s) => /^(begin|start transaction)\b/i.test(s.trim()));

  it("records a cycle of ostmesh's rows in one multi-row INSERT per 500 rows, without a transaction", async () => {
    const { orm, statements } = await statementLoggingOrm();
    try {
      const capture = newCapture(env, { orm, batchSize: 1000, ticketPollMs: 3_600_000 });
      await drain(capture);
      const ids = await ostmeshEntries(600);
      statements.length = 0;
      const result = await capture.runCycle();
      expect(result).toMatchObject({ read: 600, ostmesh: 600, published: 0, ignored: 0 });
      const inserts = decisionInserts(statements);
      expect(inserts).toHaveLength(2);
      expect(transactionsBegun(statements)).toEqual([]);
      const decisions = await query(
        env.orm.em.fork(),
        `SELECT row_id, outcome, event_id FROM ostmesh_capture_published WHERE source = 'entry' AND row_id IN (${ids.map(() => "?").join(",")}) ORDER BY row_id`,
        ids,
      );
      expect(decisions.map((d) => `${d.row_id}:${d.outcome}:${d.event_id}`)).toEqual(
        ids.map((id) => `${id}:ostmesh:osticket-entry-${id}`),
      );
      // Read again (a restart, another replica): decided already, nothing new written.
      await execute(env.orm.em.fork(), "UPDATE ostmesh_capture_cursor SET position = ? WHERE source = ?", [
        Math.min(...ids) - 1,
        "ost_thread_entry",
      ]);
      statements.length = 0;
      const again = await newCapture(env, { orm, batchSize: 1000, ticketPollMs: 3_600_000 }).runCycle();
      expect(again.read).toBeGreaterThanOrEqual(600);
      expect(again).toMatchObject({ ostmesh: 0, published: 0, ignored: 0 });
      expect(decisionInserts(statements)).toEqual([]);
    } finally {
      await orm.close(true);
    }
  });

  it("re-reads the ticket overlap without judging tickets that still match their snapshot", async () => {
    const { orm, statements } = await statementLoggingOrm();
    try {
      const options = { orm, ticketPollMs: 0, ticketSettleMs: 0, ticketOverlapMs: 60_000 };
      const capture = newCapture(env, options);
      await drain(capture);
      // Tickets changed within the overlap (a reply's lastupdate, a form edit): same watched fields.
      await execute(
        env.orm.em.fork(),
        "UPDATE ost_ticket SET updated = NOW() - INTERVAL 2 SECOND, lastupdate = NOW() - INTERVAL 2 SECOND",
      );
      statements.length = 0;
      const reread = await capture.runCycle();
      expect(reread.tickets.read).toBeGreaterThan(0);
      expect(reread.tickets.published).toBe(0);
      const snapshotReads = () =>
        statements.filter((q) => q.startsWith("SELECT * FROM ostmesh_capture_ticket"));
      expect(snapshotReads()).toEqual([]);
      // Their snapshots now cover that `updated`: the next poll's overlap leaves them out.
      expect((await capture.runCycle()).tickets.read).toBe(0);
      // One ticket really changed (a transfer made in the staff panel): judged, and published once.
      const [ticket] = await query(env.orm.em.fork(), "SELECT dept_id FROM ost_ticket WHERE ticket_id = 25");
      const dept = Number(ticket?.dept_id) === 1 ? 2 : 1;
      await execute(
        env.orm.em.fork(),
        "UPDATE ost_ticket SET dept_id = ?, updated = NOW() WHERE ticket_id = 25",
        [dept],
      );
      statements.length = 0;
      const changed = await newCapture(env, options).runCycle();
      expect(snapshotReads()).toHaveLength(1);
      expect(changed.tickets.published).toBe(1);
    } finally {
      await orm.close(true);
    }
  });

  it("re-reads the recent past on every ticket poll and the whole overlap only on a sweep", async () => {
    const em = env.orm.em.fork();
    const options = {
      ticketPollMs: 0,
      ticketSettleMs: 0,
      ticketOverlapMs: 60_000,
      ticketRecentOverlapMs: 5_000,
      ticketSweepMs: 3_600_000,
    };
    const [other] = await query(
      em,
      "SELECT ticket_id, dept_id FROM ost_ticket WHERE ticket_id <> 25 ORDER BY ticket_id LIMIT 1",
    );
    const otherId = Number(other?.ticket_id);
    expect(otherId).toBeGreaterThan(0);
    // That ticket was last written 45 s ago (fields unchanged): the first poll, a sweep, takes its snapshot.
    await execute(em, "UPDATE ost_ticket SET updated = NOW() - INTERVAL 45 SECOND WHERE ticket_id = ?", [
      otherId,
    ]);
    const capture = newCapture(env, options);
    await drain(capture);
    // The cursor at now: ticket 25 touched without a change of its watched fields.
    await execute(em, "UPDATE ost_ticket SET updated = NOW() WHERE ticket_id = 25");
    await capture.runCycle();
    // A transfer of the other ticket whose transaction committed 30 s after it stamped `updated`: behind the
    // recent overlap, inside the whole one.
    await execute(
      em,
      "UPDATE ost_ticket SET dept_id = ?, updated = NOW() - INTERVAL 30 SECOND WHERE ticket_id = ?",
      [Number(other?.dept_id) === 1 ? 2 : 1, otherId],
    );
    // (Ticket 25 may be read again: a row read in the second of its `updated` is.)
    expect((await capture.runCycle()).tickets.published).toBe(0);
    expect((await capture.runCycle()).tickets.published).toBe(0);
    // The next sweep (a restart's first poll is one) reads the whole overlap and publishes it, once.
    expect((await newCapture(env, options).runCycle()).tickets.published).toBe(1);
    expect((await newCapture(env, options).runCycle()).tickets.published).toBe(0);
  });

  it("records ostmesh's rows in one statement inside the transaction of a cycle that also publishes", async () => {
    const { orm, statements } = await statementLoggingOrm();
    try {
      const capture = newCapture(env, { orm, batchSize: 1000, ticketPollMs: 3_600_000 });
      await drain(capture);
      const ids = await ostmeshEntries(20);
      const phpEntry = await insertEntry(env.orm.em.fork(), "<p>written by the staff panel</p>");
      statements.length = 0;
      expect(await capture.runCycle()).toMatchObject({ read: 21, ostmesh: 20, published: 1 });
      const inserts = decisionInserts(statements);
      expect(inserts).toHaveLength(2);
      expect(transactionsBegun(statements)).toHaveLength(1);
      await waitFor(
        async () => (await osticketEvents(env)).find((e) => e.id === `osticket-entry-${phpEntry}`),
        "the PHP entry",
      );
      const [row] = await query(
        env.orm.em.fork(),
        "SELECT COUNT(*) AS n FROM ostmesh_capture_published WHERE source = 'entry' AND outcome = 'ostmesh' AND row_id IN (?)",
        [ids],
      );
      expect(Number(row?.n)).toBe(20);
    } finally {
      await orm.close(true);
    }
  });
});
