/**
 * PHP behaviours osTicket's stored data depends on, for every service that reads or writes it.
 */

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
