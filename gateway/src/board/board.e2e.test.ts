/**
 * The live ticket board end to end in a real browser: headless Chromium (Debian's, driven by playwright-core)
 * loads /board/ from a real gateway, signs in through IdentityService.Login, lists tickets with
 * TicketService.ListTickets and follows NotificationService.WatchEvents — all Connect-Web calls over the
 * gateway's HTTP/1.1 port, forwarded to the real identity, ticket and notification services on a scratch
 * copy of the fresh osTicket install. Tickets created through the legacy API appear live (events from the
 * ticket service's outbox), and a ticket closed by osTicket's own PHP (replayed SQL) changes status live
 * (change capture).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, type EventStreamDefinition } from "@ostmesh/bus";
import { deleteStreams, testStream } from "@ostmesh/bus/testing/names.ts";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { type ServiceProcess, startServiceProcess, Topology } from "@ostmesh/kit";
import { createMeshAuth, type MeshAuth } from "@ostmesh/kit/auth/index.ts";
import { silentLogger, TEST_NATS_URL, testConfig } from "@ostmesh/kit/testing/harness.ts";
import { notificationService } from "@ostmesh/notification";
import { IdentityService } from "@ostmesh/proto";
import { ticketService } from "@ostmesh/ticket";
import mysql from "mysql2/promise";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGatewayConfig } from "../config.ts";
import { startGateway } from "../server.ts";

const KEY = "B0A4DB0A4DB0A4DB0A4DB0A4DB0A4DB0";
const gatewaySecret = randomBytes(32).toString("base64url");
const ticketSecret = randomBytes(32).toString("base64url");
/** The flags the board's browser runs with (a fresh profile comes from launchPersistentContext). */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let db: ScratchDatabase;
let conn: mysql.Connection;
let services: ServiceProcess;
let gateway: ServiceProcess;
let auth: MeshAuth;
let stream: EventStreamDefinition;
let base: string;
let profile: string;
let browser: BrowserContext;

async function createTicket(subject: string): Promise<{ number: string; id: number }> {
  const res = await fetch(`${base}/api/tickets.json`, {
    method: "POST",
    headers: { "x-api-key": KEY },
    body: JSON.stringify({
      email: "board.user@example.com",
      name: "Board User",
      subject,
      message: `About ${subject}`,
    }),
  });
  const number = await res.text();
  expect(res.status, number).toBe(201);
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT ticket_id FROM ost_ticket WHERE number = ?",
    [number],
  );
  return { number, id: Number(rows[0]?.ticket_id) };
}

