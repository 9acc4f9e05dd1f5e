import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { effectivePageSize } from "@ostmesh/proto";
import { invalidArgument } from "./errors.ts";

/** One value of a sort key as stored in a page token (DATETIME strings stay strings; NULL stays null). */
export type KeyValue = string | number | null;

/** Where the previous page stopped: the sort key values of its last row and that row's id. */
export interface Cursor {
  readonly keys: readonly KeyValue[];
  readonly id: number;
}

interface TokenBody {
  /** Format version. */
  v: 1;
  /** Which RPC issued it. */
  r: string;
  /** Hash of the request's filter and sort: a token is only valid for the request it was issued for. */
  q: string;
  k: KeyValue[];
  i: number;
}

const isKeyValue = (v: unknown): v is KeyValue =>
  v === null || typeof v === "string" || (typeof v === "number" && Number.isFinite(v));

/**
 * Opaque page tokens: `base64url(JSON).base64url(HMAC-SHA256)`, bound to the RPC and to a hash of the
 * request's filter and sort (so a token from one query cannot be replayed against another), carrying the
 * keyset position only — never an OFFSET.
 */
export class PageTokens {
  readonly #secret: string;

  constructor(secret: string) {
    this.#secret = secret;
  }

  encode(rpc: string, query: string, cursor: Cursor): string {
    const body: TokenBody = { v: 1, r: rpc, q: query, k: [...cursor.keys], i: cursor.id };
    const payload = Buffer.from(JSON.stringify(body)).toString("base64url");
    return `${payload}.${this.#sign(payload)}`;
  }

  /** The cursor of a token (undefined for ""), or INVALID_ARGUMENT naming `page_token`. */
  decode(rpc: string, query: string, token: string, keyCount: number): Cursor | undefined {
    if (token === "") return undefined;
    const dot = token.indexOf(".");
    const payload = dot > 0 ? token.slice(0, dot) : "";
    const signature = dot > 0 ? Buffer.from(token.slice(dot + 1), "base64url") : Buffer.alloc(0);
    const expected = Buffer.from(this.#sign(payload), "base64url");
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected))
      throw invalidArgument("page_token", "page_token is not a token this service issued");
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      throw invalidArgument("page_token", "page_token is not a token this service issued");
    }
    if (
      typeof body !== "object" ||
      body === null ||
      !("v" in body) ||
      body.v !== 1 ||
      !("r" in body) ||
      !("q" in body) ||
      !("k" in body) ||
      !("i" in body) ||
      !Array.isArray(body.k) ||
      typeof body.i !== "number"
    )
      throw invalidArgument("page_token", "page_token is not a token this service issued");
    if (body.r !== rpc || body.q !== query || body.k.length !== keyCount)
      throw invalidArgument("page_token", "page_token was issued for a different filter or sort");
    const keys: KeyValue[] = [];
    for (const k of body.k) {
      if (!isKeyValue(k))
        throw invalidArgument("page_token", "page_token is not a token this service issued");
      keys.push(k);
    }
    return { keys, id: body.i };
  }

  #sign(payload: string): string {
    return createHmac("sha256", this.#secret).update(payload).digest().subarray(0, 16).toString("base64url");
  }
}

/** Stable hash of what a token is bound to (any JSON-able description of filter and sort). */
export function queryHash(description: unknown): string {
  return createHash("sha256").update(stableJson(description)).digest("base64url").slice(0, 16);
}

/** JSON with object keys sorted, so equal requests hash equally whatever their field order. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (typeof value === "bigint") return JSON.stringify(value.toString());
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The page size for a request's page_size (0 = default, clamped to the maximum), or INVALID_ARGUMENT. */
export function pageSize(requested: number): number {
  const size = effectivePageSize(requested);
  if (size === undefined) throw invalidArgument("page_size", "page_size must not be negative");
  return size;
}
