/**
 * The legacy API end to end with the REAL services: identity, ticket and attachment services (their own
 * register functions, ORM, migrations, outbox, the kit auth interceptor) in one kit process on a scratch copy
 * of the fresh osTicket install, the gateway in front as in production. Each case checks the answer and the
 * rows osTicket's tables end up with.
 */

import { Code, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { IdentityService, TicketService } from "@ostmesh/proto";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import type mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY, type RealMesh, startRealMesh } from "./testing/real-mesh.ts";

let mesh: RealMesh;
const rows: RealMesh["rows"] = (sql, params) => mesh.rows(sql, params);
const post: RealMesh["post"] = (path, body, key) => mesh.post(path, body, key);
const ticketByNumber: RealMesh["ticketByNumber"] = (number) => mesh.ticketByNumber(number);
const firstEntry: RealMesh["firstEntry"] = (ticketId) => mesh.firstEntry(ticketId);
const lastLogId: RealMesh["lastLogId"] = () => mesh.lastLogId();

beforeAll(async () => {
  mesh = await startRealMesh({
    label: "gwmesh",
    prepare: async (conn) => {
      await conn.query(
        "INSERT INTO ost_filter_rule SET filter_id = 1, what = 'email', how = 'equal', val = 'banned@example.com', isactive = 1, notes = '', created = NOW(), updated = NOW()",
      );
      // A ticket filter rejecting API tickets whose message matches /viagra/i.
      await conn.query(
        "INSERT INTO ost_filter SET id = 2, execorder = 1, isactive = 1, target = 'API', name = 'No spam', notes = '', created = NOW(), updated = NOW()",
      );
      await conn.query(
        "INSERT INTO ost_filter_rule SET filter_id = 2, what = 'body', how = 'match', val = '/viagra/i', isactive = 1, notes = '', created = NOW(), updated = NOW()",
      );
      await conn.query(
        "INSERT INTO ost_filter_action SET filter_id = 2, sort = 1, type = 'reject', configuration = '[]', updated = NOW()",
      );
      // An agent-only field on the ticket form (enabled, not visible to end users): only the agent view of the
      // forms, which the gateway's service token reads, knows it.
      await conn.query(
        "INSERT INTO ost_form_field SET form_id = (SELECT id FROM ost_form WHERE type = 'T' ORDER BY id LIMIT 1), flags = 1, type = 'text', label = 'Internal reference', name = 'internal_ref', configuration = '{}', sort = 50, created = NOW(), updated = NOW()",
      );
    },
  });
}, 120_000);

afterAll(async () => {
  await mesh?.close();
});