beforeAll(async () => {
  db = await createScratchDatabase({ label: "board" });
  conn = await mysql.createConnection({ uri: db.url, dateStrings: true });
  // osTicket's own session settings: its INSERTs leave NOT NULL columns out (FACTS §0).
  await conn.query("SET SESSION sql_mode = '', SESSION time_zone = 'SYSTEM'");
  await conn.query(
    "INSERT INTO ost_config (namespace, `key`, value, updated) VALUES ('core', 'verify_email_addrs', '0', NOW()) ON DUPLICATE KEY UPDATE value = '0'",
  );
  await conn.query(
    "INSERT INTO ost_api_key SET isactive = 1, ipaddr = '127.0.0.1', apikey = ?, can_create_tickets = 1, can_exec_cron = 1, notes = 'board', updated = NOW(), created = NOW()",
    [KEY],
  );
  process.env.IDENTITY_SERVICE_CLIENTS = `gateway=${gatewaySecret},ticket=${ticketSecret}`;
  process.env.IDENTITY_KEY_ENCRYPTION_KEY = randomBytes(32).toString("base64");
  const identity = await import("@ostmesh/identity");
  stream = testStream("board");
  const config = testConfig({ DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, LOG_LEVEL: "silent" });
  const topology = new Topology(config, ["identity", "ticket", "notification"]);
  auth = createMeshAuth({
    config: {
      issuer: "urn:ostmesh:identity",
      audience: "urn:ostmesh:api",
      jwksUrl: undefined,
      revalidate: true,
      oidc: undefined,
    },
    identity: topology.client(IdentityService, "identity"),
    databaseUrl: db.url,
  });
  services = await startServiceProcess({
    name: "mesh-for-board",
    config,
    logger: silentLogger(),
    topology,
    services: [
      { name: "identity", register: identity.register },
      {
        name: "ticket",
        register: ticketService({
          env: { TICKET_OUTBOX_RELAY: "false", TICKET_SERVICE_SECRET: ticketSecret },
          stream,
        }),
      },
      { name: "notification", register: notificationService({ env: {}, stream }) },
    ],
    interceptors: [auth.interceptor],
    onShutdown: [() => auth.close()],
    listen: { h2c: [0], admin: 0 },
    handleSignals: false,
  });
  const url = `http://127.0.0.1:${services.ports.h2c[0]}`;
  gateway = await startGateway({
    config: testConfig({
      DATABASE_URL: db.url,
      LOG_LEVEL: "silent",
      TICKET_URL: url,
      IDENTITY_URL: url,
      ATTACHMENT_URL: url,
      NOTIFICATION_URL: url,
    }),
    gateway: loadGatewayConfig({ GATEWAY_SERVICE_SECRET: gatewaySecret, GATEWAY_RATE_LIMIT: "0" }),
    logger: silentLogger(),
    fronted: [],
    listen: { http: 0, h2c: 0, admin: 0 },
    handleSignals: false,
  });
  base = `http://127.0.0.1:${gateway.ports.http1[0]}`;
  profile = await mkdtemp(join(tmpdir(), "ostmesh-board-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_FLAGS,
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await gateway?.shutdown();
  await services?.shutdown();
  if (stream) {
    const bus = await connectBus({ url: TEST_NATS_URL, name: "board-cleanup" });
    await deleteStreams(bus.jsm, [stream.name]);
    await bus.close();
  }
  await conn?.end();
  await db?.drop();
});

const cell = (page: Page, number: string, field: string) =>
  page.locator(`tr[data-number="${number}"] td[data-field="${field}"]`);

describe("the live ticket board in Chromium", () => {
  it("serves the page with a strict policy, and only GET/HEAD under /board/", async () => {
    const page = await fetch(`${base}/board/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("connect-src 'self'");
    const etag = page.headers.get("etag") ?? "";
    expect((await fetch(`${base}/board/`, { headers: { "if-none-match": etag } })).status).toBe(304);
    const script = await fetch(`${base}/board/board.js`);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect((await script.text()).length).toBeGreaterThan(10_000);
    expect((await fetch(`${base}/board`, { redirect: "manual" })).headers.get("location")).toBe("/board/");
    expect((await fetch(`${base}/board/secret.txt`)).status).toBe(404);
    expect((await fetch(`${base}/board/`, { method: "POST" })).status).toBe(405);
  });

  it("signs in, lists tickets, and updates live from ostmesh's and osTicket's changes", async () => {
    const first = await createTicket("Printer on fire");
    const second = await createTicket("Screen flickers");
    const page = await browser.newPage();
    const calls: string[] = [];
    page.on("request", (request) => {
      const path = new URL(request.url()).pathname;
      if (path.startsWith("/osticket."))
        calls.push(`${request.method()} ${path} ${request.headers()["content-type"]}`);
    });
    await page.goto(`${base}/board/`);
    await page.locator('input[name="username"]').fill("ostadmin");
    await page.locator('input[name="password"]').fill("Adm1nPass!");
    await page.locator('button[type="submit"]').click();

    await expect
      .poll(() => cell(page, first.number, "subject").textContent(), { timeout: 15_000 })
      .toBe("Printer on fire");
    expect(await cell(page, second.number, "status").textContent()).toBe("Open");
    expect(await cell(page, second.number, "department").textContent()).toBe("Support");
    await expect
      .poll(() => page.locator("#status").getAttribute("data-state"), { timeout: 15_000 })
      .toBe("live");

    // A ticket created through ostmesh appears without a reload (ticket.created from the outbox).
    const third = await createTicket("Keyboard missing keys");
    await expect
      .poll(() => page.locator(`tr[data-number="${third.number}"]`).getAttribute("data-last-event"), {
        timeout: 15_000,
      })
      .toBe("ticket.created");
    expect(await cell(page, third.number, "subject").textContent()).toBe("Keyboard missing keys");

    // osTicket's staff panel closes the first ticket (its own statements, from traces/ticket-actions.writes.sql).
    const [threads] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT id FROM ost_thread WHERE object_type = 'T' AND object_id = ?",
      [first.id],
    );
    const threadId = Number(threads[0]?.id);
    await conn.query(
      "UPDATE `ost_ticket` SET `lastupdate` = NOW(), `closed` = NOW(), `status_id` = 3, `updated` = NOW() WHERE `ost_ticket`.`ticket_id` = ? LIMIT 1",
      [first.id],
    );
    await conn.query(
      "INSERT INTO `ost_thread_event` SET `thread_type` = 'T', `staff_id` = 1, `dept_id` = 1, `timestamp` = NOW(), `uid_type` = 'S', `uid` = 1, `username` = 'ostadmin', `event_id` = 2, `data` = '{\\\"status\\\":[3,\\\"Closed\\\"]}', `thread_id` = ?",
      [threadId],
    );
    await expect
      .poll(() => cell(page, first.number, "status").textContent(), { timeout: 15_000 })
      .toBe("Closed");
    expect(await page.locator(`tr[data-number="${first.number}"]`).getAttribute("data-last-event")).toBe(
      "ticket.status_changed",
    );
    expect(await page.locator("#count").textContent()).toMatch(/^3 tickets, \d+ events$/);

    // Every call the page made was Connect (JSON) to the gateway's HTTP/1.1 port.
    expect(calls).toContain("POST /osticket.identity.v1.IdentityService/Login application/json");
    expect(calls).toContain("POST /osticket.ticket.v1.TicketService/ListTickets application/json");
    expect(calls).toContain(
      "POST /osticket.notification.v1.NotificationService/WatchEvents application/connect+json",
    );
    await page.close();
  });
});
