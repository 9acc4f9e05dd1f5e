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

/** PHP `is_numeric` for strings (decimal numbers with optional sign, fraction and exponent). */
export function isNumeric(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "string") return false;
  return /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/.test(value);
}

/** Parses a JSON column; malformed or empty text gives `undefined`. */
export function json(text: string | null): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** PHP `json_encode` with default flags: `/` escaped as `\/`, non-ASCII as `\uXXXX` (UTF-16 units). */
export function phpJsonEncode(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll("/", "\\/")
    .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