describe("tickets.json with the real services", () => {
  it("creates a ticket for a new user: 201 + number, and osTicket's rows", async () => {
    const res = await post(
      "/api/tickets.json",
      JSON.stringify({
        email: "new.user@example.com",
        name: "Doe, John",
        subject: "Printer on fire",
        message: "data:text/html;charset=utf-8,<p>Héllo <b>w</b><script>x()</script></p>",
        phone: "318-555-8634",
        alert: false,
      }),
    );
    expect(res.status).toBe(201);
    expect(res.contentType).toBe("text/html; charset=UTF-8");
    expect(res.body).toMatch(/^\d{6}$/);
    const ticket = await ticketByNumber(res.body);
    expect(ticket).toMatchObject({ source: "API", ip_address: "127.0.0.1", status_id: 1 });
    const [user] = await rows(
      "SELECT u.name, e.address FROM ost_user u JOIN ost_user_email e ON e.id = u.default_email_id WHERE u.id = ?",
      [ticket.user_id],
    );
    expect(user).toMatchObject({ name: "John Doe", address: "new.user@example.com" });
    const entry = await firstEntry(ticket.ticket_id);
    expect(entry).toMatchObject({
      title: "Printer on fire",
      format: "html",
      body: "<p>Héllo <b>w</b></p>",
      poster: "John Doe",
      flags: 65,
      source: "API",
    });
    const [cdata] = await rows("SELECT subject FROM ost_ticket__cdata WHERE ticket_id = ?", [
      ticket.ticket_id,
    ]);
    expect(cdata?.subject).toBe("Printer on fire");
  });

  it('an ip given empty or "0": the ticket takes the client\'s address, the message keeps the ip as sent', async () => {
    for (const ip of ["", "0", "198.51.100.7"]) {
      const res = await post(
        "/api/tickets.json",
        JSON.stringify({ email: "ip.check@example.com", name: "Ip Check", subject: "ip", message: "m", ip }),
      );
      expect(res.status).toBe(201);
      const ticket = await ticketByNumber(res.body);
      const entry = await firstEntry(ticket.ticket_id);
      expect({ ip, ticket: ticket.ip_address, entry: entry.ip_address }).toEqual({
        ip,
        ticket: ip === "198.51.100.7" ? ip : "127.0.0.1",
        entry: ip,
      });
    }
  });

  it("reuses an existing user (name ignored) and applies priority and the ISO-8859-1 data-URL reading", async () => {
    const res = await post(
      "/api/tickets.json",
      JSON.stringify({
        email: "NEW.USER@example.com",
        name: "Someone Else",
        subject: "Again",
        message: "data:text/plain,héllo",
        priority: 3,
      }),
    );
    expect(res.status).toBe(201);
    const ticket = await ticketByNumber(res.body);
    const entry = await firstEntry(ticket.ticket_id);
    // ISO-8859-1 reading: é (C3 A9) becomes "Ã©"; osTicket's strip_emoticons then removes U+00A9 ("©").
    expect(entry).toMatchObject({ poster: "John Doe", format: "text", body: "hÃllo" });
    const [cdata] = await rows("SELECT priority FROM ost_ticket__cdata WHERE ticket_id = ?", [
      ticket.ticket_id,
    ]);
    expect(cdata?.priority).toBe("3");
  });

  it("stores JSON attachments (data URL, leniently decoded base64)", async () => {
    const res = await post(
      "/api/tickets.json",
      JSON.stringify({
        email: "files@example.com",
        name: "Files",
        subject: "With files",
        message: "see attached",
        attachments: [
          { "hello.txt": "data:text/plain;base64,SGVsbG8gd29ybGQ=" },
          { "bad.bin": "data:application/octet-stream;base64,!!!notbase64" },
        ],
      }),
    );
    expect(res.status).toBe(201);
    const ticket = await ticketByNumber(res.body);
    const entry = await firstEntry(ticket.ticket_id);
    const files = await rows(
      "SELECT a.name AS attached_as, f.name, f.size, f.type FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.object_id = ? AND a.type = 'H' ORDER BY a.id",
      [entry.id],
    );
    expect(files.map((f) => [f.name, Number(f.size)])).toEqual([
      ["hello.txt", 11],
      ["bad.bin", 6],
    ]);
  });

  it("stores XML base64 attachments decoded twice, with the once-decoded size", async () => {
    const xml =
      '<?xml version="1.0"?><ticket><email>xml@example.com</email><name>Xml</name><subject>XML</subject>' +
      '<message type="text/html"><![CDATA[<p>hi</p>]]></message>' +
      '<attachments><file name="twice.txt" type="text/plain" encoding="base64">SGVsbG8=</file></attachments></ticket>';
    const res = await post("/api/tickets.xml", xml);
    expect(res.status).toBe(201);
    const ticket = await ticketByNumber(res.body);
    const entry = await firstEntry(ticket.ticket_id);
    expect(entry.format).toBe("html");
    const [file] = await rows(
      "SELECT f.size, HEX(c.filedata) AS bytes FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id JOIN ost_file_chunk c ON c.file_id = f.id WHERE a.object_id = ?",
      [entry.id],
    );
    expect(Number(file?.size)).toBe(5);
    expect(file?.bytes).toBe("1DE965");
  });

  it("stores a file whose content contradicts its declared type with that type, as osTicket does", async () => {
    // A 1x1 PNG sent as a data URL without a media type, which means text/plain.
    const png =
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    const otherPng = Buffer.concat([Buffer.from(png, "base64"), Buffer.from("2")]).toString("base64");
    const res = await post(
      "/api/tickets.json",
      JSON.stringify({
        email: "typed@example.com",
        name: "Typed",
        subject: "Scan",
        message: "see scan",
        attachments: [
          { "scan.png": `data:;base64,${png}` },
          // Other bytes: the same bytes twice would be one file and one attachment row.
          { "photo.jpg": `data:image/jpeg;base64,${otherPng}` },
        ],
      }),
    );
    expect(res.status).toBe(201);
    const ticket = await ticketByNumber(res.body);
    const entry = await firstEntry(ticket.ticket_id);
    const files = await rows(
      "SELECT f.name, f.type FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.object_id = ? AND a.type = 'H' ORDER BY a.id",
      [entry.id],
    );
    expect(files).toEqual([
      { name: "scan.png", type: "text/plain" },
      { name: "photo.jpg", type: "image/jpeg" },
    ]);
  });

  it("files osTicket cannot store (poorly encoded base64, empty): 201 and a File Import Error note each", async () => {
    const xml =
      '<?xml version="1.0"?><ticket><email>import@example.com</email><name>Import</name><subject>Files</subject>' +
      "<message>see attached</message><attachments>" +
      '<file name="bad.txt" type="text/plain" encoding="base64">***</file>' +
      '<file name="empty.txt" type="text/plain"></file>' +
      '<file name="good.txt" type="text/plain">fine</file></attachments></ticket>';
    const res = await post("/api/tickets.xml", xml);
    expect(res.status).toBe(201);
    const ticket = await ticketByNumber(res.body);
    const notes = await rows(
      "SELECT e.body FROM ost_thread_entry e JOIN ost_thread t ON t.id = e.thread_id" +
        " WHERE t.object_type = 'T' AND t.object_id = ? AND e.type = 'N' AND e.title = 'File Import Error' ORDER BY e.id",
      [ticket.ticket_id],
    );
    expect(notes.map((n) => n.body)).toEqual([
      "bad.txt: Unable to save file",
      "empty.txt: Unable to save file",
    ]);
    const entry = await firstEntry(ticket.ticket_id);
    const files = await rows(
      "SELECT f.name FROM ost_attachment a JOIN ost_file f ON f.id = a.file_id WHERE a.object_id = ? AND a.type = 'H'",
      [entry.id],
    );
    expect(files).toEqual([{ name: "good.txt" }]);
  });

  it("validation failures: osTicket's bodies, and their ost_syslog rows", async () => {
    const before = await lastLogId();
    const missing = await post(
      "/api/tickets.json",
      JSON.stringify({ email: "v@example.com", name: "V", message: "x" }),
    );
    expect(missing).toMatchObject({
      status: 500,
      body: "Unable to create new ticket :20\nIssue Summary is a required field",
    });
    const origin = await post(
      "/api/tickets.json",
      JSON.stringify({ email: "v@example.com", name: "V", subject: "s", message: "m", source: "Phone" }),
    );
    expect(origin).toMatchObject({
      status: 500,
      body: "Unable to create new ticket :origin\nInvalid ticket origin given\nerr\nNo fields set up",
    });
    // `??=` keeps a source sent empty or false: an invalid origin too; a null one becomes API.
    for (const source of ["", false]) {
      const empty = await post(
        "/api/tickets.json",
        JSON.stringify({ email: "v@example.com", name: "V", subject: "s", message: "m", source }),
      );
      expect({ source, ...empty }).toMatchObject({
        source,
        status: 500,
        body: "Unable to create new ticket :origin\nInvalid ticket origin given\nerr\nNo fields set up",
      });
    }
    const nullSource = await post(
      "/api/tickets.json",
      JSON.stringify({ email: "v@example.com", name: "V", subject: "s", message: "m", source: null }),
    );
    expect(nullSource.status).toBe(201);
    const list = await post("/api/tickets.json", "[1,2]");
    expect(list).toMatchObject({
      status: 500,
      body: "Unable to create new ticket :user\nIncomplete client information\n20\nIssue Summary is a required field\n21\nIssue Details is a required field",
    });
    const logged = await rows(
      "SELECT log_type, title, log FROM ost_syslog WHERE log_id > ? ORDER BY log_id",
      [before],
    );
    const masked = `[${KEY.slice(0, 4)}********${KEY.slice(-4)}] `;
    expect(logged.map((r) => [r.log_type, r.title, r.log])).toEqual([
      [
        "Warning",
        "API Error (500)",
        `Unable to create new ticket :20 Issue Summary is a required field ${masked}`,
      ],
      ...Array.from({ length: 3 }, () => [
        "Warning",
        "API Error (500)",
        `Unable to create new ticket :origin Invalid ticket origin given err No fields set up ${masked}`,
      ]),
      ["Error", "Unexpected Data (400)", `0: Unexpected data received in API request ${masked}`],
      ["Error", "Unexpected Data (400)", `1: Unexpected data received in API request ${masked}`],
      [
        "Warning",
        "API Error (500)",
        `Unable to create new ticket :user Incomplete client information 20 Issue Summary is a required field 21 Issue Details is a required field ${masked}`,
      ],
    ]);
  });

  it("knows agent-only custom fields (the gateway reads the forms with tickets:read): only unknown keys are logged", async () => {
    const before = await lastLogId();
    const res = await post(
      "/api/tickets.json",
      JSON.stringify({
        email: "fields@example.com",
        name: "F",
        subject: "Custom fields",
        message: "m",
        internal_ref: "REF-42",
        no_such_field: "x",
      }),
    );
    expect(res.status).toBe(201);
    const logged = await rows(
      "SELECT log_type, title, log FROM ost_syslog WHERE log_id > ? AND title LIKE 'Unexpected Data%' ORDER BY log_id",
      [before],
    );
    const masked = `[${KEY.slice(0, 4)}********${KEY.slice(-4)}] `;
    expect(logged.map((r) => [r.log_type, r.title, r.log])).toEqual([
      ["Error", "Unexpected Data (400)", `no_such_field: Unexpected data received in API request ${masked}`],
    ]);
  });

  it("a banned address → 403 Ticket denied", async () => {
    const res = await post(
      "/api/tickets.json",
      JSON.stringify({ email: "banned@example.com", name: "B", subject: "s", message: "m" }),
    );
    expect(res).toMatchObject({
      status: 403,
      body: "Unable to create new ticket :Ticket denied: banned@example.com\n\nThis help desk is for use by authorized users only",
    });
  });
});

