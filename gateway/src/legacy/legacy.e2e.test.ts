/**
 * The legacy osTicket API through a real gateway process (HTTP/1.1 on port 0), a scratch copy of the fresh
 * osTicket install, and real HTTP/2 upstreams: every case of FACTS §4 — status, content type, exact body —
 * and the ost_syslog rows each failure writes (with the API key masked).
 */
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { MessageFormat } from "@ostmesh/proto/gen/osticket/common/v1/types_pb.js";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../testing/gateway.ts";

const KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F90";
const INACTIVE = "B1B2C3D4E5F60718293A4B5C6D7E8F90";
const NO_CREATE = "C1B2C3D4E5F60718293A4B5C6D7E8F90";
const NO_CRON = "D1B2C3D4E5F60718293A4B5C6D7E8F90";
const OTHER_IP = "E1B2C3D4E5F60718293A4B5C6D7E8F90";
const PROXIED = "F1B2C3D4E5F60718293A4B5C6D7E8F90";
const masked = (key: string) => `${key.slice(0, 4)}********${key.slice(-4)}`;

let db: ScratchDatabase;
let conn: mysql.Connection;
let gw: TestGateway;

interface SyslogRow {
  log_type: string;
  title: string;
  log: string;
  logger: string;
  ip_address: string;
}

async function lastLogId(): Promise<number> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT COALESCE(MAX(log_id), 0) AS id FROM ost_syslog",
  );
  return Number(rows[0]?.id ?? 0);
}

async function rowsAfter(id: number): Promise<SyslogRow[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT log_type, title, log, logger, ip_address FROM ost_syslog WHERE log_id > ? ORDER BY log_id",
    [id],
  );
  return rows.map((r) => ({
    log_type: String(r.log_type),
    title: String(r.title),
    log: String(r.log),
    logger: String(r.logger),
    ip_address: String(r.ip_address),
  }));
}

interface Answer {
  status: number;
  body: string;
  contentType: string | null;
  contentLength: string | null;
  rows: SyslogRow[];
}

async function post(
  path: string,
  body: string | Uint8Array | undefined,
  options: { key?: string | null; method?: string; headers?: Record<string, string>; base?: string } = {},
): Promise<Answer> {
  const before = await lastLogId();
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? KEY : options.key;
  if (key !== null) headers["x-api-key"] = key;
  const res = await fetch(`${options.base ?? gw.httpUrl}${path}`, {
    method: options.method ?? "POST",
    body: body instanceof Uint8Array ? new Uint8Array(body) : body,
    headers,
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text,
    contentType: res.headers.get("content-type"),
    contentLength: res.headers.get("content-length"),
    rows: await rowsAfter(before),
  };
}

const valid = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    email: "jane@example.com",
    name: "Jane Doe",
    subject: "Printer",
    message: "It is broken",
    ...extra,
  });

const warning = (code: number, text: string, key: string | null = KEY) => ({
  log_type: "Warning",
  title: `API Error (${code})`,
  log: key ? `${text.replace(/\n/g, " ")} [${masked(key)}] ` : text,
  logger: "",
  ip_address: "127.0.0.1",
});

beforeAll(async () => {
  db = await createScratchDatabase({ label: "gwlegacy" });
  conn = await mysql.createConnection({ uri: db.url, dateStrings: true });
  const key = (apikey: string, ip: string, active: number, create: number, cron: number) =>
    conn.query(
      "INSERT INTO ost_api_key SET isactive = ?, ipaddr = ?, apikey = ?, can_create_tickets = ?, can_exec_cron = ?, notes = 'test', updated = NOW(), created = NOW()",
      [active, ip, apikey, create, cron],
    );
  await key(KEY, "127.0.0.1", 1, 1, 1);
  await key(INACTIVE, "127.0.0.1", 0, 1, 1);
  await key(NO_CREATE, "127.0.0.1", 1, 0, 1);
  await key(NO_CRON, "127.0.0.1", 1, 1, 0);
  await key(OTHER_IP, "10.0.0.9", 1, 1, 1);
  await key(PROXIED, "203.0.113.7", 1, 1, 1);
  // A custom ticket form field: its variable name is an accepted key, answered through CreateTicket.
  await conn.query(
    "INSERT INTO ost_form_field SET form_id = 2, flags = 13057, type = 'text', label = 'Company', name = 'company', sort = 4, created = NOW(), updated = NOW()",
  );
  gw = await startTestGateway(db.url, { GATEWAY_LEGACY_MAX_BODY: "64KiB" });
});

afterAll(async () => {
  await gw?.close();
  await conn?.end();
  await db?.drop();
});

