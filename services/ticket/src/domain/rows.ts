import type { Row } from "./sql.ts";

/** Typed reads of driver rows (mysql2 returns INT as numbers, BIGINT/DECIMAL as strings, dates as strings). */

export function int(row: Row, column: string): number {
  const value = row[column];
  if (typeof value === "number") return Math.trunc(value);
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string") return phpInt(value);
  return 0;
}

export function intOrNull(row: Row, column: string): number | null {
  const value = row[column];
  return value === null || value === undefined ? null : int(row, column);
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

/** PHP's `(int)` cast of a string: leading whitespace, optional sign, digits; anything else is 0. */
export function phpInt(value: string): number {
  const match = /^\s*([+-]?\d+)/.exec(value);
  return match?.[1] ? Number.parseInt(match[1], 10) : 0;
}

/** PHP truthiness of a config/string value ('' and '0' are false). */
export function phpTruthy(value: string | null | undefined): boolean {
  return value !== null && value !== undefined && value !== "" && value !== "0";
}

export { isNumeric, isRecord, json, phpJsonEncode } from "@ostmesh/kit/osticket/php.ts";
