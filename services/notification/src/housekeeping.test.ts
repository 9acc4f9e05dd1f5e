import { execute, query } from "@ostmesh/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { housekeep } from "./housekeeping.ts";
import { createTestEnv, type TestEnv } from "./testing/env.ts";

describe("notification housekeeping", () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv("housekeep", { from: "empty" });
  });
  afterAll(async () => {
    await env?.close();
  });

  it("deletes old inbox records and settled e-mails and deliveries, never pending or retrying ones", async () => {
    const em = env.orm.em.fork();
    await execute(
      em,
      "INSERT INTO ostmesh_inbox (consumer, message_id, processed_at) VALUES ('c', 'old', NOW(6) - INTERVAL 9 DAY), ('c', 'new', NOW(6))",
    );
    const email =
      "INSERT INTO ostmesh_email (event_id, template, recipient, from_address, subject, body_html, message_id, status, created_at)" +
      " VALUES (?, 't', 'a@example.org', 'b@example.org', 's', 'b', '<m>', ?, NOW(6) - INTERVAL ? DAY)";
    await execute(em, email, ["sent-old", 3, 40]);
    await execute(em, email, ["failed-old", 4, 40]);
    await execute(em, email, ["retrying-old", 2, 40]);
    await execute(em, email, ["sent-new", 3, 1]);
    const delivery =
      "INSERT INTO ostmesh_webhook_delivery (webhook_id, event_id, event_type, body, status, created_at)" +
      " VALUES (1, ?, 'ticket.created', '{}', ?, NOW(6) - INTERVAL ? DAY)";
    await execute(em, delivery, ["ok-old", 3, 40]);
    await execute(em, delivery, ["pending-old", 1, 40]);
    await execute(em, delivery, ["ok-new", 3, 1]);

    expect(await housekeep({ orm: env.orm, logger: env.logger })).toEqual({
      inbox: 1,
      emails: 2,
      deliveries: 1,
    });
    expect((await query(em, "SELECT message_id FROM ostmesh_inbox")).map((r) => r.message_id)).toEqual([
      "new",
    ]);
    expect(
      (await query(em, "SELECT event_id FROM ostmesh_email ORDER BY event_id")).map((r) => r.event_id),
    ).toEqual(["retrying-old", "sent-new"]);
    expect(
      (await query(em, "SELECT event_id FROM ostmesh_webhook_delivery ORDER BY event_id")).map(
        (r) => r.event_id,
      ),
    ).toEqual(["ok-new", "pending-old"]);
  });
});