describe("the Connect edge with the real services", () => {
  it("a ticket filter's reject action → 403 Ticket denied, osTicket's two warnings, and nothing else written", async () => {
    const logId = await lastLogId();
    const [before] = await rows(
      "SELECT (SELECT COUNT(*) FROM ost_ticket) AS tickets, (SELECT COUNT(*) FROM ost_user) AS users",
    );
    const res = await post(
      "/api/tickets.json",
      JSON.stringify({ email: "spammer@example.com", name: "S", subject: "s", message: "Cheap VIAGRA" }),
    );
    expect(res).toMatchObject({
      status: 403,
      body: "Unable to create new ticket :Ticket denied: spammer@example.com\n\nThis help desk is for use by authorized users only",
    });
    const [after] = await rows(
      "SELECT (SELECT COUNT(*) FROM ost_ticket) AS tickets, (SELECT COUNT(*) FROM ost_user) AS users",
    );
    expect(after).toEqual(before);
    expect(await rows("SELECT id FROM ost_user_email WHERE address = 'spammer@example.com'")).toEqual([]);
    // Ticket::create's own warning, then the API's error row (exerr drops the "Ticket denied" title).
    const logged = await rows(
      "SELECT log_type, title, log FROM ost_syslog WHERE log_id > ? ORDER BY log_id",
      [logId],
    );
    expect(logged.map((r) => [r.log_type, r.title, r.log])).toEqual([
      ["Warning", "Ticket denied", 'Ticket rejected (spammer@example.com) by filter "No spam"'],
      [
        "Warning",
        "API Error (403)",
        expect.stringContaining("Unable to create new ticket :Ticket denied: spammer@example.com"),
      ],
    ]);
  });

  it("a banned requester: the ban list's warning names the SYSTEM BAN LIST filter", async () => {
    const logId = await lastLogId();
    const res = await post(
      "/api/tickets.json",
      JSON.stringify({ email: "banned@example.com", name: "B", subject: "s", message: "m" }),
    );
    expect(res.status).toBe(403);
    const logged = await rows(
      "SELECT log_type, title, log FROM ost_syslog WHERE log_id > ? ORDER BY log_id",
      [logId],
    );
    expect(logged.map((r) => [r.title, r.log])).toEqual([
      ["Ticket denied", 'Ticket rejected (banned@example.com) by filter "SYSTEM BAN LIST"'],
      ["API Error (403)", expect.stringContaining("Ticket denied: banned@example.com")],
    ]);
  });

  it("logs in and reads a legacy-created ticket in all three protocols", async () => {
    const created = await post(
      "/api/tickets.json",
      JSON.stringify({ email: "rpc@example.com", name: "Rpc", subject: "Via RPC", message: "m" }),
    );
    expect(created.status).toBe(201);
    const h2c = `http://127.0.0.1:${mesh.gateway.ports.h2c[0]}`;
    const login = await createClient(
      IdentityService,
      createConnectTransport({ baseUrl: mesh.base, httpVersion: "1.1" }),
    ).login({
      kind: PrincipalKind.AGENT,
      username: "ostadmin",
      password: "Adm1nPass!",
    });
    const headers = { authorization: `Bearer ${login.tokens?.accessToken ?? ""}` };
    for (const transport of [
      createConnectTransport({ baseUrl: mesh.base, httpVersion: "1.1" }),
      createGrpcWebTransport({ baseUrl: mesh.base, httpVersion: "1.1" }),
      createGrpcTransport({ baseUrl: h2c }),
    ]) {
      const res = await createClient(TicketService, transport).getTicket(
        { lookup: { case: "number", value: created.body } },
        { headers },
      );
      expect(res.ticket?.number).toBe(created.body);
      expect(res.ticket?.subject).toBe("Via RPC");
    }
    await expect(
      createClient(TicketService, createGrpcTransport({ baseUrl: h2c })).getTicket({
        lookup: { case: "number", value: created.body },
      }),
    ).rejects.toMatchObject({ code: Code.Unauthenticated });
  });
});

