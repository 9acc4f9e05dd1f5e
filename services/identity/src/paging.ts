import { Code, ConnectError } from "@connectrpc/connect";
import { effectivePageSize } from "@ostmesh/proto";
import { sha256Hex } from "./crypto.ts";

/**
 * Keyset paging (osticket.common.v1 conventions): the page token carries the sort key of the last row
 * returned and a fingerprint of the filters it was issued for; a token used with other filters, or one
 * that was tampered with, is INVALID_ARGUMENT.
 */
export type CursorKey = readonly (string | number)[];

export function pageSize(requested: number): number {
  const size = effectivePageSize(requested);
  if (size === undefined) throw new ConnectError("page_size must not be negative", Code.InvalidArgument);
  return size;
}

export function fingerprint(filters: unknown): string {
  return sha256Hex(JSON.stringify(filters)).slice(0, 16);
}

export function encodePageToken(filters: unknown, key: CursorKey): string {
  return Buffer.from(JSON.stringify({ f: fingerprint(filters), k: key }), "utf8").toString("base64url");
}

/** The cursor of a page token (undefined for the first page). */
export function decodePageToken(token: string, filters: unknown): CursorKey | undefined {
  if (token === "") return undefined;
  const invalid = () => new ConnectError("page_token is invalid for this request", Code.InvalidArgument);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== "object" || parsed === null || !("f" in parsed) || !("k" in parsed)) throw invalid();
  if (parsed.f !== fingerprint(filters) || !Array.isArray(parsed.k)) throw invalid();
  const key: (string | number)[] = [];
  for (const part of parsed.k) {
    if (typeof part !== "string" && typeof part !== "number") throw invalid();
    key.push(part);
  }
  return key;
}

/** Splits `size + 1` fetched rows into the page and the next token. */
export function pageOf<T>(
  rows: readonly T[],
  size: number,
  filters: unknown,
  keyOf: (row: T) => CursorKey,
): { items: T[]; nextPageToken: string } {
  const items = rows.slice(0, size);
  const last = items[items.length - 1];
  const nextPageToken = rows.length > size && last !== undefined ? encodePageToken(filters, keyOf(last)) : "";
  return { items, nextPageToken };
}
