import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { accessRuleOf } from "@ostmesh/proto";
import type { AccessRule } from "@ostmesh/proto/gen/osticket/common/v1/access_pb.js";
import {
  ApiKeyKind,
  type Principal,
  PrincipalKind,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import type { Logger } from "pino";
import { checkAccessRule } from "./access.ts";
import {
  checkOstmeshKey,
  ipAllowed,
  isOstmeshKey,
  osticketKeyBinding,
  osticketKeyPrincipal,
  ostmeshKeyRow,
} from "./api-keys.ts";
import type { KeyBinding } from "./claims.ts";
import { agentPrincipalRead, endUserPrincipalRead } from "./directory.ts";
import { ANONYMOUS, accessRuleKey, idOf, kindOf, principalKey, subjectOf } from "./principal.ts";
import { num, queryAll, type SqlQuery, type SqlRow, type SqlStatement, str } from "./sql.ts";
import { type AccessTokenVerifier, CredentialError, type OidcVerifier, unverifiedIssuer } from "./verify.ts";

/**
 * How credentials travel (the same at the gateway and between services):
 *   Authorization: Bearer <ostmesh access token>   agents, end users, API keys (after CheckApiKey), services
 *   Authorization: Bearer <OIDC access token>      tokens of the configured external provider
 *   Authorization: Bearer osm_...  or  X-API-Key: osm_...   ostmesh API keys
 * The gateway forwards the caller's Authorization / X-API-Key headers unchanged (legacy osTicket keys are
 * exchanged for an access token through IdentityService.CheckApiKey first), and every service verifies them
 * again itself: no service trusts an identity header it cannot verify.
 */
export const API_KEY_HEADER = "x-api-key";

export interface AuthInterceptorOptions {
  /** Verifies ostmesh access tokens (required). */
  tokens: AccessTokenVerifier;
  /** Verifies tokens of an external OIDC provider (resource-server mode). */
  oidc?: OidcVerifier;
  /**
   * Database access for what a token cannot say by itself: ostmesh API keys are checked against
   * ostmesh_api_key on every request, and (with `revalidate`) agents, end users, sessions and keys are
   * re-read so deactivation, locking, logout, revocation and role changes apply at once. Without it only
   * tokens are accepted and their contents are trusted until they expire.
   */
  db?: SqlQuery;
  /** Re-read the principal of every token from the database (default: true when `db` is given). */
  revalidate?: boolean;
  /** The RPC's access rule; defaults to the (osticket.common.v1.access) option in the contract. */
  ruleOf?: (method: DescMethod) => AccessRule | undefined;
  /** Services served without any check (default: the gRPC health service). */
  exemptServices?: readonly string[];
  logger?: Logger;
}

/**
 * The authorization interceptor of every ostmesh service: resolves the caller's principal from the request
 * headers, enforces the RPC's declared access rule (kind, scope, admin, agent-level permission), and puts
 * the principal and rule into the context (`principalKey`, `accessRuleKey`) for the handler's
 * target-dependent checks (tickets.ts). A credential that is present but invalid is UNAUTHENTICATED, never
 * silently anonymous.
 */
export function authInterceptor(options: AuthInterceptorOptions): Interceptor {
  const exempt = new Set(options.exemptServices ?? ["grpc.health.v1.Health"]);
  const ruleOf = options.ruleOf ?? accessRuleOf;
  const resolve = principalResolver(options);
  return (next) => async (req) => {
    if (exempt.has(req.service.typeName)) return next(req);
    let principal: Principal;
    try {
      principal = await resolve(req.header);
    } catch (error) {
      if (error instanceof CredentialError) {
        options.logger?.info({ rpc: req.url, reason: error.message }, "credential rejected");
        throw new ConnectError("invalid credentials", Code.Unauthenticated);
      }
      throw error;
    }
    const rule = ruleOf(req.method);
    const decision = checkAccessRule(rule, principal);
    if (!decision.allowed) {
      options.logger?.info(
        {
          rpc: `${req.service.typeName}/${req.method.name}`,
          principal: subjectOf(principal),
          reason: decision.reason,
        },
        "access denied",
      );
      throw new ConnectError(
        decision.code === Code.Unauthenticated ? "authentication required" : "permission denied",
        decision.code,
      );
    }
    req.contextValues.set(principalKey, principal);
    req.contextValues.set(accessRuleKey, rule);
    return next(req);
  };
}

/** Resolves the principal of a request's headers (ANONYMOUS without credentials); throws CredentialError. */
export function principalResolver(
  options: Pick<AuthInterceptorOptions, "tokens" | "oidc" | "db" | "revalidate">,
): (headers: Headers) => Promise<Principal> {
  const revalidate = options.revalidate ?? options.db !== undefined;
  return async (headers) => {
    const authorization = headers.get("authorization");
    const apiKey = headers.get(API_KEY_HEADER);
    if (authorization !== null && apiKey !== null)
      throw new CredentialError("both Authorization and X-API-Key were sent");
    if (apiKey !== null) return apiKeyPrincipal(options.db, apiKey.trim());
    if (authorization === null) return ANONYMOUS;
    const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(authorization);
    if (!match?.[1]) throw new CredentialError("Authorization is not a Bearer credential");
    const credential = match[1];
    if (isOstmeshKey(credential)) return apiKeyPrincipal(options.db, credential);
    // A token verified before is ours: its payload need not be decoded again to tell (the callers of a
    // service send the same token with every call, and an agent's carries its whole authority).
    const remembered = options.tokens.remembers(credential);
    const issuer = remembered ? options.tokens.issuer : unverifiedIssuer(credential);
    if (issuer === undefined) throw new CredentialError("the bearer credential is not a JWT");
    if (!remembered && options.oidc && issuer === options.oidc.issuer) {
      // OIDC principals are looked up in the database by the verifier itself: always fresh.
      return (await options.oidc.verify(credential)).principal;
    }
    const verified = await options.tokens.verify(credential);
    if (!revalidate || !options.db) return verified.principal;
    return revalidatePrincipal(options.db, verified.principal, verified.sessionId, verified.keyBinding);
  };
}

async function apiKeyPrincipal(db: SqlQuery | undefined, presented: string): Promise<Principal> {
  if (!db) throw new CredentialError("API keys are not accepted by this service");
  // No client IP is known here (the caller may be behind the gateway): keys restricted to IPs must be
  // exchanged at the gateway through CheckApiKey, which gets the client IP explicitly.
  const check = await checkOstmeshKey(db, presented, {});
  if (check.outcome !== "ok") throw new CredentialError(`API key ${check.outcome}`);
  return check.principal;
}

/**
 * Re-reads a token's principal: the agent's current authority (inactive → rejected), the end user (locked
 * → rejected), the session (logged out → rejected), the API key (revoked, expired, deactivated →
 * rejected). Scopes of keys are narrowed to what the key holds now. A key's token bound to the key
 * (`keyBinding`) is rejected once the key would fail the check it was issued on: an osTicket key's row
 * whose ipaddr or apikey differ from what was checked, an ostmesh key whose allowed addresses no longer
 * admit the address it was checked from.
 */
export async function revalidatePrincipal(
  db: SqlQuery,
  principal: Principal,
  sessionId: string | undefined,
  keyBinding?: KeyBinding,
): Promise<Principal> {
  const session: SqlStatement | undefined = sessionId
    ? {
        sql: "SELECT MAX(revoked_at IS NOT NULL) AS revoked FROM ostmesh_refresh_token WHERE family_id = ?",
        params: [sessionId],
      }
    : undefined;
  const sessionEnded = (rows: readonly SqlRow[] = []) => {
    const [family] = rows;
    if (!family || family.revoked === null || num(family.revoked) === 1)
      throw new CredentialError("the session of this token has ended");
  };
  const credentialId = principal.credentialId;
  const kind = kindOf(principal);
  if (keyBinding && kind !== PrincipalKind.API_KEY)
    throw new CredentialError("only an API key's token can be bound to a key");
  const person =
    kind === PrincipalKind.AGENT
      ? { read: agentPrincipalRead(idOf(principal)), gone: "the agent is no longer active" }
      : kind === PrincipalKind.END_USER
        ? { read: endUserPrincipalRead(idOf(principal)), gone: "the end user no longer exists or is locked" }
        : undefined;
  if (person) {
    // The session and the person in one round trip where `db` batches.
    const results = await queryAll(
      db,
      session ? [session, ...person.read.statements] : person.read.statements,
    );
    if (session) sessionEnded(results[0]);
    const fresh = person.read.read(session ? results.slice(1) : results);
    if (!fresh) throw new CredentialError(person.gone);
    fresh.credentialId = credentialId;
    return fresh;
  }
  if (session) sessionEnded(await db(session.sql, session.params));
  switch (kind) {
    case PrincipalKind.API_KEY: {
      if (principal.actor?.apiKeyKind === ApiKeyKind.OSTICKET) {
        const [key] = await db(
          "SELECT id, isactive, can_create_tickets, can_exec_cron, notes, ipaddr, apikey FROM ost_api_key WHERE id = ?",
          [idOf(principal)],
        );
        if (!key || num(key.isactive) !== 1) throw new CredentialError("the API key is no longer active");
        if (keyBinding) {
          const now = osticketKeyBinding({ ipaddr: str(key.ipaddr), apikey: str(key.apikey) });
          if (now.ip !== keyBinding.ip || now.key !== keyBinding.key)
            throw new CredentialError("the API key's address or secret changed since the token was issued");
        }
        const fresh = osticketKeyPrincipal({
          id: num(key.id),
          notes: str(key.notes),
          canCreateTickets: num(key.can_create_tickets) === 1,
          canExecCron: num(key.can_exec_cron) === 1,
        });
        fresh.credentialId = credentialId;
        return fresh;
      }
      const [key] = await db(
        "SELECT scopes, secret_hash, allowed_ips, revoked_at IS NOT NULL AS revoked," +
          " (expires_at IS NOT NULL AND expires_at <= UTC_TIMESTAMP(6)) AS expired FROM ostmesh_api_key WHERE id = ?",
        [idOf(principal)],
      );
      if (!key || num(key.revoked) === 1 || num(key.expired) === 1)
        throw new CredentialError("the API key is no longer active");
      if (keyBinding) {
        if (str(key.secret_hash) !== keyBinding.key)
          throw new CredentialError("the token is bound to another API key");
        if (!ipAllowed(ostmeshKeyRow(key).allowedIps, keyBinding.ip))
          throw new CredentialError("the API key no longer admits the address its token was issued for");
      }
      const held = new Set(parseScopes(key.scopes));
      principal.scopes = principal.scopes.filter((s) => held.has(s));
      return principal;
    }
    default:
      return principal;
  }
}

function parseScopes(value: unknown): string[] {
  try {
    const parsed: unknown = JSON.parse(str(value));
    return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}
