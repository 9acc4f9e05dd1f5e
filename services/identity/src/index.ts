import { allEntities, createOrm, runMigrations } from "@ostmesh/db";
import { configOrExit, type RegisterService } from "@ostmesh/kit";
import { mikroOrmPoolSource, watchDbPool } from "@ostmesh/kit/metrics/index.ts";
import { IdentityService } from "@ostmesh/proto";
import mysql from "mysql2/promise";
import { loadIdentityConfig } from "./config.ts";
import { createIdentity } from "./identity.ts";

export { checkApiKey, createApiKey, listApiKeys, revokeApiKey } from "./apikeys.ts";
export { type IdentityConfig, loadIdentityConfig, SERVICE_SCOPES, type ServiceClient } from "./config.ts";
export { SecretBox } from "./crypto.ts";
export { createIdentity, type Identity } from "./identity.ts";
export { SigningKeys } from "./keys.ts";
export { Authenticator, BAD_CREDENTIALS, LoginThrottle, lockoutSettings } from "./login.ts";
export { hashPassword, phpassPortable, verifyPassword } from "./passwords.ts";
export { IdentityServiceImpl } from "./service.ts";
export { REFRESH_TOKEN_PREFIX, Sessions, TokenIssuer } from "./tokens.ts";

/** The identity service's name in the mesh (OSTMESH_SERVICES, IDENTITY_URL, health checks). */
export const name = "identity";

/** How often expired keys, sessions and failure counters are deleted. */
const PURGE_INTERVAL_MS = 15 * 60_000;

/**
 * The identity service's contribution to a process: its own ORM (osTicket's and ostmesh's entities), the
 * identity migrations (applied under a MySQL advisory lock, so replicas starting together run them once),
 * IdentityService on the router, and a periodic purge of expired rows.
 */
export const register: RegisterService = async (router, deps) => {
  const config = configOrExit(() => loadIdentityConfig(), "identity");
  const orm = await createOrm({
    url: deps.config.databaseUrl,
    entities: allEntities,
  });
  deps.onShutdown(() => orm.close());
  deps.onShutdown(watchDbPool(deps.metrics.registry, mikroOrmPoolSource("identity", orm)));
  if (process.env.IDENTITY_MIGRATE !== "false")
    await migrateLocked(deps.config.databaseUrl, () => runMigrations(orm));
  const identity = createIdentity({ orm, config, logger: deps.logger });
  router.service(IdentityService, identity.service);
  const timer = setInterval(() => {
    identity.purge().catch((error: unknown) => deps.logger.warn({ err: error }, "identity purge failed"));
  }, PURGE_INTERVAL_MS);
  timer.unref();
  deps.onShutdown(() => clearInterval(timer));
};

async function migrateLocked(databaseUrl: string, migrate: () => Promise<unknown>): Promise<void> {
  const conn = await mysql.createConnection({ uri: databaseUrl });
  try {
    await conn.query("SELECT GET_LOCK('ostmesh_migrations', 120)");
    await migrate();
  } finally {
    await conn.query("SELECT RELEASE_LOCK('ostmesh_migrations')").catch(() => undefined);
    await conn.end();
  }
}
