import { createHash, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import bcrypt from "bcryptjs";
import mysql from "mysql2/promise";
import { runMigrations } from "../migrate.ts";
import { createOrm } from "../orm.ts";
import { quoteIdentifier, renderCreateTable } from "../schema/ddl.ts";
import { osticketTables } from "../schema/tables/index.ts";
import { osticketSeed } from "./seed/index.ts";
import type { SeedTable, SeedValue } from "./seed/types.ts";

export interface BootstrapLogger {
  info(message: string): void;
}

export interface BootstrapOptions {
  /** mysql://user:pass@host:port/database — the database is created if missing. */
  url: string;
  logger?: BootstrapLogger;
  /** Password of the admin agent; random when absent. */
  adminPassword?: string;
  adminUsername?: string;
  adminEmail?: string;
  /** API key for legacy clients (osTicket style: 32 upper-case hex); random when absent. */
  apiKey?: string;
  /** The one client address the API key is valid from. */
  apiKeyIp?: string;
  helpdeskTitle?: string;
  helpdeskUrl?: string;
}

export interface BootstrapResult {
  /** True when an osTicket schema was installed; false when the database already held osTicket. */
  created: boolean;
  admin: { username: string; password?: string };
  apiKey?: string;
  /** ostmesh migrations applied by this call. */
  migrations: string[];
}

/** The osTicket release whose fresh install the bootstrap reproduces (FACTS §0: schema signature). */
export const OSTICKET_SCHEMA_SIGNATURE = "5fb92bef17f3b603659e024c01cc7a59";

const DEFAULTS = {
  adminUsername: "ostadmin",
  adminEmail: "admin@example.org",
  apiKeyIp: "127.0.0.1",
  helpdeskTitle: "osTicket Test Helpdesk",
  helpdeskUrl: "http://127.0.0.1/",
};

/**
 * Turns an empty database into a fresh osTicket 1.18.1 helpdesk (every table of a real install, its seed
 * rows, an admin agent and an API key), then applies ostmesh's migrations. A database that already holds
 * osTicket (a populated ost_config) is left exactly as it is: only ostmesh's migrations run.
 */
export async function bootstrapDatabase(options: BootstrapOptions): Promise<BootstrapResult> {
  const settings = validate(options);
  const log = options.logger ?? { info: () => {} };
  const target = new URL(options.url);
  const database = decodeURIComponent(target.pathname.replace(/^\//, ""));
  if (!database) throw new RangeError("bootstrap needs a database name in the URL");

  await createDatabaseIfMissing(target, database);
  const conn = await mysql.createConnection({
    uri: options.url,
    charset: "UTF8_GENERAL_CI",
    dateStrings: true,
    supportBigNumbers: true,
  });
  let result: Omit<BootstrapResult, "migrations">;
  try {
    await conn.query("SET SESSION sql_mode = '', SESSION time_zone = 'SYSTEM'");
    // Two processes starting at once must not both install: serialize on a named lock.
    const [[lock]] = await conn.query<mysql.RowDataPacket[]>("SELECT GET_LOCK(?, 60) AS ok", [
      `ostmesh.bootstrap.${database}`,
    ]);
    if (Number(lock?.ok) !== 1) throw new Error(`timed out waiting for another bootstrap of ${database}`);
    try {
      result = await install(conn, settings, log);
    } finally {
      await conn.query("SELECT RELEASE_LOCK(?)", [`ostmesh.bootstrap.${database}`]);
    }
  } finally {
    await conn.end();
  }

  const orm = await createOrm({ url: options.url, pool: { max: 2 } });
  try {
    const migrations = await runMigrations(orm);
    if (migrations.length) log.info(`applied ostmesh migrations: ${migrations.join(", ")}`);
    return { ...result, migrations };
  } finally {
    await orm.close();
  }
}

type Settings = Required<Omit<BootstrapOptions, "logger" | "url" | "adminPassword" | "apiKey">> & {
  adminPassword?: string;
  apiKey?: string;
};

function validate(o: BootstrapOptions): Settings {
  const s: Settings = {
    adminUsername: o.adminUsername ?? DEFAULTS.adminUsername,
    adminEmail: o.adminEmail ?? DEFAULTS.adminEmail,
    apiKeyIp: o.apiKeyIp ?? DEFAULTS.apiKeyIp,
    helpdeskTitle: o.helpdeskTitle ?? DEFAULTS.helpdeskTitle,
    helpdeskUrl: o.helpdeskUrl ?? DEFAULTS.helpdeskUrl,
    adminPassword: o.adminPassword,
    apiKey: o.apiKey,
  };
  if (!/^[\w.@-]{1,32}$/.test(s.adminUsername))
    throw new RangeError("adminUsername must be 1-32 letters, digits, '.', '_', '-' or '@'");
  if (s.adminPassword !== undefined && (s.adminPassword.length < 6 || s.adminPassword.length > 72))
    throw new RangeError("adminPassword must be 6-72 characters (osTicket's minimum; bcrypt's maximum)");
  if (s.apiKey !== undefined && !/^[\x21-\x7e]{16,255}$/.test(s.apiKey))
    throw new RangeError("apiKey must be 16-255 printable ASCII characters without spaces");
  if (!isIP(s.apiKeyIp)) throw new RangeError(`apiKeyIp is not an IP address: ${s.apiKeyIp}`);
  if (!/^[^@\s]+@[^@\s]+$/.test(s.adminEmail)) throw new RangeError("adminEmail is not an e-mail address");
  return s;
}

async function createDatabaseIfMissing(target: URL, database: string): Promise<void> {
  const server = new URL(target);
  server.pathname = "/";
  const conn = await mysql.createConnection({ uri: server.toString() });
  try {
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)} CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci`,
    );
  } finally {
    await conn.end();
  }
}

async function install(
  conn: mysql.Connection,
  s: Settings,
  log: BootstrapLogger,
): Promise<Omit<BootstrapResult, "migrations">> {
  const existing = await existingTables(conn);
  if (existing.has("ost_config")) {
    const [[row]] = await conn.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM ost_config");
    if (Number(row?.n) > 0) {
      log.info("database already holds osTicket; leaving its tables as they are");
      const [[admin]] = await conn.query<mysql.RowDataPacket[]>(
        "SELECT username FROM ost_staff WHERE isadmin = 1 ORDER BY isactive DESC, staff_id LIMIT 1",
      );
      return { created: false, admin: { username: String(admin?.username ?? "") } };
    }
  }
  // Anything but empty osTicket tables (a bootstrap that stopped half-way) means someone else's data.
  for (const table of osticketTables) {
    if (!existing.has(table.name)) continue;
    const [[row]] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT 1 AS x FROM ${quoteIdentifier(table.name)} LIMIT 1`,
    );
    if (row)
      throw new Error(
        `refusing to install osTicket: ${table.name} exists and holds rows but ost_config is empty`,
      );
  }

  log.info(`creating ${osticketTables.length} osTicket tables`);
  await setExplicitTimestampDefaults(conn);
  for (const table of osticketTables) await conn.query(renderCreateTable(table, { ifNotExists: true }));

  const password = s.adminPassword ?? randomBytes(12).toString("base64url");
  const apiKey = s.apiKey ?? randomBytes(16).toString("hex").toUpperCase();
  const seed = personalize(osticketSeed, s, password);
  await conn.beginTransaction();
  try {
    for (const table of seed) await insertSeed(conn, table);
    await conn.query(
      "INSERT INTO ost_api_key (isactive, ipaddr, apikey, can_create_tickets, can_exec_cron, notes, updated, created)" +
        " VALUES (1, ?, ?, 1, 1, ?, NOW(), NOW())",
      [s.apiKeyIp, apiKey, "Created by ostmesh bootstrap"],
    );
    await conn.commit();
  } catch (error) {
    await conn.rollback();
    throw error;
  }
  log.info(`installed a fresh osTicket helpdesk (admin ${s.adminUsername}, API key for ${s.apiKeyIp})`);
  return { created: true, admin: { username: s.adminUsername, password }, apiKey };
}

