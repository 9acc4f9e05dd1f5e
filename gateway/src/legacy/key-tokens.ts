import { BoundedMap } from "@ostmesh/kit/cache/bounded-map.ts";
import type { ApiKeyPurpose } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";

/**
 * Access tokens that CheckApiKey bound to an osTicket key's row (`bound` in its answer), kept for later legacy
 * requests with the same key from the same client IP and purpose. Reusing one skips a call to the identity
 * service without loosening osTicket's rule that a change to a key applies to the very next request: every
 * service re-reads the key behind a bound token (active, permissions, its row's ipaddr and apikey) and refuses
 * it once the key would fail the check, and the legacy handler then checks the key again before answering.
 * The presented key is held in memory only, as the map's key.
 */
export class BoundKeyTokens {
  readonly #tokens: BoundedMap<string, string>;

  constructor(options: { limit?: number; now?: () => number } = {}) {
    this.#tokens = new BoundedMap({
      limit: options.limit ?? 1000,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** A token for this key, address and purpose that may still be reused. */
  get(apiKey: string, clientIp: string, purpose: ApiKeyPurpose): string | undefined {
    return this.#tokens.get(nameOf(apiKey, clientIp, purpose));
  }

  /** Keeps `token` until `untilMs` (oldest entries make room beyond the limit). */
  remember(apiKey: string, clientIp: string, purpose: ApiKeyPurpose, token: string, untilMs: number): void {
    this.#tokens.set(nameOf(apiKey, clientIp, purpose), token, untilMs);
  }

  forget(apiKey: string, clientIp: string, purpose: ApiKeyPurpose): void {
    this.#tokens.delete(nameOf(apiKey, clientIp, purpose));
  }

  get size(): number {
    return this.#tokens.size;
  }
}

function nameOf(apiKey: string, clientIp: string, purpose: ApiKeyPurpose): string {
  return JSON.stringify([purpose, clientIp, apiKey]);
}
