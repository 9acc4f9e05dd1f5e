import {
  createScratchDatabase,
  databaseUrl,
  runId,
  type ScratchDatabase,
  serverConnection,
} from "@ostmesh/db/testing/scratch.ts";
import bcrypt from "bcryptjs";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownEntities } from "../entities/index.ts";
import { MIGRATIONS_TABLE, migrationsList } from "../migrations/index.ts";
import { type BootstrapResult, bootstrapDatabase } from "./bootstrap.ts";

/** Per-install values that legitimately differ between two installs. */
const SECRET_COLUMNS: Record<string, string[]> = {
  ost_staff: ["passwd"],
  ost_file: ["key"],
};
/** Compared on their own: the reference install has no API key, the bootstrap adds one. */
const SEPARATE_TABLES = new Set(["ost_api_key"]);

async function withConnection<T>(url: string, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection({
    uri: url,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  try {
    return await fn(conn);
  } finally {
    await conn.end();
  }
}

async function rows(
  c: mysql.Connection,
  sql: string,
  params: unknown[] = [],
): Promise<mysql.RowDataPacket[]> {
  const [r] = await c.query<mysql.RowDataPacket[]>(sql, params);
  return r;
}

const TABLES_SQL =
  "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION, TABLE_COMMENT, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'ost\\_%' ORDER BY TABLE_NAME";
const COLUMNS_SQL =
  "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, CHARACTER_SET_NAME, COLLATION_NAME, EXTRA, COLUMN_COMMENT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'ost\\_%' ORDER BY TABLE_NAME, ORDINAL_POSITION";
const STATISTICS_SQL =
  "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, INDEX_TYPE, COLLATION, NULLABLE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'ost\\_%' ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX";

/** Every row of every ost_ table, timestamps and per-install secrets masked. */
async function seedRows(c: mysql.Connection): Promise<Record<string, string[]>> {
  const columns = await rows(c, COLUMNS_SQL);
  const out: Record<string, string[]> = {};
  const tables = [...new Set(columns.map((r) => String(r.TABLE_NAME)))];
  for (const table of tables) {
    if (SEPARATE_TABLES.has(table)) continue;
    const cols = columns.filter((r) => r.TABLE_NAME === table);
    const data = await rows(c, `SELECT * FROM \`${table}\``);
    out[table] = data
      .map((row) =>
        JSON.stringify(
          cols.map((col) => {
            const name = String(col.COLUMN_NAME);
            const v = row[name];
            if (v === null) return null;
            if (SECRET_COLUMNS[table]?.includes(name)) return "<secret>";
            if (/^(datetime|timestamp)/.test(String(col.COLUMN_TYPE)) && !String(v).startsWith("0000"))
              return "<time>";
            return Buffer.isBuffer(v) ? `hex:${v.toString("hex")}` : String(v);
          }),
        ),
      )
      .sort();
  }
  return out;
}

async function checksums(url: string): Promise<string> {
  return withConnection(url, async (c) => {
    const names = (await rows(c, "SHOW TABLES"))
      .map((r) => String(Object.values(r)[0]))
      .filter((n) => n.startsWith("ost_"));
    return JSON.stringify(
      await rows(c, `CHECKSUM TABLE ${names.map((n) => `\`${n}\``).join(", ")} EXTENDED`),
    );
  });
}

describe("bootstrapDatabase on an empty database", () => {
  let reference: ScratchDatabase;
  let target: ScratchDatabase;
  let result: BootstrapResult;
  const messages: string[] = [];
  beforeAll(async () => {
    [reference, target] = await Promise.all([
      createScratchDatabase({ label: "bootref" }),
      createScratchDatabase({ label: "boot", from: "empty" }),
    ]);
    result = await bootstrapDatabase({
      url: target.url,
      logger: { info: (m) => messages.push(m) },
      adminPassword: "S3cret-pass",
    });
  });
  afterAll(async () => {
    await Promise.all([reference?.drop(), target?.drop()]);
  });

  it("reports what it created", () => {
    expect(result.created).toBe(true);
    expect(result.admin).toEqual({ username: "ostadmin", password: "S3cret-pass" });
    expect(result.apiKey).toMatch(/^[0-9A-F]{32}$/);
    expect(result.migrations).toEqual(migrationsList.map((m) => m.name));
    expect(messages.join("\n")).toMatch(/creating 72 osTicket tables/);
  });

  it("creates the same tables as a real fresh install: engines, collations, auto-increments", async () => {
    const ref = await withConnection(reference.url, (c) => rows(c, TABLES_SQL));
    const got = await withConnection(target.url, (c) => rows(c, TABLES_SQL));
    expect(got).toHaveLength(72);
    const mask = (r: mysql.RowDataPacket) => ({
      ...r,
      AUTO_INCREMENT: r.TABLE_NAME === "ost_api_key" ? "-" : r.AUTO_INCREMENT,
    });
    expect(got.map(mask)).toEqual(ref.map(mask));
  });

  it("creates every column exactly as a real fresh install", async () => {
    const ref = await withConnection(reference.url, (c) => rows(c, COLUMNS_SQL));
    const got = await withConnection(target.url, (c) => rows(c, COLUMNS_SQL));
    expect(got.length).toBeGreaterThan(500);
    expect(got).toEqual(ref);
  });

  it("creates every index exactly as a real fresh install", async () => {
    const ref = await withConnection(reference.url, (c) => rows(c, STATISTICS_SQL));
    const got = await withConnection(target.url, (c) => rows(c, STATISTICS_SQL));
    expect(got.length).toBeGreaterThan(200);
    expect(got).toEqual(ref);
  });

  it("seeds the same rows as a real fresh install (timestamps and secrets aside)", async () => {
    const ref = await withConnection(reference.url, seedRows);
    const got = await withConnection(target.url, seedRows);
    expect(Object.keys(got)).toHaveLength(71);
    for (const table of Object.keys(ref))
      expect({ table, rows: got[table] }).toEqual({ table, rows: ref[table] });
    expect(
      got.ost_config?.some((r) => r.includes('"schema_signature","5fb92bef17f3b603659e024c01cc7a59"')),
    ).toBe(true);
  });

  it("sets install-time timestamps to the server's NOW(), zero dates stay", async () => {
    await withConnection(target.url, async (c) => {
      const [status] = await rows(
        c,
        "SELECT TIMESTAMPDIFF(SECOND, created, NOW()) AS age, updated FROM ost_ticket_status WHERE id = 1",
      );
      expect(Number(status?.age)).toBeLessThan(120);
      expect(Number(status?.age)).toBeGreaterThanOrEqual(0);
      expect(status?.updated).toBe("0000-00-00 00:00:00");
      const [config] = await rows(
        c,
        "SELECT COUNT(*) AS n FROM ost_config WHERE TIMESTAMPDIFF(SECOND, updated, NOW()) > 120",
      );
      expect(Number(config?.n)).toBe(0);
    });
  });

  it("creates a working admin agent and an API key for 127.0.0.1", async () => {
    await withConnection(target.url, async (c) => {
      const [staff] = await rows(c, "SELECT username, passwd, isadmin, isactive FROM ost_staff");
      expect(staff).toMatchObject({ username: "ostadmin", isadmin: 1, isactive: 1 });
      expect(String(staff?.passwd)).toMatch(/^\$2a\$08\$/);
      expect(bcrypt.compareSync("S3cret-pass", String(staff?.passwd))).toBe(true);
      expect(bcrypt.compareSync("wrong", String(staff?.passwd))).toBe(false);
      const keys = await rows(
        c,
        "SELECT isactive, ipaddr, apikey, can_create_tickets, can_exec_cron FROM ost_api_key",
      );
      expect(keys).toEqual([
        { isactive: 1, ipaddr: "127.0.0.1", apikey: result.apiKey, can_create_tickets: 1, can_exec_cron: 1 },
      ]);
      const [file] = await rows(c, "SELECT `key` FROM ost_file WHERE id = 2");
      expect(String(file?.key)).toMatch(/^[\w-]{5}MWtx86n3ccfeGGNagoRoTDtol7o$/);
    });
  });

  it("a second run changes no osTicket row and applies no migration", async () => {
    const before = await checksums(target.url);
    const again = await bootstrapDatabase({ url: target.url, adminPassword: "other-pass" });
    expect(again).toEqual({ created: false, admin: { username: "ostadmin" }, migrations: [] });
    expect(await checksums(target.url)).toBe(before);
  });
});

describe("bootstrapDatabase on a database that already holds osTicket", () => {
  let db: ScratchDatabase;
  beforeAll(async () => {
    db = await createScratchDatabase({ label: "bootprod" });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("leaves every ost_ row alone and only runs ostmesh's migrations", async () => {
    const before = await checksums(db.url);
    const result = await bootstrapDatabase({ url: db.url, apiKey: "A".repeat(32) });
    expect(result).toEqual({
      created: false,
      admin: { username: "ostadmin" },
      migrations: migrationsList.map((m) => m.name),
    });
    expect(await checksums(db.url)).toBe(before);
    const tables = await withConnection(db.url, (c) => rows(c, "SHOW TABLES LIKE 'ostmesh\\_%'"));
    const expected = [MIGRATIONS_TABLE, ...ownEntities.map((e) => e.meta.tableName)].sort();
    expect(expected).toContain("ostmesh_outbox");
    expect(tables.map((r) => String(Object.values(r)[0])).sort()).toEqual(expected);
  });
});

describe("bootstrapDatabase edge cases", () => {
  const created: string[] = [];
  afterAll(async () => {
    const c = await serverConnection();
    try {
      for (const name of created) await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
    } finally {
      await c.end();
    }
  });

  it("creates the database when it does not exist, with osTicket's charset", async () => {
    const name = `ostmesh_${runId()}_bootnew_${Date.now().toString(36)}`;
    created.push(name);
    const result = await bootstrapDatabase({
      url: databaseUrl(name),
      apiKey: "0123456789ABCDEF0123456789ABCDEF",
      apiKeyIp: "10.0.0.7",
    });
    expect(result.created).toBe(true);
    expect(result.apiKey).toBe("0123456789ABCDEF0123456789ABCDEF");
    expect(result.admin.password).toMatch(/^[\w-]{16}$/);
    await withConnection(databaseUrl(name), async (c) => {
      const [schema] = await rows(
        c,
        "SELECT DEFAULT_COLLATION_NAME AS coll FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()",
      );
      expect(schema?.coll).toBe("utf8mb3_general_ci");
      const [key] = await rows(c, "SELECT ipaddr FROM ost_api_key WHERE apikey = ?", [result.apiKey]);
      expect(key?.ipaddr).toBe("10.0.0.7");
    });
  });

  it("refuses to install over osTicket tables that hold rows without a config", async () => {
    const db = await createScratchDatabase({ label: "bootpart", from: "empty" });
    try {
      await withConnection(db.url, async (c) => {
        await c.query("CREATE TABLE ost_ticket (ticket_id int unsigned NOT NULL PRIMARY KEY)");
        await c.query("INSERT INTO ost_ticket VALUES (1)");
      });
      await expect(bootstrapDatabase({ url: db.url })).rejects.toThrow(/ost_ticket exists and holds rows/);
    } finally {
      await db.drop();
    }
  });

  it("rejects bad options before touching the database", async () => {
    const url = databaseUrl(`ostmesh_${runId()}_never`);
    await expect(bootstrapDatabase({ url, adminPassword: "short" })).rejects.toThrow(/adminPassword/);
    await expect(bootstrapDatabase({ url, apiKeyIp: "localhost" })).rejects.toThrow(/apiKeyIp/);
    await expect(bootstrapDatabase({ url, apiKey: "has space in it 1234" })).rejects.toThrow(/apiKey/);
    await expect(bootstrapDatabase({ url, adminUsername: "bad name" })).rejects.toThrow(/adminUsername/);
    await expect(bootstrapDatabase({ url: "mysql://root@127.0.0.1:3306/" })).rejects.toThrow(/database name/);
    const [exists] = await withConnection(databaseUrl(""), (c) =>
      rows(c, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [
        `ostmesh_${runId()}_never`,
      ]),
    );
    expect(exists).toBeUndefined();
  });

  it("fails clearly when the server is unreachable", async () => {
    await expect(bootstrapDatabase({ url: "mysql://root@127.0.0.1:1/osticket" })).rejects.toThrow(
      /ECONNREFUSED/,
    );
  });
});