async function existingTables(conn: mysql.Connection): Promise<Set<string>> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
  );
  return new Set(rows.map((r) => String(r.name)));
}

/**
 * A NOT NULL TIMESTAMP without a default (ost_email_template_group.updated) must stay that way; servers
 * with explicit_defaults_for_timestamp off would silently add DEFAULT/ON UPDATE current_timestamp().
 */
async function setExplicitTimestampDefaults(conn: mysql.Connection): Promise<void> {
  try {
    await conn.query("SET SESSION explicit_defaults_for_timestamp = 1");
  } catch {
    // Read-only on some servers; the setting then is whatever the server has (ON by default since
    // MySQL 8.0.2 and MariaDB 10.10).
  }
}

/** The per-install values of a fresh install: the admin agent, helpdesk name and URL, file keys. */
function personalize(seed: readonly SeedTable[], s: Settings, password: string): SeedTable[] {
  const hash = bcrypt.hashSync(password, 8).replace(/^\$2b\$/, "$2a$"); // osTicket writes $2a$08$
  const set = (
    table: SeedTable,
    match: (row: readonly SeedValue[]) => boolean,
    values: Record<string, SeedValue>,
  ) => {
    const rows = table.rows.map((row) => {
      if (!match(row)) return row;
      const copy = [...row];
      for (const [column, value] of Object.entries(values)) {
        const i = table.columns.indexOf(column);
        if (i < 0) throw new Error(`seed ${table.table} has no column ${column}`);
        copy[i] = value;
      }
      return copy;
    });
    return { ...table, rows };
  };
  const col = (table: SeedTable, name: string) => table.columns.indexOf(name);
  return seed.map((table) => {
    switch (table.table) {
      case "ost_staff":
        return set(table, (r) => r[col(table, "staff_id")] === 1, {
          username: s.adminUsername,
          passwd: hash,
          email: s.adminEmail,
        });
      case "ost_config": {
        const ns = col(table, "namespace");
        const key = col(table, "key");
        const byKey: Record<string, string> = {
          admin_email: s.adminEmail,
          helpdesk_title: s.helpdeskTitle,
          helpdesk_url: s.helpdeskUrl,
          schema_signature: OSTICKET_SCHEMA_SIGNATURE,
        };
        let t = table;
        for (const [k, v] of Object.entries(byKey))
          t = set(t, (r) => r[ns] === "core" && r[key] === k, { value: v });
        return t;
      }
      case "ost_form_entry_values":
        // The company form's name answer (the installer stores the helpdesk title there).
        return set(table, (r) => r[col(table, "value")] === DEFAULTS.helpdeskTitle, {
          value: s.helpdeskTitle,
        });
      case "ost_file":
        return regenerateFileKeys(table, seed);
      default:
        return table;
    }
  });
}

