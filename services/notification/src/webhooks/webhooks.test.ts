import { clone, create } from "@bufbuild/protobuf";
import { durationFromMs, FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { type ConsumerHandle, writeOutbox } from "@ostmesh/bus";
import { testDurable } from "@ostmesh/bus/testing/names.ts";
import { query } from "@ostmesh/db";
import { loadAgentPrincipal } from "@ostmesh/kit/auth/directory.ts";
import { EventTypes } from "@ostmesh/proto";
import {
  type Principal,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { EventOrigin } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import { AggregateType, type Event, EventSchema } from "@ostmesh/proto/gen/osticket/events/v1/event_pb.js";
import {
  DeliveryStatus,
  NotificationService,
} from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import { ThreadEntryType } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboxEventOf } from "../capture/capture.ts";
import { NotificationServiceImpl } from "../service.ts";
import { createTestEnv, type TestEnv, waitFor } from "../testing/env.ts";
import { startReceiver, type TestReceiver } from "../testing/receiver.ts";
import { authorizedService } from "../testing/rpc.ts";
import { WebhookDeliverer } from "./deliverer.ts";
import { startWebhookFanout } from "./fanout.ts";
import { verifyStandardWebhook } from "./signing.ts";
import { targetPolicy } from "./ssrf.ts";

type NotificationClient = Client<typeof NotificationService>;

let counter = 0;
function ticketEvent(deptId: number, kind: "created" | "note" = "created"): Event {
  counter++;
  return create(EventSchema, {
    id: `wh-${Date.now()}-${counter}`,
    type: kind === "created" ? EventTypes.TICKET_CREATED : EventTypes.TICKET_ENTRY_ADDED,
    origin: EventOrigin.OSTMESH,
    aggregate: { type: AggregateType.TICKET, id: 1000 + counter },
    ticket: { ticketId: 1000 + counter, number: String(500000 + counter), deptId },
    payload:
      kind === "created"
        ? {
            case: "ticketCreated",
            value: { ticket: { id: 1000 + counter, subject: "Printer" }, alert: true },
          }
        : {
            case: "threadEntryAdded",
            value: { entry: { id: counter, type: ThreadEntryType.NOTE, body: "n" } },
          },
  });
}

describe("webhooks: subscriptions, signed deliveries, retries, replay, rotation, disabling, SSRF", () => {
  let env: TestEnv;
  let receiver: TestReceiver;
  let deliverer: WebhookDeliverer;
  let fanout: ConsumerHandle;
  let admin: NotificationClient;
  let service: NotificationClient;
  let nonAdmin: NotificationClient;
  let keyWithoutScope: NotificationClient;
  const durable = testDurable("webhooks");
  /** Names the tests resolve, standing in for DNS. */
  const dns = new Map<string, string[]>();

  async function publish(event: Event): Promise<void> {
    await env.orm.em.fork().transactional((tx) => writeOutbox(tx, outboxEventOf(event, env.stream)));
    env.relay.notify();
  }

  async function deliveries(webhookId: number) {
    return (await admin.listDeliveries({ webhookId })).deliveries;
  }

  async function settledDelivery(webhookId: number, eventId: string, status: DeliveryStatus) {
    return waitFor(async () => {
      const found = (await deliveries(webhookId)).find((d) => d.eventId === eventId && d.status === status);
      return found ?? undefined;
    }, `delivery of ${eventId} ${DeliveryStatus[status]}`);
  }

  beforeAll(async () => {
    env = await createTestEnv("webhooks");
    receiver = await startReceiver();
    const policy = targetPolicy({ allowedCidrs: ["127.0.0.1/32"] });
    const resolve = async (host: string) =>
      (dns.get(host) ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    deliverer = new WebhookDeliverer({
      orm: env.orm,
      logger: env.logger,
      policy,
      resolve,
      pollIntervalMs: 50,
      timeoutMs: 500,
      backoff: { initialMs: 100, maxMs: 200 },
      disableAfter: { failures: 3, periodMs: 0 },
    }).start();
    fanout = await startWebhookFanout({
      bus: env.bus,
      orm: env.orm,
      stream: env.stream,
      durable,
      logger: env.logger,
      onQueued: () => deliverer.notify(),
      deliverPolicy: "all",
    });
    const impl = new NotificationServiceImpl({
      orm: env.orm,
      bus: env.bus,
      stream: env.stream,
      policy,
      resolve,
      onDeliveriesQueued: () => deliverer.notify(),
    });
    const rpc = await authorizedService(NotificationService, impl);
    const q = (sql: string, params: readonly unknown[] = []) => query(env.orm.em.fork(), sql, params);
    const ostadmin = await loadAgentPrincipal(q, 1);
    if (!ostadmin) throw new Error("the fresh install has no agent 1");
    admin = await rpc.as(ostadmin);
    const serviceP: Principal = create(PrincipalSchema, {
      actor: { kind: PrincipalKind.SERVICE, username: "tests" },
      scopes: ["webhooks:manage"],
    });
    service = await rpc.as(serviceP);
    const agent = clone(PrincipalSchema, ostadmin);
    if (agent.agent) agent.agent.isAdmin = false;
    nonAdmin = await rpc.as(agent);
    keyWithoutScope = await rpc.as(
      create(PrincipalSchema, { actor: { kind: PrincipalKind.API_KEY, id: 9 }, scopes: ["tickets:read"] }),
    );
  });
  afterAll(async () => {
    await fanout?.stop();
    await deliverer?.stop();
    await receiver?.close();
    await env?.close();
  });

  it("delivers a matching event once, signed the Standard Webhooks way, and logs it", async () => {
    const { webhook, secret } = await admin.createWebhook({
      url: receiver.url,
      eventTypes: ["ticket.*"],
      description: "all ticket events",
    });
    expect(secret).toMatch(/^whsec_/);
    expect(webhook).toMatchObject({ url: receiver.url, eventTypes: ["ticket.*"], active: true });
    expect(webhook?.secrets).toHaveLength(1);
    expect(webhook?.secrets[0]?.hint).toBe(secret.slice(-4));
    const id = webhook?.id ?? 0;
    const before = receiver.received.length;
    const event = ticketEvent(1);
    await publish(event);
    const delivery = await settledDelivery(id, event.id, DeliveryStatus.SUCCEEDED);
    expect(delivery).toMatchObject({
      attempts: 1,
      lastResponseStatus: 200,
      lastError: "",
      eventType: "ticket.created",
    });
    expect(delivery.lastDuration).toBeDefined();

    const requests = receiver.received.slice(before);
    expect(requests).toHaveLength(1);
    const request = requests[0];
    if (!request) throw new Error("no request");
    expect(request.method).toBe("POST");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["webhook-id"]).toBe(event.id);
    expect(request.headers["ostmesh-event-id"]).toBe(event.id);
    expect(request.headers["ostmesh-event-type"]).toBe("ticket.created");
    expect(request.headers["ostmesh-delivery-id"]).toBe(String(delivery.id));
    const verified = verifyStandardWebhook(
      secret,
      {
        id: String(request.headers["webhook-id"]),
        timestamp: String(request.headers["webhook-timestamp"]),
        signature: String(request.headers["webhook-signature"]),
      },
      request.body,
    );
    expect(verified).toEqual({ ok: true });
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({ id: event.id, type: "ticket.created", origin: "EVENT_ORIGIN_OSTMESH" });
    expect(body.ticketCreated.ticket.subject).toBe("Printer");

    // The same event published again (another outbox row, same event id) is not delivered twice.
    await publish(event);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(receiver.received.length - before).toBe(1);
    expect((await deliveries(id)).filter((d) => d.eventId === event.id)).toHaveLength(1);
    await admin.deleteWebhook({ id });
  });

  it("filters by event type and department", async () => {
    const { webhook } = await service.createWebhook({
      url: receiver.url,
      eventTypes: ["ticket.entry_added"],
      filter: { deptIds: [2] },
    });
    const id = webhook?.id ?? 0;
    const wrongDept = ticketEvent(1, "note");
    const wrongType = ticketEvent(2, "created");
    const match = ticketEvent(2, "note");
    for (const e of [wrongDept, wrongType, match]) await publish(e);
    await settledDelivery(id, match.id, DeliveryStatus.SUCCEEDED);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await deliveries(id)).map((d) => d.eventId)).toEqual([match.id]);
    // Only the matching event took a transaction with an inbox record; the others were acknowledged after
    // reading the subscriptions.
    const inbox = await query(
      env.orm.em.fork(),
      "SELECT message_id FROM ostmesh_inbox WHERE consumer = ? AND message_id IN (?, ?, ?)",
      [durable, wrongDept.id, wrongType.id, match.id],
    );
    expect(inbox.map((r) => r.message_id)).toEqual([match.id]);
    await service.deleteWebhook({ id });
  });

  it("retries failed attempts with backoff until the receiver answers 2xx, and replays on request", async () => {
    const { webhook } = await admin.createWebhook({ url: receiver.url, eventTypes: ["*"] });
    const id = webhook?.id ?? 0;
    receiver.reply(500, 503);
    const before = receiver.received.length;
    const event = ticketEvent(1);
    await publish(event);
    const retrying = await settledDelivery(id, event.id, DeliveryStatus.RETRYING);
    expect(retrying.lastError).toMatch(/HTTP 50[03]/);
    expect(retrying.nextAttemptAt).toBeDefined();
    const delivered = await settledDelivery(id, event.id, DeliveryStatus.SUCCEEDED);
    expect(delivered).toMatchObject({ attempts: 3, lastResponseStatus: 200 });
    const attempts = receiver.received.slice(before);
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((r) => r.headers["webhook-id"]))).toEqual(new Set([event.id]));
    expect(new Set(attempts.map((r) => r.body)).size).toBe(1);

    // Replay: a new delivery of the same event (same webhook-id and body), idempotent by key.
    const replayed = await admin.replayDelivery({ deliveryId: delivered.id, idempotencyKey: "replay-1" });
    const again = await admin.replayDelivery({ deliveryId: delivered.id, idempotencyKey: "replay-1" });
    expect(again.delivery?.id).toBe(replayed.delivery?.id);
    expect(replayed.delivery).toMatchObject({
      replayOf: delivered.id,
      eventId: event.id,
      status: DeliveryStatus.PENDING,
    });
    await waitFor(
      async () =>
        (await deliveries(id)).find(
          (d) => d.id === replayed.delivery?.id && d.status === DeliveryStatus.SUCCEEDED,
        ),
      "the replay",
    );
    const replayRequest = receiver.received.at(-1);
    expect(replayRequest?.headers["webhook-id"]).toBe(event.id);
    expect(replayRequest?.headers["ostmesh-delivery-id"]).toBe(String(replayed.delivery?.id));
    expect(replayRequest?.body).toBe(attempts[0]?.body);
    // A different request under the same key is refused.
    await expect(
      admin.replayDelivery({ deliveryId: delivered.id + 1000, idempotencyKey: "replay-1" }),
    ).rejects.toMatchObject({
      code: Code.FailedPrecondition,
    });
    await expect(admin.replayDelivery({ deliveryId: 987654 })).rejects.toMatchObject({ code: Code.NotFound });
    const succeeded = await admin.listDeliveries({
      webhookId: id,
      status: DeliveryStatus.SUCCEEDED,
      pageSize: 1,
    });
    expect(succeeded.deliveries).toHaveLength(1);
    expect(succeeded.deliveries[0]?.id).toBe(replayed.delivery?.id);
    const next = await admin.listDeliveries({
      webhookId: id,
      status: DeliveryStatus.SUCCEEDED,
      pageSize: 1,
      pageToken: succeeded.nextPageToken,
    });
    expect(next.deliveries[0]?.id).toBe(delivered.id);
    await expect(
      admin.listDeliveries({
        webhookId: id,
        status: DeliveryStatus.FAILED,
        pageToken: succeeded.nextPageToken,
      }),
    ).rejects.toMatchObject({ code: Code.InvalidArgument });
    await admin.deleteWebhook({ id });
  });

  it("signs with both secrets during a rotation's overlap, and only the new one after a rotation without overlap", async () => {
    const { webhook, secret: first } = await admin.createWebhook({
      url: receiver.url,
      eventTypes: ["ticket.created"],
    });
    const id = webhook?.id ?? 0;
    const rotated = await admin.rotateWebhookSecret({
      id,
      overlap: durationFromMs(3_600_000),
      idempotencyKey: "rot-1",
    });
    const retried = await admin.rotateWebhookSecret({
      id,
      overlap: durationFromMs(3_600_000),
      idempotencyKey: "rot-1",
    });
    expect(retried.secret).toBe(rotated.secret);
    expect(rotated.secret).not.toBe(first);
    expect(rotated.webhook?.secrets).toHaveLength(2);
    expect(rotated.webhook?.secrets[0]?.expiresAt).toBeUndefined();
    expect(rotated.webhook?.secrets[1]?.expiresAt).toBeDefined();

    const event = ticketEvent(1);
    await publish(event);
    await settledDelivery(id, event.id, DeliveryStatus.SUCCEEDED);
    const request = receiver.received.findLast((r) => r.headers["webhook-id"] === event.id);
    const headers = {
      id: event.id,
      timestamp: String(request?.headers["webhook-timestamp"]),
      signature: String(request?.headers["webhook-signature"]),
    };
    expect(headers.signature.split(" ")).toHaveLength(2);
    expect(verifyStandardWebhook(first, headers, request?.body ?? "").ok).toBe(true);
    expect(verifyStandardWebhook(rotated.secret, headers, request?.body ?? "").ok).toBe(true);
    expect(String(request?.headers["ostmesh-signature"]).match(/v1=/g)).toHaveLength(2);

    const revoked = await admin.rotateWebhookSecret({ id, overlap: durationFromMs(0) });
    expect(revoked.webhook?.secrets).toHaveLength(1);
    const later = ticketEvent(1);
    await publish(later);
    await settledDelivery(id, later.id, DeliveryStatus.SUCCEEDED);
    const last = receiver.received.findLast((r) => r.headers["webhook-id"] === later.id);
    const lastHeaders = {
      id: later.id,
      timestamp: String(last?.headers["webhook-timestamp"]),
      signature: String(last?.headers["webhook-signature"]),
    };
    expect(lastHeaders.signature.split(" ")).toHaveLength(1);
    expect(verifyStandardWebhook(revoked.secret, lastHeaders, last?.body ?? "").ok).toBe(true);
    expect(verifyStandardWebhook(rotated.secret, lastHeaders, last?.body ?? "").ok).toBe(false);
    await expect(admin.rotateWebhookSecret({ id, overlap: durationFromMs(-1) })).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    await admin.deleteWebhook({ id });
  });

  it("disables a subscription after sustained failure and stops delivering to it", async () => {
    const dead = await startReceiver();
    dead.fallback = 503;
    const { webhook } = await admin.createWebhook({ url: dead.url, eventTypes: ["*"] });
    const id = webhook?.id ?? 0;
    const event = ticketEvent(1);
    await publish(event);
    const disabled = await waitFor(async () => {
      const w = (await admin.getWebhook({ id })).webhook;
      return w && !w.active ? w : undefined;
    }, "the webhook disabled");
    expect(disabled.active).toBe(false);
    const attempts = dead.received.length;
    expect(attempts).toBe(3);
    const [row] = await query(env.orm.em.fork(), "SELECT disabled_reason FROM ostmesh_webhook WHERE id = ?", [
      id,
    ]);
    expect(String(row?.disabled_reason)).toMatch(/^disabled after 3 failed attempts in a row/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(dead.received.length).toBe(attempts);
    // Events published while disabled are not queued for it; resuming by hand restarts deliveries.
    const whileOff = ticketEvent(1);
    await publish(whileOff);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await deliveries(id)).some((d) => d.eventId === whileOff.id)).toBe(false);
    dead.fallback = 200;
    const resumed = await admin.updateWebhook({
      id,
      patch: { active: true },
      updateMask: create(FieldMaskSchema, { paths: ["active"] }),
    });
    expect(resumed.webhook?.active).toBe(true);
    await settledDelivery(id, event.id, DeliveryStatus.SUCCEEDED);
    await admin.deleteWebhook({ id });
    await dead.close();
  });

  it("never follows redirects, gives up on an answer that does not come in time, caps the response read", async () => {
    const other = await startReceiver();
    const { webhook } = await admin.createWebhook({ url: receiver.url, eventTypes: ["ticket.created"] });
    const id = webhook?.id ?? 0;
    receiver.reply({ redirect: other.url }, "hang", { status: 200, bodyBytes: 8 * 1024 * 1024 });
    const event = ticketEvent(1);
    await publish(event);
    const redirected = await settledDelivery(id, event.id, DeliveryStatus.RETRYING);
    expect(redirected.lastError).toMatch(/HTTP 302 \(redirects are not followed\)/);
    await waitFor(async () => {
      const d = (await deliveries(id)).find((x) => x.eventId === event.id);
      return d && d.attempts >= 2 && /no answer within 500 ms/.test(d.lastError) ? d : undefined;
    }, "a timed-out attempt");
    const done = await settledDelivery(id, event.id, DeliveryStatus.SUCCEEDED);
    expect(done.attempts).toBe(3);
    expect(other.received).toHaveLength(0);
    await admin.deleteWebhook({ id });
    await other.close();
  });

  it("refuses private, loopback-not-allowed, link-local and metadata targets at creation and at delivery", async () => {
    for (const url of [
      "http://10.0.0.5/hook",
      "https://169.254.169.254/latest/meta-data",
      "https://192.168.1.10/x",
      "https://[::1]/x",
      "http://hooks.example.com/not-https",
      "https://user:secret@hooks.example.com/",
    ]) {
      const error = await admin.createWebhook({ url, eventTypes: ["*"] }).catch((e: unknown) => e);
      if (!(error instanceof ConnectError)) throw new Error(`${url} was accepted`);
      expect(error.code, url).toBe(Code.InvalidArgument);
      expect(error.rawMessage, url).toMatch(/^url refused: /);
    }
    dns.set("internal.example", ["10.9.8.7"]);
    await expect(
      admin.createWebhook({ url: "https://internal.example/x", eventTypes: ["*"] }),
    ).rejects.toThrow(/resolves to 10\.9\.8\.7/);
    // A name that was public when subscribed and later points inside: refused at delivery, FAILED at once.
    dns.set("rebind.example", ["93.184.216.34"]);
    const { webhook } = await admin.createWebhook({
      url: "https://rebind.example/hook",
      eventTypes: ["ticket.created"],
    });
    dns.set("rebind.example", ["169.254.169.254"]);
    const event = ticketEvent(1);
    await publish(event);
    const failed = await settledDelivery(webhook?.id ?? 0, event.id, DeliveryStatus.FAILED);
    expect(failed).toMatchObject({ attempts: 1, lastResponseStatus: 0 });
    expect(failed.lastError).toMatch(/^refused: rebind\.example resolves to 169\.254\.169\.254/);
    await admin.deleteWebhook({ id: webhook?.id ?? 0 });
  });

  it("validates requests and enforces who may manage webhooks", async () => {
    const bad = [
      { url: receiver.url, eventTypes: [] },
      { url: receiver.url, eventTypes: ["Ticket.Created"] },
      { url: receiver.url, eventTypes: ["*"], secret: "short" },
      { url: "", eventTypes: ["*"] },
      { url: receiver.url, eventTypes: ["*"], description: "x".repeat(256) },
    ];
    for (const request of bad)
      await expect(admin.createWebhook(request), JSON.stringify(request).slice(0, 80)).rejects.toMatchObject({
        code: Code.InvalidArgument,
      });
    const chosen = "a-secret-the-caller-chose-32-chars";
    const { webhook, secret } = await admin.createWebhook({
      url: receiver.url,
      eventTypes: ["*"],
      secret: chosen,
    });
    expect(Buffer.from(secret.slice(6), "base64").toString("utf8")).toBe(chosen);
    const id = webhook?.id ?? 0;
    await expect(admin.updateWebhook({ id, patch: { description: "x" } })).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    await expect(
      admin.updateWebhook({ id, patch: {}, updateMask: create(FieldMaskSchema, { paths: ["secret"] }) }),
    ).rejects.toMatchObject({ code: Code.InvalidArgument });
    const updated = await admin.updateWebhook({
      id,
      patch: { description: "renamed", eventTypes: ["user.*"], filter: { origin: EventOrigin.OSTICKET } },
      updateMask: create(FieldMaskSchema, { paths: ["description", "event_types", "filter"] }),
    });
    expect(updated.webhook).toMatchObject({ description: "renamed", eventTypes: ["user.*"] });
    expect(updated.webhook?.filter?.origin).toBe(EventOrigin.OSTICKET);
    await expect(admin.listWebhooks({ pageSize: -1 })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(admin.listWebhooks({ pageToken: "garbage" })).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    const second = await admin.createWebhook({ url: receiver.url, eventTypes: ["*"] });
    const page = await admin.listWebhooks({ pageSize: 1 });
    expect(page.webhooks.map((w) => w.id)).toEqual([id]);
    const rest = await admin.listWebhooks({ pageSize: 1, pageToken: page.nextPageToken });
    expect(rest.webhooks.map((w) => w.id)).toEqual([second.webhook?.id]);
    expect(rest.nextPageToken).toBe("");
    await admin.deleteWebhook({ id: second.webhook?.id ?? 0 });
    await admin.deleteWebhook({ id });
    await expect(admin.getWebhook({ id })).rejects.toMatchObject({ code: Code.NotFound });
    await expect(admin.deleteWebhook({ id })).rejects.toMatchObject({ code: Code.NotFound });
    await expect(
      admin.updateWebhook({
        id,
        patch: { active: true },
        updateMask: create(FieldMaskSchema, { paths: ["active"] }),
      }),
    ).rejects.toMatchObject({ code: Code.NotFound });
    // The delivery log of a deleted subscription stays readable.
    await expect(admin.listDeliveries({ webhookId: id })).resolves.toBeDefined();
    await expect(admin.listDeliveries({ webhookId: 424242 })).rejects.toMatchObject({ code: Code.NotFound });

    await expect(nonAdmin.listWebhooks({})).rejects.toMatchObject({ code: Code.PermissionDenied });
    await expect(
      keyWithoutScope.createWebhook({ url: receiver.url, eventTypes: ["*"] }),
    ).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
  });
});
