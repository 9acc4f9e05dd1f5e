/**
 * The live ticket board end to end in a real browser: headless Chromium (Debian's, driven by playwright-core)
 * loads /board/ from a real gateway, signs in through IdentityService.Login, lists tickets with
 * TicketService.ListTickets and follows NotificationService.WatchEvents — all Connect-Web calls over the
 * gateway's HTTP/1.1 port, forwarded to the real identity, ticket and notification services on a scratch
 * copy of the fresh osTicket install. Tickets created through the legacy API appear live (events from the
 * ticket service's outbox), and a ticket closed by osTicket's own PHP (replayed SQL) changes status live
 * (change capture).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type mysql from "mysql2/promise";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY, type RealMesh, startRealMesh } from "../testing/real-mesh.ts";

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

let mesh: RealMesh;
let conn: mysql.Connection;
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
  mesh = await startRealMesh({ label: "board", notification: true });
  conn = mesh.conn;
  // osTicket's own session settings: its INSERTs leave NOT NULL columns out (FACTS §0).
  await conn.query("SET SESSION sql_mode = '', SESSION time_zone = 'SYSTEM'");
  base = mesh.base;
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
  await mesh?.close();
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
