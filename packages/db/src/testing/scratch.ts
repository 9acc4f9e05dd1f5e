import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";

/**
 * Scratch databases for tests. Every test run gets its own run id, every test file its own database
 * (`ostmesh_<run>_<suffix>`), so concurrent runs and parallel files never see each other's rows.
 *
 * The template is the real fresh osTicket 1.18.1 install (../shared/osticket/fresh-install-dump.sql),
 * loaded once per run by the global setup and cloned table by table for each file that asks.
 */

export const SERVER_URL = process.env.TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";

export const FRESH_INSTALL_DUMP = fileURLToPath(
  new URL("../../../../../shared/osticket/fresh-install-dump.sql", import.meta.url),
);

export function runId(): string {
  const id = process.env.OSTMESH_TEST_RUN;
  if (!id)
    throw new Error("OSTMESH_TEST_RUN is not set: run tests through vitest (its global setup sets it)");
  return id;
}

export function templateDatabaseName(run = runId()): string {
  return `ostmesh_${run}_tpl`;
}

export function databaseUrl(database: string): string {
  return `${SERVER_URL.replace(/\/+$/, "")}/${database}`;
}

export async function serverConnection(multipleStatements = false): Promise<mysql.Connection> {
  return mysql.createConnection({ uri: SERVER_URL, multipleStatements, charset: "UTF8_GENERAL_CI" });
}

/** Loads a mysqldump file into `database` (created if missing). */
export async function loadDump(database: string, dumpPath = FRESH_INSTALL_DUMP): Promise<void> {
  const sql = (await readFile(dumpPath, "utf8"))
    .split("\n")
    .filter((line) => !line.startsWith("/*M!999999"))
    .join("\n");
  const conn = await serverConnection(true);
  try {
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci`,
    );
    await conn.query(`USE \`${database}\``);
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

export interface ScratchDatabase {
  /** Database name, unique to this run and this caller. */
  readonly name: string;
  /** A DATABASE_URL pointing at it. */
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * A new database for one test file. `from: "fresh-install"` (the default) clones the real osTicket fresh
 * install; `from: "empty"` gives an empty database (for bootstrap tests).
 */
export async function createScratchDatabase(
  options: { from?: "fresh-install" | "empty"; label?: string } = {},
): Promise<ScratchDatabase> {
  const from = options.from ?? "fresh-install";
  const label = (options.label ?? "db")
    .replace(/[^a-z0-9]/gi, "")
    .slice(0, 12)
    .toLowerCase();
  const name = `ostmesh_${runId()}_${label}_${randomBytes(3).toString("hex")}`;
  const conn = await serverConnection(true);
  try {
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci`);
    if (from === "fresh-install") await cloneTables(conn, templateDatabaseName(), name);
  } finally {
    await conn.end();
  }
  return {
    name,
    url: databaseUrl(name),
    async drop() {
      const c = await serverConnection();
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await c.end();
      }
    },
  };
}

async function cloneTables(conn: mysql.Connection, source: string, target: string): Promise<void> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
    [source],
  );
  const statements = rows.flatMap(({ name }) => [
    `CREATE TABLE \`${target}\`.\`${name}\` LIKE \`${source}\`.\`${name}\``,
    `INSERT INTO \`${target}\`.\`${name}\` SELECT * FROM \`${source}\`.\`${name}\``,
  ]);
  await conn.query("SET SESSION sql_mode = ''");
  await conn.query(statements.join(";\n"));
}

/** Drops every database of a run (used by the global teardown). */
export async function dropRunDatabases(run: string): Promise<void> {
  const conn = await serverConnection();
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
      [`ostmesh\\_${run}\\_%`],
    );
    for (const { name } of rows) await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await conn.end();
  }
}
