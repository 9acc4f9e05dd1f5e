import type { EntityManager } from "@ostmesh/db";
import { execute, query } from "@ostmesh/db";
import { num, str } from "@ostmesh/kit/auth/index.ts";
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importPKCS8, type JWK } from "jose";
import type { Logger } from "pino";
import type { SigningAlgorithm } from "./config.ts";
import type { SecretBox } from "./crypto.ts";

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
}

export interface SigningKeysOptions {
  algorithm: SigningAlgorithm;
  /** A new key is generated when the newest one is this old. */
  rotationMs: number;
  /**
   * A new key is published this long before it signs anything, so verifiers that fetched the JWKS just
   * before it appeared (and wait out their refetch cooldown) already know it (default 60 s).
   */
  activationDelayMs?: number;
  /** The longest lifetime of any token this service signs: a retired key stays published this long. */
  maxTokenTtlMs: number;
  box: SecretBox;
  /** How long the signing key is cached in memory before the table is read again (default 30 s). */
  cacheMs?: number;
  logger?: Logger;
}

interface KeyRow {
  kid: string;
  alg: string;
  publicJwk: string;
  privateKey: string;
  ageMs: number;
  retired: boolean;
}

/** Extra time a retired key stays published beyond the longest token lifetime (clock skew, caches). */
const RETIREMENT_MARGIN_MS = 5 * 60_000;

/**
 * Token signing keys in ostmesh_signing_key. The newest key that has been published for at least the
 * activation delay signs; a newer one waits to be picked up; older ones are retired (no longer signing)
 * and stay in the JWKS until every token they signed has expired. Private keys are stored sealed with the
 * key-encryption key; a key that cannot be opened (another KEK) is never used to sign and a fresh one is
 * generated instead.
 */
export class SigningKeys {
  readonly #o: Required<Omit<SigningKeysOptions, "logger">> & { logger?: Logger };
  #cached: { key: SigningKey; until: number } | undefined;

  constructor(options: SigningKeysOptions) {
    this.#o = { activationDelayMs: 60_000, cacheMs: 30_000, ...options };
  }

  /** The key to sign with now; creates the first key, rotates when due. */
  async signingKey(em: EntityManager): Promise<SigningKey> {
    const cached = this.#cached;
    if (cached && cached.until > Date.now()) return cached.key;
    const key = await em.transactional(async (tx) => {
      // One rotation at a time across replicas.
      await query(tx, "SELECT GET_LOCK('ostmesh_signing_key', 10) AS locked");
      try {
        return await this.#select(tx);
      } finally {
        await query(tx, "SELECT RELEASE_LOCK('ostmesh_signing_key') AS released");
      }
    });
    this.#cached = { key, until: Date.now() + this.#o.cacheMs };
    return key;
  }

  /** Generates a new key now (published at once, signing after the activation delay). */
  async rotate(em: EntityManager): Promise<string> {
    this.#cached = undefined;
    return this.#create(em);
  }

  /** Public keys of every key still published: pending, signing, and retired-but-not-expired. */
  async publicKeys(em: EntityManager): Promise<JWK[]> {
    const rows = await query(
      em,
      "SELECT public_jwk FROM ostmesh_signing_key WHERE expires_at IS NULL OR expires_at > UTC_TIMESTAMP(6)" +
        " ORDER BY created_at DESC",
    );
    return rows.map((r) => publicJwk(str(r.public_jwk)));
  }

  /** Deletes keys whose tokens have all expired; returns how many went. */
  async purgeExpired(em: EntityManager): Promise<number> {
    const { affectedRows } = await execute(
      em,
      "DELETE FROM ostmesh_signing_key WHERE expires_at IS NOT NULL AND expires_at <= UTC_TIMESTAMP(6)",
    );
    return affectedRows;
  }

