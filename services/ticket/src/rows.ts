import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";

/** A row as mysql2 returns it (DATETIME as strings, DECIMAL and BIGINT possibly as strings). */
export type Row = Record<string, unknown>;

export function num(row: Row, column: string): number {
  const value = row[column];
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value);
    return Number.isFinite(n) ? n : 0;
  }
  return 0;
}

export function str(row: Row, column: string): string {
  const value = row[column];
  if (value === null || value === undefined) return "";
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return String(value);
}

export function strOrNull(row: Row, column: string): string | null {
  const value = row[column];
  return value === null || value === undefined ? null : str(row, column);
}

/**
 * A Timestamp from a `UNIX_TIMESTAMP(column)` value: the session zone (SYSTEM, where osTicket writes its
 * times) converts the DB-local DATETIME to UTC. NULL and zero dates (UNIX_TIMESTAMP gives NULL) are absent.
 */
export function timestamp(row: Row, column: string): Timestamp | undefined {
  const value = row[column];
  if (value === null || value === undefined) return undefined;
  const seconds = num(row, column);
  if (!(seconds > 0)) return undefined;
  return timestampFromMs(Math.round(seconds * 1000));
}

/** `?, ?, ?` for an IN list of `n` values (at least one). */
export function marks(n: number): string {
  return Array.from({ length: Math.max(1, n) }, () => "?").join(", ");
}

export { isRecord, json as parseJson } from "@ostmesh/kit/osticket/php.ts";