describe("routes", () => {
  it.each([
    ["GET", "/api/tickets.json"],
    ["POST", "/api/tickets.yaml"],
    ["POST", "/api/nope"],
    ["POST", "/api/tickets.json/"],
    ["POST", "/api/http.php"],
    ["GET", "/api/tasks/cron"],
    ["POST", "/api/tickets.JSON"],
  ])("%s %s → 400 URL not supported, not logged", async (method, path) => {
    const res = await post(path, method === "GET" ? undefined : valid(), { method });
    expect(res).toMatchObject({ status: 400, body: "URL not supported", rows: [] });
    expect(res.contentType).toBe("text/html; charset=UTF-8");
    expect(res.contentLength).toBe("17");
  });

  it("serves the /api/http.php/<path> spelling and ?_method=POST", async () => {
    expect((await post("/api/http.php/tickets.json", valid())).status).toBe(201);
    const emulated = await post("/api/tickets.json?_method=post", undefined, { method: "GET" });
    expect(emulated.status).toBe(400);
    expect(emulated.body).toBe("Syntax error, malformed JSON");
  });
});

describe("API keys", () => {
  it("creates with a valid key: 201, the number, exact headers, no trailing newline, no syslog row", async () => {
    const res = await post("/api/tickets.json", valid(), {
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatch(/^\d{6}$/);
    expect(res.contentType).toBe("text/html; charset=UTF-8");
    expect(res.contentLength).toBe(String(res.body.length));
    expect(res.rows).toEqual([]);
  });

  it("matches the key case-insensitively (osTicket's collation)", async () => {
    expect((await post("/api/tickets.json", valid(), { key: KEY.toLowerCase() })).status).toBe(201);
  });

  it("no key → 401 Valid API key required, logged without a key part", async () => {
    const res = await post("/api/tickets.json", valid(), { key: null });
    expect(res).toMatchObject({ status: 401, body: "Valid API key required" });
    expect(res.rows).toEqual([warning(401, "Valid API key required", null)]);
  });

  it("unknown key and wrong client IP → 401 Valid API key required, the key masked in ost_syslog", async () => {
    const unknown = "0000111122223333444455556666ZZZZ";
    const res = await post("/api/tickets.json", valid(), { key: unknown });
    expect(res).toMatchObject({ status: 401, body: "Valid API key required" });
    expect(res.rows).toEqual([warning(401, "Valid API key required", unknown)]);
    expect(res.rows[0]?.log).not.toContain(unknown);
    const wrongIp = await post("/api/tickets.json", valid(), { key: OTHER_IP });
    expect(wrongIp).toMatchObject({ status: 401, body: "Valid API key required" });
  });

  it("inactive key → 401 API key not found/active or source IP not authorized", async () => {
    const res = await post("/api/tickets.json", valid(), { key: INACTIVE });
    const text = "API key not found/active or source IP not authorized";
    expect(res).toMatchObject({ status: 401, body: text, rows: [warning(401, text, INACTIVE)] });
  });

  it("key without can_create_tickets → 401 API key not authorized", async () => {
    const res = await post("/api/tickets.json", valid(), { key: NO_CREATE });
    expect(res).toMatchObject({
      status: 401,
      body: "API key not authorized",
      rows: [warning(401, "API key not authorized", NO_CREATE)],
    });
  });

  it("a change to the key in osTicket's table applies to the very next request", async () => {
    await conn.query("UPDATE ost_api_key SET isactive = 0 WHERE apikey = ?", [KEY]);
    try {
      expect((await post("/api/tickets.json", valid())).status).toBe(401);
    } finally {
      await conn.query("UPDATE ost_api_key SET isactive = 1 WHERE apikey = ?", [KEY]);
    }
    expect((await post("/api/tickets.json", valid())).status).toBe(201);
  });

  it("never writes a key in clear text to the process log", async () => {
    const lines = JSON.stringify(gw.logs.entries());
    for (const key of [KEY, INACTIVE, NO_CREATE, "0000111122223333444455556666ZZZZ"])
      expect(lines).not.toContain(key);
  });
});

describe("a key's token reused between requests", () => {
  const REUSED = "0AB2C3D4E5F60718293A4B5C6D7E8F90";
  const INACTIVE_TEXT = "API key not found/active or source IP not authorized";
  const change = (set: string) => conn.query(`UPDATE ost_api_key SET ${set} WHERE apikey = ?`, [REUSED]);
  const create = () => post("/api/tickets.json", valid(), { key: REUSED });

  beforeAll(async () => {
    await conn.query(
      "INSERT INTO ost_api_key SET isactive = 1, ipaddr = '127.0.0.1', apikey = ?, can_create_tickets = 1, can_exec_cron = 1, notes = 'reused', updated = NOW(), created = NOW()",
      [REUSED],
    );
  });

  it("checks a key once for repeated requests of one purpose, and again before answering a failure", async () => {
    const before = gw.upstreams.keyChecks;
    for (let i = 0; i < 3; i++) expect((await create()).status).toBe(201);
    expect(gw.upstreams.keyChecks).toBe(before + 1);
    // A failure is osTicket's answer only for a key that still passes: checked once more, then answered.
    const malformed = await post("/api/tickets.json", '{"email": ', { key: REUSED });
    expect(malformed).toMatchObject({ status: 400, body: "Syntax error, malformed JSON" });
    expect(gw.upstreams.keyChecks).toBe(before + 2);
    // Cron is another purpose (another permission): its own check, then reused too.
    for (let i = 0; i < 2; i++)
      expect(await post("/api/tasks/cron", undefined, { key: REUSED })).toMatchObject({
        status: 200,
        body: "Completed",
      });
    expect(gw.upstreams.keyChecks).toBe(before + 3);
  });

  it("answers a change an admin makes to the key on the very next request, with osTicket's texts and rows", async () => {
    expect((await create()).status).toBe(201);
    const cases: [string, string, string][] = [
      ["isactive = 0", "isactive = 1", INACTIVE_TEXT],
      ["can_create_tickets = 0", "can_create_tickets = 1", "API key not authorized"],
      ["ipaddr = '10.0.0.1'", "ipaddr = '127.0.0.1'", "Valid API key required"],
    ];
    for (const [set, reset, text] of cases) {
      await change(set);
      try {
        expect(await create()).toMatchObject({ status: 401, body: text, rows: [warning(401, text, REUSED)] });
      } finally {
        await change(reset);
      }
      expect((await create()).status).toBe(201);
    }
    // osTicket checks the key before it reads the body: a deactivated key's malformed request is a 401.
    await change("isactive = 0");
    try {
      const malformed = await post("/api/tickets.json", '{"email": ', { key: REUSED });
      expect(malformed).toMatchObject({
        status: 401,
        body: INACTIVE_TEXT,
        rows: [warning(401, INACTIVE_TEXT, REUSED)],
      });
    } finally {
      await change("isactive = 1");
    }
    // Deleted, then created again.
    expect((await create()).status).toBe(201);
    await conn.query("DELETE FROM ost_api_key WHERE apikey = ?", [REUSED]);
    expect(await create()).toMatchObject({ status: 401, body: "Valid API key required" });
    await conn.query(
      "INSERT INTO ost_api_key SET isactive = 1, ipaddr = '127.0.0.1', apikey = ?, can_create_tickets = 1, can_exec_cron = 1, notes = 'reused', updated = NOW(), created = NOW()",
      [REUSED],
    );
    expect((await create()).status).toBe(201);
  });

  it("runs a request once more with a new token when a service refuses the reused one but the key passes", async () => {
    expect((await create()).status).toBe(201);
    const created = gw.upstreams.created.length;
    const checks = gw.upstreams.keyChecks;
    // osTicket compares keys case-insensitively, so the key still passes; the token names the row as it was.
    await change("apikey = LOWER(apikey)");
    try {
      expect((await create()).status).toBe(201);
      expect(gw.upstreams.created.length).toBe(created + 1);
      expect(gw.upstreams.keyChecks).toBe(checks + 1);
      expect((await create()).status).toBe(201);
      expect(gw.upstreams.keyChecks).toBe(checks + 1);
    } finally {
      await conn.query("UPDATE ost_api_key SET apikey = ? WHERE apikey = ?", [REUSED, REUSED.toLowerCase()]);
    }
  });
});

describe("JSON bodies", () => {
  it.each([
    ["malformed", '{"email": ', "Syntax error, malformed JSON"],
    ["empty", "", "Syntax error, malformed JSON"],
    ["a BOM", "\uFEFF{}", "Syntax error, malformed JSON"],
    ["{}", "{}", "No errors"],
    ["a string scalar", '"hello"', "No errors"],
    ["[]", "[]", "No errors"],
    ["a number", "42", "No errors"],
    ["a control character", '{"a":"x\u0001y"}', "Unexpected control character found"],
  ])("%s → 400 with json_last_error's text, logged", async (_name, body, text) => {
    const res = await post("/api/tickets.json", body, { headers: { "content-type": "text/plain" } });
    expect(res).toMatchObject({ status: 400, body: text, rows: [warning(400, text)] });
  });

  it("invalid UTF-8 → 400 Malformed UTF-8 characters", async () => {
    const res = await post(
      "/api/tickets.json",
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
    );
    expect(res.body).toBe("Malformed UTF-8 characters, possibly incorrectly encoded");
  });

  it("a non-empty array is data: one Unexpected Data row per index, then the validation 500", async () => {
    const res = await post("/api/tickets.json", "[1,2]");
    const text =
      "Unable to create new ticket :user\nIncomplete client information\n20\nIssue Summary is a required field\n21\nIssue Details is a required field";
    expect(res.status).toBe(500);
    expect(res.body).toBe(text);
    expect(res.rows).toEqual([
      {
        log_type: "Error",
        title: "Unexpected Data (400)",
        log: `0: Unexpected data received in API request [${masked(KEY)}] `,
        logger: "",
        ip_address: "127.0.0.1",
      },
      {
        log_type: "Error",
        title: "Unexpected Data (400)",
        log: `1: Unexpected data received in API request [${masked(KEY)}] `,
        logger: "",
        ip_address: "127.0.0.1",
      },
      warning(500, text),
    ]);
  });

  it("unknown keys are logged (top-level name only) and the ticket is still created", async () => {
    const res = await post("/api/tickets.json", valid({ bogus: { x: 1 }, deptId: 2 }));
    expect(res.status).toBe(201);
    expect(res.rows.map((r) => [r.log_type, r.title, r.log])).toEqual([
      ["Error", "Unexpected Data (400)", `bogus: Unexpected data received in API request [${masked(KEY)}] `],
      ["Error", "Unexpected Data (400)", `deptId: Unexpected data received in API request [${masked(KEY)}] `],
    ]);
    expect(gw.upstreams.created.at(-1)?.deptId).toBe(2);
  });

  it('a list or object as name or ip is PHP\'s string cast, "Array", and an empty one is empty', async () => {
    expect((await post("/api/tickets.json", valid({ name: ["x"], ip: { a: 1 } }))).status).toBe(201);
    expect(gw.upstreams.created.at(-1)?.requester?.name).toBe("Array");
    expect(gw.upstreams.created.at(-1)?.ipAddress).toBe("Array");
    const empty = await post("/api/tickets.json", valid({ name: {} }));
    expect(empty).toMatchObject({
      status: 500,
      body: "Unable to create new ticket :user\nIncomplete client information",
    });
  });

  it("tells the ticket service whether the request carried a message key, whatever its value", async () => {
    for (const message of ["", null, "data:,", "data:text/plain;base64,@@@"]) {
      expect((await post("/api/tickets.json", valid({ message }))).status).toBe(201);
      expect(gw.upstreams.created.at(-1)?.legacy?.messageSent).toBe(true);
    }
    const xml = "<ticket><email>x@example.com</email><name>X</name><subject>S</subject><message/></ticket>";
    expect((await post("/api/tickets.xml", xml)).status).toBe(201);
    expect(gw.upstreams.created.at(-1)?.legacy?.messageSent).toBe(true);
    const { message: _omitted, ...rest } = JSON.parse(valid()) as Record<string, unknown>;
    await post("/api/tickets.json", JSON.stringify(rest));
    expect(gw.upstreams.created.at(-1)?.legacy?.messageSent).toBe(false);
  });

  it("system_emails: a scalar entry is logged as unexpected (its index), a nested one is not", async () => {
    const res = await post("/api/tickets.json", valid({ system_emails: ["a@example.com", { to: "b" }] }));
    expect(res.status).toBe(201);
    expect(res.rows.map((r) => [r.log_type, r.title, r.log])).toEqual([
      [
        "Error",
        "Unexpected Data (400)",
        `system_emails/0: Unexpected data received in API request [${masked(KEY)}] `,
      ],
    ]);
  });

  it("a multipart/form-data body is the empty body osTicket reads from php://input", async () => {
    const before = gw.upstreams.created.length;
    const res = await post("/api/tickets.json", valid(), {
      headers: { "content-type": "Multipart/Form-Data; boundary=x" },
    });
    expect(res).toMatchObject({ status: 400, body: "Syntax error, malformed JSON" });
    expect(res.rows).toEqual([warning(400, "Syntax error, malformed JSON")]);
    expect(gw.upstreams.created).toHaveLength(before);
    // Any other type leaves the body to osTicket's parser, as PHP does.
    const plain = await post("/api/tickets.json", valid(), {
      headers: { "content-type": "multipart/mixed" },
    });
    expect(plain.status).toBe(201);
  });

  it("an undocumented cannedResponseId is logged as unexpected and still passed on, as Ticket::create honours it", async () => {
    const res = await post("/api/tickets.json", valid({ cannedResponseId: "2" }));
    expect(res.status).toBe(201);
    expect(res.rows.map((r) => [r.log_type, r.title, r.log])).toEqual([
      [
        "Error",
        "Unexpected Data (400)",
        `cannedResponseId: Unexpected data received in API request [${masked(KEY)}] `,
      ],
    ]);
    expect(gw.upstreams.created.at(-1)?.cannedResponseId).toBe(2);
  });

  it("validation failure → 500 Unable to create new ticket : + the error map", async () => {
    const res = await post(
      "/api/tickets.json",
      JSON.stringify({ email: "jane@example.com", name: "Jane", message: "x" }),
    );
    const text = "Unable to create new ticket :20\nIssue Summary is a required field";
    expect(res).toMatchObject({ status: 500, body: text, rows: [warning(500, text)] });
  });

  it("an invalid origin → 500 with osTicket's origin error", async () => {
    const res = await post("/api/tickets.json", valid({ source: "Phone" }));
    expect(res.body).toBe(
      "Unable to create new ticket :origin\nInvalid ticket origin given\nerr\nNo fields set up",
    );
    expect(res.status).toBe(500);
    expect(gw.upstreams.created.at(-1)?.legacy?.source).toBe("Phone");
  });

  it("a banned requester → 403 Ticket denied, logged as API Error (403) (exerr drops the title it is given)", async () => {
    const res = await post("/api/tickets.json", valid({ email: "spam@banned.example" }));
    const text =
      "Unable to create new ticket :Ticket denied: spam@banned.example\n\nThis help desk is for use by authorized users only";
    expect(res).toMatchObject({ status: 403, body: text, rows: [warning(403, text, KEY)] });
  });

  it("attachments given as an object (osTicket crashes) → a clear 400, nothing written", async () => {
    const created = gw.upstreams.created.length;
    const res = await post("/api/tickets.json", valid({ attachments: { "file.txt": "data:text/plain,hi" } }));
    expect(res.status).toBe(400);
    expect(res.body).toContain('"attachments" must be a list');
    expect(res.rows).toEqual([]);
    expect(gw.upstreams.created.length).toBe(created);
  });
});

describe("what the ticket service is asked (osTicket's request semantics)", () => {
  const last = () => {
    const req = gw.upstreams.created.at(-1);
    if (!req) throw new Error("nothing created");
    return req;
  };

  it.each([
    ["data:text/html,<p>héllo</p>", "<p>hÃ©llo</p>", MessageFormat.HTML],
    ["data:text/html;charset=utf-8,<p>Héllo <b>w</b></p>", "<p>Héllo <b>w</b></p>", MessageFormat.HTML],
    ["data:text/plain;base64,SGVsbG8gd29ybGQ=", "Hello world", MessageFormat.TEXT],
    ["data:text/plain;charset=utf-8;base64,SGVsbG8=", "SGVsbG8=", MessageFormat.TEXT],
    ["plain héllo", "plain héllo", MessageFormat.TEXT],
    ["data:TEXT/HTML,<p>x</p>", "<p>x</p>", MessageFormat.TEXT],
  ])("message %j → %j", async (message, body, format) => {
    expect((await post("/api/tickets.json", valid({ message }))).status).toBe(201);
    expect(last().message).toBe(body);
    expect(last().messageFormat).toBe(format);
  });

  it("attachments: data URLs, raw strings as text/plain, lenient base64, charset conversion", async () => {
    const res = await post(
      "/api/tickets.json",
      valid({
        attachments: [
          { "a.txt": "data:text/plain;base64,SGVsbG8=" },
          { "raw.txt": "just text" },
          { "bad.bin": "data:application/octet-stream;base64,!!!notbase64" },
          { "latin.txt": "data:text/plain;charset=iso-8859-1,é" },
        ],
      }),
    );
    expect(res.status).toBe(201);
    const files = last().attachments.map((a) => (a.source.case === "file" ? a.source.value : undefined));
    expect(files.map((f) => [f?.name, f?.type, Buffer.from(f?.data ?? []).toString("latin1")])).toEqual([
      ["a.txt", "text/plain", "Hello"],
      ["raw.txt", "text/plain", "just text"],
      [
        "bad.bin",
        "application/octet-stream",
        Buffer.from("notbase64", "base64").toString("latin1").slice(0, 6),
      ],
      ["latin.txt", "text/plain", Buffer.from("Ã©", "utf8").toString("latin1")],
    ]);
    expect(files[2]?.data.length).toBe(6);
  });

  it('alert/autorespond use PHP\'s (bool): the string "false" is true', async () => {
    await post("/api/tickets.json", valid({ alert: "false", autorespond: 0 }));
    expect([last().alert, last().autorespond]).toEqual([true, false]);
    await post("/api/tickets.json", valid({ alert: false, autorespond: "" }));
    expect([last().alert, last().autorespond]).toEqual([false, false]);
    await post("/api/tickets.json", valid());
    expect([last().alert, last().autorespond]).toEqual([true, true]);
  });

  it("raw topicId, priority, priorityId, source, ip and phone reach the service as sent", async () => {
    await post(
      "/api/tickets.json",
      valid({
        topicId: "999",
        priority: "High",
        priorityId: "Emergency",
        ip: "not-an-ip",
        phone: "555-123-4567 x12",
        notes: "vip",
      }),
    );
    const req = last();
    expect(req.legacy).toMatchObject({
      topicId: "999",
      priority: "High",
      priorityId: "Emergency",
      source: "API",
    });
    expect(req.ipAddress).toBe("not-an-ip");
    expect(req.requester).toMatchObject({
      email: "jane@example.com",
      name: "Jane Doe",
      phone: "555-123-4567 X12",
      notes: "vip",
    });
    await post("/api/tickets.json", valid({ priority: 3 }));
    expect(last().legacy?.priority).toBe("3");
    expect(last().ipAddress).toBe("127.0.0.1");
  });
});

describe("custom form fields", () => {
  it("a form field's variable name is an answer, not unexpected data", async () => {
    const res = await post("/api/tickets.json", valid({ company: "ACME", other: "x" }));
    expect(res.status).toBe(201);
    expect(res.rows.map((r) => r.log)).toEqual([
      `other: Unexpected data received in API request [${masked(KEY)}] `,
    ]);
    expect(gw.upstreams.created.at(-1)?.answers).toEqual({ company: "ACME" });
  });

  it("an answer sent as other than a string also travels as the value PHP holds (typed_answers)", async () => {
    const res = await post("/api/tickets.json", valid({ company: { b: "a", a: [1.5, true, null] } }));
    expect(res.status).toBe(201);
    const sent = gw.upstreams.created.at(-1);
    expect(sent?.answers).toEqual({ company: '{"b":"a","a":{"0":1.5,"1":true,"2":null}}' });
    // In the order sent, floats tagged: choice and list fields read it by type.
    expect(JSON.parse(sent?.legacy?.typedAnswers.company ?? "null")).toEqual({
      array: [
        ["b", "a"],
        [
          "a",
          {
            array: [
              ["0", { float: 1.5 }],
              ["1", true],
              ["2", null],
            ],
          },
        ],
      ],
    });
    await post("/api/tickets.json", valid({ company: 7 }));
    expect(gw.upstreams.created.at(-1)?.legacy?.typedAnswers).toEqual({ company: "7" });
    await post("/api/tickets.json", valid({ company: "text" }));
    expect(gw.upstreams.created.at(-1)?.legacy?.typedAnswers).toEqual({});
  });

  it("passes duedate as sent for Ticket::create's checks (a PHP-falsy one is none)", async () => {
    await post("/api/tickets.json", valid({ duedate: "2099-01-01" }));
    expect(gw.upstreams.created.at(-1)?.legacy?.dueDate).toBe("2099-01-01");
    await post("/api/tickets.json", valid({ duedate: "0" }));
    expect(gw.upstreams.created.at(-1)?.legacy?.dueDate).toBe("");
  });
});

describe("XML bodies", () => {
  it("creates from attributes and elements: html message, phone ext, base64 attachments decoded twice", async () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ticket alert="false" autorespond="true" source="API">
  <email>xml@example.com</email>
  <name>Xavier</name>
  <subject>From XML</subject>
  <phone ext="123">318-555-8634</phone>
  <message type="text/html"><![CDATA[<p>Hi <b>there</b></p>]]></message>
  <attachments>
    <file name="hello.txt" type="text/plain" encoding="base64">SGVsbG8=</file>
  </attachments>
</ticket>`;
    const res = await post("/api/tickets.xml", xml, { headers: { "content-type": "application/json" } });
    expect(res).toMatchObject({ status: 201, rows: [] });
    const req = gw.upstreams.created.at(-1);
    expect(req?.requester).toMatchObject({ email: "xml@example.com", name: "Xavier", phone: "318-555-8634" });
    expect(req?.message).toBe("<p>Hi <b>there</b></p>");
    expect(req?.messageFormat).toBe(MessageFormat.HTML);
    expect(req?.alert).toBe(false);
    const file = req?.attachments[0]?.source;
    expect(file?.case).toBe("file");
    if (file?.case === "file") {
      expect([...file.value.data]).toEqual([0x1d, 0xe9, 0x65]);
      expect(file.value.legacySize).toBe(5n);
    }
  });

  it("JSON posted to tickets.xml → 400 XML error: Not well-formed (invalid token) at line 1:1", async () => {
    const res = await post("/api/tickets.xml", valid());
    const text = "XML error: Not well-formed (invalid token) at line 1:1";
    expect(res).toMatchObject({ status: 400, body: text, rows: [warning(400, text)] });
  });

  it("a mismatched tag → 400 XML error with line and column", async () => {
    const res = await post("/api/tickets.xml", "<ticket>\n<name>x</nam></ticket>");
    expect(res.status).toBe(400);
    expect(res.body).toMatch(/^XML error: Mismatched tag at line 2:\d+$/);
  });

  it("a truncated document is not a parse error: it falls through to validation", async () => {
    const res = await post("/api/tickets.xml", "<ticket><name>x</name>");
    expect(res.status).toBe(500);
    expect(res.body).toBe(
      "Unable to create new ticket :user\nIncomplete client information\n20\nIssue Summary is a required field\n21\nIssue Details is a required field",
    );
  });

  it("an empty document → 400 XML error: No error", async () => {
    const res = await post("/api/tickets.xml", "");
    expect(res.status).toBe(400);
    expect(res.body).toMatch(/^XML error: No error at line 1:1$/);
  });
});

describe("e-mail and cron", () => {
  it("tickets.email hands the raw message to the ticket service and answers its number", async () => {
    const raw =
      "From: A <a@example.com>\r\nTo: support@example.com\r\nSubject: Hi\r\nMessage-ID: <m1@example.com>\r\n\r\nBody\r\n";
    const res = await post("/api/tickets.email", raw);
    expect(res).toMatchObject({ status: 201, body: "654321", rows: [] });
    const email = gw.upstreams.emails.at(-1);
    expect(Buffer.from(email?.rawMessage ?? []).toString("utf8")).toBe(raw);
    expect(email?.ipAddress).toBe("127.0.0.1");
    expect(email?.legacy).toBe(true);
  });

  it("tasks/cron → 200 Completed, asking for the Debug row; a key without can_exec_cron → 401 API key not authorized", async () => {
    const runs = gw.upstreams.cronRuns;
    const res = await post("/api/tasks/cron", undefined);
    // The stand-in writes every row it is given; the ticket service keeps it only at log level 3.
    const debug = {
      log_type: "Debug",
      title: "Cron Job",
      log: "Cron job executed [127.0.0.1]",
      logger: "",
      ip_address: "127.0.0.1",
    };
    expect(res).toMatchObject({ status: 200, body: "Completed", rows: [debug] });
    expect(gw.upstreams.cronRuns).toBe(runs + 1);
    const denied = await post("/api/tasks/cron", undefined, { key: NO_CRON });
    expect(denied).toMatchObject({
      status: 401,
      body: "API key not authorized",
      rows: [warning(401, "API key not authorized", NO_CRON)],
    });
  });
});

describe("edge limits and client addresses", () => {
  it("a body over GATEWAY_LEGACY_MAX_BODY → 413, not logged", async () => {
    const res = await post("/api/tickets.json", valid({ message: "x".repeat(70 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.contentType).toBe("text/html; charset=UTF-8");
    expect(res.rows).toEqual([]);
  });

  it("rate limits per key: 429 with Retry-After", async () => {
    const limited = await startTestGateway(db.url, { GATEWAY_RATE_LIMIT: "0.01", GATEWAY_RATE_BURST: "2" });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${limited.httpUrl}/api/tasks/cron`, {
          method: "POST",
          headers: { "x-api-key": KEY },
        });
        statuses.push(res.status);
        if (res.status === 429) retryAfter = res.headers.get("retry-after");
        await res.text();
      }
      expect(statuses).toEqual([200, 200, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.close();
    }
  });

  it("believes X-Forwarded-For only from a trusted proxy", async () => {
    const spoofed = await post("/api/tasks/cron", undefined, {
      key: PROXIED,
      headers: { "x-forwarded-for": "203.0.113.7" },
    });
    expect(spoofed.status).toBe(401);
    expect(spoofed.rows[0]?.ip_address).toBe("127.0.0.1");
    const proxied = await startTestGateway(db.url, { GATEWAY_TRUSTED_PROXIES: "127.0.0.1" });
    try {
      const res = await post("/api/tasks/cron", undefined, {
        key: PROXIED,
        base: proxied.httpUrl,
        headers: { "x-forwarded-for": "203.0.113.7, 127.0.0.1" },
      });
      expect(res).toMatchObject({ status: 200, body: "Completed" });
    } finally {
      await proxied.close();
    }
  });
});