  async #select(em: EntityManager): Promise<SigningKey> {
    const rows = await this.#rows(em);
    const newest = rows[0];
    if (!newest || newest.ageMs >= this.#o.rotationMs) await this.#create(em);
    const current = await this.#rows(em);
    // The newest key that has been published long enough, else (first key ever) the newest one.
    const candidates = current.filter(
      (r) => r.ageMs >= this.#o.activationDelayMs && r.alg === this.#o.algorithm,
    );
    const usable = [...candidates, ...current.filter((r) => r.alg === this.#o.algorithm)];
    for (const row of usable) {
      const key = await this.#open(row);
      if (!key) continue;
      await this.#retireOlder(em, row.kid);
      return key;
    }
    // No key we can open (the KEK changed, or the algorithm did): start a new one, usable at once.
    const kid = await this.#create(em);
    const fresh = (await this.#rows(em)).find((r) => r.kid === kid);
    const key = fresh ? await this.#open(fresh) : undefined;
    if (!key) throw new Error("a newly generated signing key cannot be opened");
    await this.#retireOlder(em, kid);
    return key;
  }

  async #rows(em: EntityManager): Promise<KeyRow[]> {
    const rows = await query(
      em,
      "SELECT kid, alg, public_jwk, private_key, retired_at IS NOT NULL AS retired," +
        " TIMESTAMPDIFF(MICROSECOND, created_at, UTC_TIMESTAMP(6)) DIV 1000 AS age_ms" +
        " FROM ostmesh_signing_key WHERE retired_at IS NULL ORDER BY created_at DESC, kid",
    );
    return rows.map((r) => ({
      kid: str(r.kid),
      alg: str(r.alg),
      publicJwk: str(r.public_jwk),
      privateKey: str(r.private_key),
      ageMs: num(r.age_ms),
      retired: num(r.retired) === 1,
    }));
  }

  async #open(row: KeyRow): Promise<SigningKey | undefined> {
    const alg = row.alg === "ES256" || row.alg === "EdDSA" ? row.alg : undefined;
    if (!alg) return undefined;
    try {
      const pem = this.#o.box.open(row.privateKey, row.kid).toString("utf8");
      return { kid: row.kid, alg, privateKey: await importPKCS8(pem, alg) };
    } catch {
      this.#o.logger?.warn(
        { kid: row.kid },
        "signing key cannot be opened with the configured key-encryption key",
      );
      return undefined;
    }
  }

  async #create(em: EntityManager): Promise<string> {
    const alg = this.#o.algorithm;
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    const published: JWK = { ...jwk, kid, alg, use: "sig" };
    const pem = await exportPKCS8(privateKey);
    await execute(
      em,
      "INSERT INTO ostmesh_signing_key (kid, alg, public_jwk, private_key, created_at)" +
        " VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6))",
      [kid, alg, JSON.stringify(published), this.#o.box.seal(Buffer.from(pem, "utf8"), kid)],
    );
    this.#o.logger?.info({ kid, alg }, "new token signing key");
    return kid;
  }

  /** Keys older than the signing one stop signing; they stay published until their tokens expired. */
  async #retireOlder(em: EntityManager, kid: string): Promise<void> {
    await execute(
      em,
      "UPDATE ostmesh_signing_key SET retired_at = UTC_TIMESTAMP(6)," +
        " expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND" +
        " WHERE retired_at IS NULL AND kid <> ? AND created_at < (SELECT c FROM" +
        " (SELECT created_at AS c FROM ostmesh_signing_key WHERE kid = ?) AS k)",
      [(this.#o.maxTokenTtlMs + RETIREMENT_MARGIN_MS) * 1000, kid, kid],
    );
  }
}

/** The public members of a stored JWK (never anything private, whatever the row holds). */
function publicJwk(text: string): JWK {
  const parsed: unknown = JSON.parse(text);
  const jwk: JWK = { kty: "" };
  if (typeof parsed !== "object" || parsed === null) return jwk;
  for (const name of ["kty", "kid", "alg", "use", "crv", "x", "y", "n", "e"] as const) {
    const value: unknown = Object.getOwnPropertyDescriptor(parsed, name)?.value;
    if (typeof value === "string") jwk[name] = value;
  }
  return jwk;
}
