import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { BoundedMap } from "@ostmesh/kit/cache/bounded-map.ts";
import type { ApiKeyPurpose } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";

/**
 * Access tokens that CheckApiKey bound to the key it checked (`bound` in its answer), kept for later requests
 * with the same key from the same client IP and purpose: the legacy routes keep the token, the Connect edge
 * the token and its principal. Reusing one skips a call to the identity service without loosening the rule
 * that a change to a key applies to the very next request: every service re-reads the key behind a bound
 * token and refuses it once the key would fail the check (an osTicket key's row: active, permissions,
 * ipaddr, apikey; an ostmesh key: revoked, expired, its allowed addresses), and the gateway then checks the
 * key again before answering. The presented key is held in memory only, as the map's key.
 */
export class BoundKeyTokens<V = string> {
  readonly #tokens: BoundedMap<string, V>;

  constructor(options: { limit?: number; now?: () => number } = {}) {
    this.#tokens = new BoundedMap({
      limit: options.limit ?? 1000,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** What is kept for this key, address and purpose, while it may still be reused. */
  get(apiKey: string, clientIp: string, purpose: ApiKeyPurpose): V | undefined {
    return this.#tokens.get(nameOf(apiKey, clientIp, purpose));
  }

  /** Keeps `value` until `untilMs` (oldest entries make room beyond the limit). */
  remember(apiKey: string, clientIp: string, purpose: ApiKeyPurpose, value: V, untilMs: number): void {
    this.#tokens.set(nameOf(apiKey, clientIp, purpose), value, untilMs);
  }

  forget(apiKey: string, clientIp: string, purpose: ApiKeyPurpose): void {
    this.#tokens.delete(nameOf(apiKey, clientIp, purpose));
  }

  get size(): number {
    return this.#tokens.size;
  }
}

/**
 * Until when a token CheckApiKey answered may be reused: half of the lifetime it has left, so it never
 * expires in a caller's hands; undefined for a token that is not bound to its key (never reused).
 */
export function reusableUntilMs(
  answer: { bound: boolean; tokens?: { accessTokenExpiresAt?: Timestamp } },
  now: number,
): number | undefined {
  const expires = answer.tokens?.accessTokenExpiresAt;
  if (!answer.bound || !expires) return undefined;
  return now + (timestampMs(expires) - now) / 2;
}

function nameOf(apiKey: string, clientIp: string, purpose: ApiKeyPurpose): string {
  return JSON.stringify([purpose, clientIp, apiKey]);
}