describe("failures around the request", () => {
  it("a ticket service failure → 500 Unable to create new ticket :unknown error, logged", async () => {
    const res = await post("/api/tickets.json", valid({ email: "boom@example.com" }));
    const text = "Unable to create new ticket :unknown error";
    expect(res).toMatchObject({ status: 500, body: text, rows: [warning(500, text)] });
  });

  it("the answer is still sent when ost_syslog cannot be written", async () => {
    const res = await post("/api/tickets.json", valid({ failsyslog: 1 }));
    expect(res.status).toBe(201);
    expect(res.rows).toEqual([]);
    expect(gw.logs.entries().some((e) => e.msg === "could not write ost_syslog rows")).toBe(true);
  });

  it("identity unreachable or the gateway's secret refused → 500 unknown error (tickets and cron)", async () => {
    const cases: Record<string, string>[] = [
      { IDENTITY_URL: "http://127.0.0.1:1" },
      { GATEWAY_SERVICE_SECRET: "wrong-secret" },
    ];
    for (const env of cases) {
      const broken = await startTestGateway(db.url, env);
      try {
        const created = await post("/api/tickets.json", valid(), { base: broken.httpUrl });
        expect(created).toMatchObject({ status: 500, body: "Unable to create new ticket :unknown error" });
        const cron = await post("/api/tasks/cron", undefined, { base: broken.httpUrl });
        // Without a service token the ost_syslog row cannot be written either; the process log says so.
        expect(cron).toMatchObject({ status: 500, body: "unknown error", rows: [] });
        expect(broken.logs.entries().some((e) => e.msg === "could not write ost_syslog rows")).toBe(true);
      } finally {
        await broken.close();
      }
    }
  });

  it("e-mail the ticket service cannot parse → 400 with its text; a banned sender → 403", async () => {
    const bad = await post("/api/tickets.email", "not an e-mail");
    expect(bad).toMatchObject({ status: 400, body: "Email parse failed: [no body]" });
    expect(bad.rows).toEqual([warning(400, "Email parse failed: [no body]")]);
    const denied = await post("/api/tickets.email", "From: spam@banned.example\r\nSubject: x\r\n\r\nhi");
    expect(denied.status).toBe(403);
    expect(denied.body).toBe(
      "Unable to create new ticket :Ticket denied: spam@banned.example\n\nThis help desk is for use by authorized users only",
    );
  });
});