/** File keys are per install (osTicket: 5 random characters + base64 SHA-1 of the content). */
function regenerateFileKeys(files: SeedTable, seed: readonly SeedTable[]): SeedTable {
  const chunks = seed.find((t) => t.table === "ost_file_chunk");
  const idCol = files.columns.indexOf("id");
  const keyCol = files.columns.indexOf("key");
  const b64url = (b: Buffer) =>
    b.toString("base64").replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
  const rows = files.rows.map((row) => {
    const data = Buffer.concat(
      (chunks?.rows ?? [])
        .filter((c) => c[0] === row[idCol])
        .map((c) => {
          const v = c[2];
          return typeof v === "object" && v !== null && "base64" in v
            ? Buffer.from(v.base64, "base64")
            : Buffer.alloc(0);
        }),
    );
    const copy = [...row];
    copy[keyCol] = (
      b64url(randomBytes(4)).slice(0, 5) + b64url(createHash("sha1").update(data).digest())
    ).slice(0, 32);
    return copy;
  });
  return { ...files, rows };
}

async function insertSeed(conn: mysql.Connection, table: SeedTable): Promise<void> {
  const columns = table.columns.map(quoteIdentifier).join(", ");
  for (let start = 0; start < table.rows.length; start += 100) {
    const batch = table.rows.slice(start, start + 100);
    const params: unknown[] = [];
    const tuples = batch.map((row) => {
      const cells = row.map((value) => {
        if (value !== null && typeof value === "object") {
          if ("now" in value) return "NOW()";
          params.push(Buffer.from(value.base64, "base64"));
          return "?";
        }
        params.push(value);
        return "?";
      });
      return `(${cells.join(", ")})`;
    });
    await conn.query(
      `INSERT INTO ${quoteIdentifier(table.table)} (${columns}) VALUES ${tuples.join(", ")}`,
      params,
    );
  }
}