describe("cron with the real services", () => {
  // tickets.email with the real services: legacy/email.e2e.test.ts.
  it("runs the cron duties: 200 Completed, with osTicket's Debug row only at log level 3", async () => {
    const debugRows = async () => {
      const [rows] = await mesh.conn.query<mysql.RowDataPacket[]>(
        "SELECT log_type, log, ip_address FROM ost_syslog WHERE title = 'Cron Job' ORDER BY log_id",
      );
      return rows.map((r) => ({ ...r }));
    };
    const before = await debugRows();
    expect(await post("/api/tasks/cron", undefined)).toMatchObject({ status: 200, body: "Completed" });
    expect(await debugRows()).toEqual(before); // the install's log level (2) keeps no debug rows
    await mesh.conn.query(
      "UPDATE ost_config SET value = '3' WHERE namespace = 'core' AND `key` = 'log_level'",
    );
    try {
      expect(await post("/api/tasks/cron", undefined)).toMatchObject({ status: 200, body: "Completed" });
    } finally {
      await mesh.conn.query(
        "UPDATE ost_config SET value = '2' WHERE namespace = 'core' AND `key` = 'log_level'",
      );
    }
    expect(await debugRows()).toEqual([
      ...before,
      { log_type: "Debug", log: "Cron job executed [127.0.0.1]", ip_address: "127.0.0.1" },
    ]);
  });

  it("a key without can_exec_cron → 401 API key not authorized", async () => {
    await mesh.conn.query("UPDATE ost_api_key SET can_exec_cron = 0 WHERE apikey = ?", [KEY]);
    try {
      expect(await post("/api/tasks/cron", undefined)).toMatchObject({
        status: 401,
        body: "API key not authorized",
      });
    } finally {
      await mesh.conn.query("UPDATE ost_api_key SET can_exec_cron = 1 WHERE apikey = ?", [KEY]);
    }
  });
});
