import type { Client } from "@connectrpc/connect";
import type { IdentityService } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import {
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWK,
  type JWSHeaderParameters,
  type LocalJWKSet,
} from "jose";

/** Fetches the current key set (public keys only). */
export type JwksLoader = (signal?: AbortSignal) => Promise<JSONWebKeySet>;

export interface CachedJwksOptions {
  /** Refetch the set after this long even when every kid is known (default 10 minutes). */
  maxAgeMs?: number;
  /** Minimum time between two fetches triggered by an unknown kid (default 30 s): a flood of forged kids
   * cannot turn into a flood of fetches. */
  cooldownMs?: number;
  now?: () => number;
}

/**
 * A JWKS held in memory and used as jose's key resolver: verification is local; the set is fetched on
 * first use, when it is older than maxAge, and when a token names a kid the set does not have (a key
 * rotation) — at most once per cooldown. A failed refetch keeps the keys already held.
 */
export class CachedJwks {
  readonly #load: JwksLoader;
  readonly #maxAgeMs: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  #keys: LocalJWKSet | undefined;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | undefined;
  #fetches = 0;

  constructor(load: JwksLoader, options: CachedJwksOptions = {}) {
    this.#load = load;
    this.#maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.#cooldownMs = options.cooldownMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** How many times the set was fetched (for tests and metrics). */
  get fetches(): number {
    return this.#fetches;
  }

  /** The key resolver to pass to jose's jwtVerify. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    if (!this.#keys || this.#now() - this.#loadedAt > this.#maxAgeMs) await this.#refresh(!this.#keys);
    const keys = this.#keys;
    if (!keys) throw new errors.JWKSNoMatchingKey();
    try {
      return await keys(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      if (this.#now() - this.#lastAttempt < this.#cooldownMs) throw error;
      await this.#refresh(false);
      const refreshed = this.#keys;
      if (!refreshed) throw error;
      return refreshed(header, token);
    }
  };

  /** Drops the held keys so the next verification fetches them again. */
  invalidate(): void {
    this.#loadedAt = Number.NEGATIVE_INFINITY;
  }

  async #refresh(mustSucceed: boolean): Promise<void> {
    this.#pending ??= (async () => {
      this.#lastAttempt = this.#now();
      this.#fetches++;
      try {
        const set = await this.#load();
        this.#keys = createLocalJWKSet(set);
        this.#loadedAt = this.#now();
      } finally {
        this.#pending = undefined;
      }
    })();
    try {
      await this.#pending;
    } catch (error) {
      if (mustSucceed || !this.#keys) throw error;
      // Keep verifying with the keys we have; the next stale check retries.
    }
  }
}

/** Loads a JWKS document over HTTP(S) (an OIDC provider's jwks_uri, or ostmesh's /.well-known/jwks.json). */
export function jwksFromUrl(url: string, options: { timeoutMs?: number } = {}): JwksLoader {
  const timeoutMs = options.timeoutMs ?? 5000;
  return async (signal) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const res = await fetch(url, {
      headers: { accept: "application/jwk-set+json, application/json" },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    if (!res.ok) throw new Error(`JWKS ${url} answered HTTP ${res.status}`);
    const body: unknown = await res.json();
    return parseJwks(body);
  };
}

/** Loads ostmesh's signing keys through IdentityService.GetJwks (in-process when identity is co-hosted). */
export function jwksFromIdentity(client: Client<typeof IdentityService>): JwksLoader {
  return async (signal) => {
    const res = await client.getJwks({}, { signal });
    return {
      keys: res.keys.map((k) => {
        const jwk: JWK = { kty: k.kty, kid: k.kid, alg: k.alg, use: k.use || "sig" };
        for (const [name, value] of [
          ["crv", k.crv],
          ["x", k.x],
          ["y", k.y],
          ["n", k.n],
          ["e", k.e],
        ] as const) {
          if (value) jwk[name] = value;
        }
        return jwk;
      }),
    };
  };
}

/** Checks that a parsed document is a JWKS (an object with a `keys` array of objects). */
export function parseJwks(body: unknown): JSONWebKeySet {
  if (typeof body !== "object" || body === null || !("keys" in body) || !Array.isArray(body.keys))
    throw new Error("not a JWKS document");
  const keys: JWK[] = [];
  for (const key of body.keys) {
    if (typeof key !== "object" || key === null || !("kty" in key) || typeof key.kty !== "string")
      throw new Error("not a JWKS document");
    const jwk: JWK = { kty: key.kty };
    const text = (name: string): string | undefined => {
      const value: unknown = Object.getOwnPropertyDescriptor(key, name)?.value;
      return typeof value === "string" ? value : undefined;
    };
    // Only the members of public signature keys are kept; anything else (private parts too) is dropped.
    for (const name of ["kid", "alg", "use", "crv", "x", "y", "n", "e"] as const) {
      const value = text(name);
      if (value !== undefined) jwk[name] = value;
    }
    keys.push(jwk);
  }
  return { keys };
}
