import mysql from "mysql2/promise";

/** A row as the driver returns it. */
export type SqlRow = Record<string, unknown>;

/**
 * Runs one read-only statement with `?` placeholders. The auth code needs nothing more from a database, so
 * each service passes its own connection (e.g. `(sql, p) => query(orm.em.fork(), sql, p)` from @ostmesh/db).
 * One that can send several statements in one round trip says so with `batch` (see queryAll).
 */
export type SqlQuery = ((sql: string, params?: readonly unknown[]) => Promise<SqlRow[]>) & {
  readonly batch?: (statements: readonly SqlStatement[]) => Promise<SqlRow[][]>;
};

export interface SqlStatement {
  readonly sql: string;
  readonly params?: readonly unknown[];
}

/** Statements that read something, and how their rows (one list per statement) become it. */
export interface SqlRead<T> {
  readonly statements: readonly SqlStatement[];
  read(results: readonly (readonly SqlRow[])[]): T;
}

/** Several reads' rows, in order: in one round trip where `q` can batch, otherwise side by side. */
export function queryAll(q: SqlQuery, statements: readonly SqlStatement[]): Promise<SqlRow[][]> {
  if (q.batch) return q.batch(statements);
  return Promise.all(statements.map((s) => q(s.sql, s.params)));
}

/** A small mysql2 pool with osTicket's session settings, for processes that have no ORM of their own. */
export function mysqlQuery(
  databaseUrl: string,
  options: { connectionLimit?: number } = {},
): {
  query: SqlQuery;
  close(): Promise<void>;
} {
  const pool = mysql.createPool({
    uri: databaseUrl,
    connectionLimit: options.connectionLimit ?? 4,
    charset: "UTF8_GENERAL_CI",
    dateStrings: true,
    enableKeepAlive: true,
    // The auth code's SQL is constant text with `?` placeholders (values are escaped by mysql2), so several
    // statements may share one round trip (batch).
    multipleStatements: true,
  });
  pool.on("connection", (conn) => {
    conn.query("SET SESSION sql_mode = '', SESSION time_zone = 'SYSTEM'");
  });
  const query = async (sql: string, params: readonly unknown[] = []) => {
    const [rows] = await pool.query<mysql.RowDataPacket[]>(sql, [...params]);
    return rows;
  };
  const batch = async (statements: readonly SqlStatement[]): Promise<SqlRow[][]> => {
    const [only, ...more] = statements;
    if (!only) return [];
    if (more.length === 0) return [await query(only.sql, only.params)];
    const [results] = await pool.query<mysql.RowDataPacket[][]>(
      statements.map((s) => s.sql).join(";\n"),
      statements.flatMap((s) => [...(s.params ?? [])]),
    );
    return results;
  };
  return { query: Object.assign(query, { batch }), close: () => pool.end() };
}

export function num(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "") return Number(value);
  return 0;
}

export function str(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return String(value);
}

/** Keys of an osTicket permissions JSON object (`{"ticket.reply":1,...}`) whose value is truthy. */
export function permissionKeys(json: unknown): string[] {
  const text = str(json);
  if (!text) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return [];
    return Object.entries(parsed)
      .filter(([, v]) => Boolean(v))
      .map(([k]) => k)
      .sort();
  } catch {
    return [];
  }
}

/** osTicket's Validator::is_email, approximately: one @, a dot in the domain, no spaces. */
export function looksLikeEmail(value: string): boolean {
  return /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value);
}
