import { type EnvSource, env, Field, loadConfig, type ServiceName } from "@ostmesh/kit";
import { type AuthConfig, loadAuthConfig } from "@ostmesh/kit/auth/index.ts";

/** Signature algorithms the identity service can sign access tokens with. */
export const SIGNING_ALGORITHMS = ["ES256", "EdDSA"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** A service allowed to obtain SERVICE tokens through IssueServiceToken. */
export interface ServiceClient {
  readonly name: string;
  readonly secret: string;
  readonly scopes: readonly string[];
}

export interface IdentityConfig {
  readonly auth: AuthConfig;
  /** IDENTITY_ACCESS_TOKEN_TTL: lifetime of agent and end-user access tokens (default 10m). */
  readonly accessTokenTtlMs: number;
  /** IDENTITY_REFRESH_TOKEN_TTL: a refresh token unused for this long expires (default 336h = 14 days). */
  readonly refreshTokenTtlMs: number;
  /** IDENTITY_SESSION_MAX_AGE: a login session ends this long after the login, however used (default 720h). */
  readonly sessionMaxAgeMs: number;
  /** IDENTITY_API_KEY_TOKEN_TTL: lifetime of the tokens CheckApiKey returns (default 5m). */
  readonly apiKeyTokenTtlMs: number;
  /** IDENTITY_SERVICE_TOKEN_TTL: lifetime of SERVICE tokens (default 10m). */
  readonly serviceTokenTtlMs: number;
  /** IDENTITY_SIGNING_ALG: ES256 (default) or EdDSA. */
  readonly signingAlgorithm: SigningAlgorithm;
  /** IDENTITY_KEY_ROTATION: a new signing key takes over after this long (default 168h). */
  readonly keyRotationMs: number;
  /**
   * IDENTITY_KEY_ENCRYPTION_KEY: 32 bytes, base64 or base64url, that encrypt the private signing keys at
   * rest (AES-256-GCM) and key the HMACs of idempotency records. Required when NODE_ENV=production;
   * elsewhere an ephemeral key is generated (keys and stored replies then do not survive a restart).
   */
  readonly keyEncryptionKey: Buffer | undefined;
  /** IDENTITY_SERVICE_CLIENTS: `name=secret,name=secret` (secrets of at least 32 characters). */
  readonly serviceClients: readonly ServiceClient[];
}

/**
 * Scopes each ostmesh process gets on its SERVICE tokens. The gateway acts on its callers' credentials for
 * everything they ask; its own token checks keys (auth:check), writes the legacy API's system log
 * (syslog:write), reads the help topics' forms the legacy API validates against (tickets:read, the agent
 * view of GetHelpTopicForm) and fetches files for signed download links (files:read). The others read what
 * they show.
 */
export const SERVICE_SCOPES: ReadonlyMap<string, readonly string[]> = new Map<
  ServiceName | "gateway",
  readonly string[]
>([
  ["gateway", ["auth:check", "syslog:write", "tickets:read", "files:read"]],
  ["ticket", ["users:read", "users:write", "organizations:read", "agents:read", "files:read", "files:write"]],
  ["identity", []],
  ["attachment", ["tickets:read"]],
  ["notification", ["tickets:read", "users:read", "organizations:read", "agents:read", "files:read"]],
]);

export function loadIdentityConfig(source: EnvSource = process.env): IdentityConfig {
  const auth = loadAuthConfig(source);
  return loadConfig((read) => {
    const production = source.NODE_ENV === "production";
    const kekField = env
      .string("IDENTITY_KEY_ENCRYPTION_KEY")
      .refine((v) => (decodeKey(v) ? undefined : "must be 32 bytes in base64 or base64url"));
    const kek = read(production ? kekField : kekField.optional());
    return {
      auth,
      accessTokenTtlMs: read(
        env.duration("IDENTITY_ACCESS_TOKEN_TTL", { min: 10_000, max: 24 * 3_600_000 }).default(600_000),
      ),
      refreshTokenTtlMs: read(
        env.duration("IDENTITY_REFRESH_TOKEN_TTL", { min: 60_000 }).default(336 * 3_600_000),
      ),
      sessionMaxAgeMs: read(
        env.duration("IDENTITY_SESSION_MAX_AGE", { min: 60_000 }).default(720 * 3_600_000),
      ),
      apiKeyTokenTtlMs: read(
        env.duration("IDENTITY_API_KEY_TOKEN_TTL", { min: 10_000, max: 3_600_000 }).default(300_000),
      ),
      serviceTokenTtlMs: read(
        env.duration("IDENTITY_SERVICE_TOKEN_TTL", { min: 10_000, max: 24 * 3_600_000 }).default(600_000),
      ),
      signingAlgorithm: read(
        // Algorithm names are case-sensitive in JOSE; accept any case here and use the canonical spelling.
        new Field<SigningAlgorithm>(["IDENTITY_SIGNING_ALG"], "ES256 or EdDSA", "ES256", (raw) => {
          const found = SIGNING_ALGORITHMS.find((a) => a.toLowerCase() === raw.toLowerCase());
          return found ? { ok: true, value: found } : { ok: false, problem: "must be ES256 or EdDSA" };
        }).default("ES256"),
      ),
      keyRotationMs: read(env.duration("IDENTITY_KEY_ROTATION", { min: 60_000 }).default(168 * 3_600_000)),
      keyEncryptionKey: kek === undefined ? undefined : decodeKey(kek),
      serviceClients: read(
        new Field<ServiceClient[]>(
          ["IDENTITY_SERVICE_CLIENTS"],
          "name=secret,... with secrets of at least 32 characters",
          [],
          (raw) => {
            const clients = parseServiceClients(raw);
            return clients
              ? { ok: true, value: clients }
              : { ok: false, problem: "must be name=secret,... with secrets of at least 32 characters" };
          },
        ).default([]),
      ),
    };
  }, source);
}

function decodeKey(text: string): Buffer | undefined {
  const normalized = text.trim().replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(normalized)) return undefined;
  const bytes = Buffer.from(normalized, "base64");
  return bytes.length === 32 ? bytes : undefined;
}

/** Parses `name=secret,name=secret`; undefined when malformed. */
export function parseServiceClients(text: string): ServiceClient[] | undefined {
  const clients: ServiceClient[] = [];
  for (const part of text.split(",")) {
    const item = part.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    const name = item.slice(0, eq).trim();
    const secret = item.slice(eq + 1).trim();
    if (eq <= 0 || !/^[a-z][a-z0-9-]*$/.test(name) || secret.length < 32) return undefined;
    if (clients.some((c) => c.name === name)) return undefined;
    const scopes = SERVICE_SCOPES.get(name) ?? [];
    clients.push({ name, secret, scopes });
  }
  return clients;
}
