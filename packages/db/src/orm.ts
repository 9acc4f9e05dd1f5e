import type { EntitySchema, LoggerNamespace } from "@mikro-orm/core";
import { MariaDbDriver } from "@mikro-orm/mariadb";
import { Migrator } from "@mikro-orm/migrations";
import { type EntityManager, MikroORM, MySqlDriver, type Options } from "@mikro-orm/mysql";
import { CompiledQuery, type DatabaseConnection } from "kysely";
import mysql from "mysql2/promise";
import { allEntities } from "./entities/index.ts";
import { MIGRATIONS_TABLE, migrationsList } from "./migrations/index.ts";
import { DeferredStatementsSubscriber, holdTransactionControlIn } from "./sql.ts";

export type Orm = MikroORM;
export type { EntityManager };

export interface CreateOrmOptions {
  /** mysql://user:pass@host:port/database */
  url: string;
  /** Log every query through MikroORM's logger. */
  debug?: boolean | LoggerNamespace[];
  pool?: { min?: number; max?: number; idleTimeoutMillis?: number };
  /** Entities to register; defaults to every osTicket and ostmesh entity of this package. */
  entities?: EntitySchema[];
  /** Receives MikroORM's log lines when `debug` is on (default: console). */
  logger?: (message: string) => void;
  /**
   * Which MikroORM driver to use. `auto` (default) asks the server: MariaDB reports column defaults
   * differently from MySQL, and schema comparison must read them the server's way.
   */
  flavor?: "auto" | "mysql" | "mariadb";
  /**
   * Let one round trip carry several statements (mysql2's `multipleStatements`), which `defer` and
   * `queryBatch` use; a transaction's `begin` then travels with its first statement and its `commit` with
   * the writes still deferred (held.ts). Off by default: turn it on only for a pool whose SQL binds every
   * value as a `?` parameter and never splices text from a request into a statement.
   */
  multipleStatements?: boolean;
  /** Extra MikroORM options, merged last (for read replicas, caching, ...). */
  extra?: Partial<Options>;
}

/**
 * The session settings every osTicket connection runs right after connect (FACTS §0): utf8mb3 with
 * utf8_general_ci, an empty sql_mode (osTicket omits NOT NULL columns without defaults and relies on silent
 * truncation) and the server's SYSTEM time zone (every timestamp is written with NOW() in that zone).
 */
export const SESSION_SETTINGS_SQL =
  "SET NAMES utf8 COLLATE utf8_general_ci, SESSION sql_mode = '', SESSION time_zone = 'SYSTEM'";

async function applySessionSettings(connection: unknown): Promise<void> {
  // Kysely's MySQL dialect hands us its DatabaseConnection wrapper around the new mysql2 connection.
  await (connection as DatabaseConnection).executeQuery(CompiledQuery.raw(SESSION_SETTINGS_SQL));
}

/**
 * One MikroORM instance (one connection pool) on an osTicket database. DATETIME values are read as
 * strings (`0000-00-00 00:00:00` stays a string) and are never shifted between time zones.
 */
export async function createOrm(options: CreateOrmOptions): Promise<MikroORM> {
  const logger = options.logger;
  const flavor =
    options.flavor && options.flavor !== "auto" ? options.flavor : await detectFlavor(options.url);
  // `?socketPath=/run/mysqld/mysqld.sock` (mysql2's own URL option, which its other users here read from
  // the URL themselves): a server on this machine over its Unix socket, cheaper per statement than TCP.
  const socketPath = new URL(options.url).searchParams.get("socketPath");
  const orm = await MikroORM.init({
    driver: flavor === "mariadb" ? MariaDbDriver : MySqlDriver,
    clientUrl: options.url,
    ...(socketPath || options.multipleStatements
      ? {
          driverOptions: {
            ...(socketPath ? { socketPath } : {}),
            ...(options.multipleStatements ? { multipleStatements: true } : {}),
          },
        }
      : {}),
    entities: options.entities ?? allEntities,
    extensions: [Migrator],
    charset: "utf8",
    collate: "utf8_general_ci",
    // DATETIME columns carry the DB server's zone; never convert them to or from UTC on the client.
    forceUtcTimezone: false,
    timezone: "local",
    pool: {
      min: options.pool?.min ?? 0,
      max: options.pool?.max ?? 10,
      ...(options.pool?.idleTimeoutMillis !== undefined
        ? { idleTimeoutMillis: options.pool.idleTimeoutMillis }
        : {}),
    },
    onCreateConnection: applySessionSettings,
    subscribers: [new DeferredStatementsSubscriber()],
    // osTicket's tables have no foreign keys; the schema tooling must never invent any.
    schemaGenerator: { createForeignKeyConstraints: false },
    ensureDatabase: false,
    discovery: { checkDuplicateTableNames: true },
    migrations: {
      tableName: MIGRATIONS_TABLE,
      migrationsList,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    debug: options.debug ?? false,
    ...(logger ? { logger } : {}),
    ...options.extra,
  });
  // Where one round trip may carry several statements, `begin` and `commit` travel with their neighbours.
  if (options.multipleStatements) holdTransactionControlIn(await orm.em.getConnection().getNativeClient());
  return orm;
}

/** Asks the server whether it is MariaDB or MySQL (one short-lived connection). */
export async function detectFlavor(url: string): Promise<"mysql" | "mariadb"> {
  const server = new URL(url);
  server.pathname = "/";
  const conn = await mysql.createConnection({ uri: server.toString() });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT VERSION() AS version");
    return String(rows[0]?.version ?? "").includes("MariaDB") ? "mariadb" : "mysql";
  } finally {
    await conn.end();
  }
}
