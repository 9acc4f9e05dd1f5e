import type http from "node:http";
import { execute, type Orm } from "@ostmesh/db";
import type { Logger } from "pino";
import type { IdentityConfig } from "./config.ts";
import { SecretBox } from "./crypto.ts";
import { SigningKeys } from "./keys.ts";
import { Authenticator } from "./login.ts";
import { IdentityServiceImpl } from "./service.ts";
import { Sessions, TokenIssuer } from "./tokens.ts";

export interface Identity {
  readonly service: IdentityServiceImpl;
  readonly keys: SigningKeys;
  readonly issuer: TokenIssuer;
  readonly sessions: Sessions;
  readonly box: SecretBox;
  /** ostmesh's public keys, the JWKS document other processes verify tokens with. */
  jwks(): Promise<{ keys: Record<string, string>[] }>;
  /** Node handler for `GET /.well-known/jwks.json` (the gateway or an admin port can mount it). */
  jwksHandler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Deletes expired signing keys and refresh-token families (call periodically). */
  purge(): Promise<{ keys: number; sessions: number }>;
}

/** Wires the identity service's parts on one ORM. */
export function createIdentity(options: {
  orm: Orm;
  config: IdentityConfig;
  logger?: Logger;
  eventSubjectPrefix?: string;
}): Identity {
  const { orm, config, logger } = options;
  const box = new SecretBox(config.keyEncryptionKey);
  if (!box.persistent)
    logger?.warn(
      "IDENTITY_KEY_ENCRYPTION_KEY is not set: signing keys are encrypted with a key that lives only in this process",
    );
  const keys = new SigningKeys({
    algorithm: config.signingAlgorithm,
    rotationMs: config.keyRotationMs,
    maxTokenTtlMs: Math.max(config.accessTokenTtlMs, config.apiKeyTokenTtlMs, config.serviceTokenTtlMs),
    box,
    logger,
  });
  const issuer = new TokenIssuer({ issuer: config.auth.issuer, audience: config.auth.audience, keys });
  const sessions = new Sessions({
    refreshTtlMs: config.refreshTokenTtlMs,
    sessionMaxAgeMs: config.sessionMaxAgeMs,
  });
  const service = new IdentityServiceImpl({
    orm,
    config,
    keys,
    issuer,
    sessions,
    authenticator: new Authenticator(),
    box,
    logger,
    eventSubjectPrefix: options.eventSubjectPrefix,
  });
  const jwks = async () => {
    const em = orm.em.fork();
    await keys.signingKey(em);
    const published = await keys.publicKeys(em);
    return {
      keys: published.map((k) => {
        const out: Record<string, string> = {};
        for (const [name, value] of Object.entries(k))
          if (typeof value === "string" && value !== "") out[name] = value;
        return out;
      }),
    };
  };
  return {
    service,
    keys,
    issuer,
    sessions,
    box,
    jwks,
    jwksHandler: (req, res) => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD" }).end();
        return;
      }
      jwks().then(
        (doc) => {
          const body = JSON.stringify(doc);
          res.writeHead(200, {
            "content-type": "application/jwk-set+json",
            // Short: verifiers refetch on an unknown kid anyway; a rotated key shows up within a minute.
            "cache-control": "public, max-age=60",
          });
          res.end(req.method === "HEAD" ? undefined : body);
        },
        (error: unknown) => {
          logger?.error({ err: error }, "cannot serve the JWKS");
          res.writeHead(503, { "content-type": "text/plain" }).end("JWKS unavailable");
        },
      );
    },
    purge: async () => {
      const em = orm.em.fork();
      const purgedKeys = await keys.purgeExpired(em);
      const purgedSessions = await sessions.purgeExpired(em);
      await execute(
        em,
        "DELETE FROM ostmesh_login_failure WHERE last_failure_at < UTC_TIMESTAMP(6) - INTERVAL 1 DAY" +
          " AND (locked_until IS NULL OR locked_until < UTC_TIMESTAMP(6))",
      );
      return { keys: purgedKeys, sessions: purgedSessions };
    },
  };
}