describe("inputs osTicket crashes or chokes on", () => {
  it.each([
    ["a message given as an object", valid({ message: { a: 1 } }), '"message" must be a string'],
    [
      "an attachment that is not an object",
      valid({ attachments: ["data:text/plain,x"] }),
      '"attachments" must be a list',
    ],
    [
      "an attachment mapping to an object",
      valid({ attachments: [{ "a.txt": { x: 1 } }] }),
      "each attachment",
    ],
    ["a subject given as a list", valid({ subject: ["x"] }), '"subject" must be a single value'],
    ["an empty list as subject", valid({ subject: [] }), '"subject" must be a single value'],
    ["notes given as an object", valid({ notes: { a: 1 } }), '"notes" must be a single value'],
    ["a source given as a list", valid({ source: [] }), '"source" must be a single value'],
    ["a topicId given as an object", valid({ topicId: { a: 1 } }), '"topicId" must be a single value'],
    ["an emailId given as a list", valid({ emailId: [1] }), '"emailId" must be a single value'],
    ["a statusId given as a list", valid({ statusId: ["x"] }), '"statusId" must be a single value'],
    ["a staffId given as an object", valid({ staffId: { a: 1 } }), '"staffId" must be a single value'],
    ["a teamId given as a list", valid({ teamId: [1] }), '"teamId" must be a single value'],
    ["a cannedResponseId given as a list", valid({ cannedResponseId: [1] }), '"cannedResponseId" must be'],
    ["ccs given as a string", valid({ ccs: "cc@example.com" }), '"ccs" must be a list of e-mail addresses'],
    ["ccs given as false", valid({ ccs: false }), '"ccs" must be a list of e-mail addresses'],
  ])("%s → 400 with a clear text, nothing written", async (_name, body, text) => {
    const before = gw.upstreams.created.length;
    const res = await post("/api/tickets.json", body);
    expect(res.status).toBe(400);
    expect(res.body).toContain(text);
    expect(res.rows).toEqual([]);
    expect(gw.upstreams.created).toHaveLength(before);
  });

  it("an empty list where osTicket skips it (statusId: []) is no crash: the ticket is created", async () => {
    const before = gw.upstreams.created.length;
    expect((await post("/api/tickets.json", valid({ statusId: [], staffId: [] }))).status).toBe(201);
    expect(gw.upstreams.created).toHaveLength(before + 1);
  });

  it("an XML <subject> with nested elements → 400 with a clear text, nothing written", async () => {
    const before = gw.upstreams.created.length;
    const res = await post(
      "/api/tickets.xml",
      "<ticket><email>a@example.com</email><name>A</name><subject><a>1</a></subject><message>m</message></ticket>",
    );
    expect(res).toMatchObject({ status: 400, rows: [] });
    expect(res.body).toContain('"subject" must be a single value');
    expect(gw.upstreams.created).toHaveLength(before);
  });

  it("an XML <file> without attributes → 400 with a clear text, nothing written", async () => {
    const res = await post(
      "/api/tickets.xml",
      "<ticket><email>a@example.com</email><attachments><file>SGVsbG8=</file><file>eA==</file></attachments></ticket>",
    );
    expect(res.status).toBe(400);
    expect(res.body).toContain("<file>");
    expect(res.rows).toEqual([]);
  });

  it("too deep JSON → Maximum stack depth exceeded; a lone surrogate → Unknown error", async () => {
    const deep = await post("/api/tickets.json", `${"[".repeat(513)}${"]".repeat(513)}`);
    expect(deep).toMatchObject({ status: 400, body: "Maximum stack depth exceeded" });
    const ok = await post("/api/tickets.json", `${"[".repeat(512)}${"]".repeat(512)}`);
    expect(ok.status).toBe(500);
    const surrogate = await post("/api/tickets.json", '{"a":"\\ud800"}');
    expect(surrogate).toMatchObject({ status: 400, body: "Unknown error" });
  });

  it("XML: alert as an element, message encoding, poorly encoded base64 files sent without bytes, size attribute kept", async () => {
    const xml =
      "<ticket><email>x@example.com</email><name>X</name><subject>S</subject><alert>FALSE</alert>" +
      '<message type="text/plain" encoding="iso-8859-1">é</message>' +
      '<attachments><file name="bad.txt" encoding="base64">***</file>' +
      '<file name="sized.txt" encoding="BASE64" size="99">SGVsbG8=</file></attachments></ticket>';
    expect((await post("/api/tickets.xml", xml)).status).toBe(201);
    const req = gw.upstreams.created.at(-1);
    expect(req?.alert).toBe(false);
    expect(req?.message).toBe("Ã©");
    const files = req?.attachments.map((a) => (a.source.case === "file" ? a.source.value : undefined)) ?? [];
    expect(files.map((f) => f?.name)).toEqual(["bad.txt", "sized.txt"]);
    // osTicket uploads the undecodable file with no bytes, which its storage refuses ("Unable to save file").
    expect(files[0]?.data).toHaveLength(0);
    // "BASE64" is decoded once (osTicket's second decode only matches lower case); size as given.
    expect(Buffer.from(files[1]?.data ?? []).toString()).toBe("Hello");
    expect(files[1]?.legacySize).toBe(99n);
  });
});
