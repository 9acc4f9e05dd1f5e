import { randomBytes } from "node:crypto";
import { type Client, createClient, createRouterTransport } from "@connectrpc/connect";
import { allEntities, createOrm, type Orm, query, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { AccessTokenVerifier, authInterceptor, CachedJwks, type SqlQuery } from "@ostmesh/kit/auth/index.ts";
import { IdentityService } from "@ostmesh/proto";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { type IdentityConfig, loadIdentityConfig } from "./config.ts";
import { createIdentity, type Identity } from "./identity.ts";

/**
 * A real identity service on a scratch copy of the fresh osTicket install: migrations applied, the service
 * behind the real auth interceptor (verifying tokens against the service's own JWKS and re-reading
 * principals from the database), reached through an in-memory Connect transport.
 */
export interface IdentityHarness {
  db: ScratchDatabase;
  orm: Orm;
  q: SqlQuery;
  config: IdentityConfig;
  identity: Identity;
  client: Client<typeof IdentityService>;
  gatewaySecret: string;
  eventSubjectPrefix: string;
  /** Logs the fresh install's admin in (ostadmin / Adm1nPass!) and returns Authorization headers. */
  adminHeaders(): Promise<Headers>;
  /** Authorization headers of a SERVICE token for the gateway (SERVICE_SCOPES: auth:check, syslog:write, …). */
  gatewayHeaders(): Promise<Headers>;
  close(): Promise<void>;
}

export const ADMIN = { username: "ostadmin", password: "Adm1nPass!" } as const;

export async function identityHarness(
  label: string,
  env: Record<string, string> = {},
): Promise<IdentityHarness> {
  const db = await createScratchDatabase({ label });
  const orm = await createOrm({ url: db.url, entities: allEntities });
  await runMigrations(orm);
  const gatewaySecret = randomBytes(32).toString("base64url");
  const config = loadIdentityConfig({
    IDENTITY_KEY_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    IDENTITY_SERVICE_CLIENTS: `gateway=${gatewaySecret}`,
    ...env,
  });
  const eventSubjectPrefix = `test.${process.env.OSTMESH_TEST_RUN ?? "run"}.${randomBytes(3).toString("hex")}.events`;
  const identity = createIdentity({ orm, config, eventSubjectPrefix });
  const q: SqlQuery = (sql, params = []) => query(orm.em.fork(), sql, params);
  const tokens = new AccessTokenVerifier({
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    keys: new CachedJwks(() => identity.jwks(), { cooldownMs: 0 }).getKey,
  });
  const transport = createRouterTransport((router) => router.service(IdentityService, identity.service), {
    router: { interceptors: [authInterceptor({ tokens, db: q })] },
  });
  const client = createClient(IdentityService, transport);
  const bearer = (token: string) => new Headers({ authorization: `Bearer ${token}` });
  return {
    db,
    orm,
    q,
    config,
    identity,
    client,
    gatewaySecret,
    eventSubjectPrefix,
    async adminHeaders() {
      const res = await client.login({ kind: PrincipalKind.AGENT, ...ADMIN });
      return bearer(res.tokens?.accessToken ?? "");
    },
    async gatewayHeaders() {
      const res = await client.issueServiceToken({ serviceName: "gateway", secret: gatewaySecret });
      return bearer(res.tokens?.accessToken ?? "");
    },
    async close() {
      await orm.close();
      await db.drop();
    },
  };
}
