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
  readonly #tokens = new Map<string, { token: string; untilMs: number }>();
  readonly #limit: number;
  readonly #now: () => number;

  constructor(options: { limit?: number; now?: () => number } = {}) {
    this.#limit = options.limit ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** A token for this key, address and purpose that may still be reused. */
  get(apiKey: string, clientIp: string, purpose: ApiKeyPurpose): string | undefined {
    const name = nameOf(apiKey, clientIp, purpose);
    const held = this.#tokens.get(name);
    if (!held) return undefined;
    if (held.untilMs > this.#now()) return held.token;
    this.#tokens.delete(name);
    return undefined;
  }

  /** Keeps `token` until `untilMs` (oldest entries make room beyond the limit). */
  remember(apiKey: string, clientIp: string, purpose: ApiKeyPurpose, token: string, untilMs: number): void {
    const name = nameOf(apiKey, clientIp, purpose);
    this.#tokens.delete(name);
    if (untilMs <= this.#now()) return;
    if (this.#tokens.size >= this.#limit) {
      const oldest = this.#tokens.keys().next();
      if (!oldest.done) this.#tokens.delete(oldest.value);
    }
    this.#tokens.set(name, { token, untilMs });
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
