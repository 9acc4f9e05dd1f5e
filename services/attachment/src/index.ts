import { createOrm, runMigrations } from "@ostmesh/db";
import type { EnvSource, RegisterService } from "@ostmesh/kit";
import { mikroOrmPoolSource, watchDbPool } from "@ostmesh/kit/metrics/index.ts";
import { AttachmentService } from "@ostmesh/proto";
import mysql from "mysql2/promise";
import { loadAttachmentConfig } from "./config.ts";
import { DownloadLinkSigner } from "./links/index.ts";
import { AttachmentServiceImpl } from "./rpc/service.ts";

export { type AttachmentConfig, loadAttachmentConfig } from "./config.ts";
export {
  type AttachmentServiceDeps,
  AttachmentServiceImpl,
  DEFAULT_LINK_TTL_SECONDS,
  DOWNLOAD_PATH_PREFIX,
  MAX_LINK_TTL_SECONDS,
} from "./rpc/service.ts";

/** The attachment service's name in the mesh (OSTMESH_SERVICES, ATTACHMENT_URL, health checks). */
export const name = "attachment";

export interface AttachmentServiceOptions {
  /** Where ATTACHMENT_* settings come from (default: process.env). */
  env?: EnvSource;
  /** Milliseconds since the epoch, for link expiries (default: Date.now). */
  clock?: () => number;
}

/**
 * The attachment service's contribution to a process: its own connection pool on osTicket's database
 * (closed at shutdown, watched on /metrics), ostmesh's migrations (ATTACHMENT_MIGRATE=false skips them), the
 * download-link signer from ATTACHMENT_LINK_SECRET (a random one, with a
 * warning, when unset) and the AttachmentService routes.
 */
export function attachmentService(options: AttachmentServiceOptions = {}): RegisterService {
  return async (router, deps) => {
    const config = loadAttachmentConfig(options.env ?? process.env, deps.config.limits);
    if (config.linkSecretGenerated) {
      deps.logger.warn(
        "ATTACHMENT_LINK_SECRET is not set: download links are signed with a random secret and stop working when this process restarts",
      );
    }
    const env = options.env ?? process.env;
    const orm = await createOrm({
      url: deps.config.databaseUrl,
      entities: [],
      pool: { max: config.dbPoolMax },
      extra: { discovery: { warnWhenNoEntities: false } },
    });
    deps.onShutdown(() => orm.close());
    deps.onShutdown(watchDbPool(deps.metrics.registry, mikroOrmPoolSource(name, orm)));
    // ostmesh's own tables (idempotency records) must exist; processes starting together migrate once.
    if (env.ATTACHMENT_MIGRATE !== "false")
      await migrateLocked(deps.config.databaseUrl, () => runMigrations(orm));
    const signer = new DownloadLinkSigner({
      secret: config.linkSecret,
      previousSecrets: config.previousLinkSecrets,
      ...(options.clock ? { now: options.clock } : {}),
    });
    router.service(
      AttachmentService,
      new AttachmentServiceImpl({
        orm,
        signer,
        config,
        logger: deps.logger,
        ...(options.clock ? { clock: options.clock } : {}),
      }),
      // File bytes are never compressed on the way out: most are compressed already (images, PDFs,
      // archives), and gzip over 500 KiB chunks would cost more CPU than the whole rest of a download.
      // Compressed requests are still accepted.
      { compressMinBytes: Number.MAX_SAFE_INTEGER },
    );
  };
}

/**
 * Adds the attachment service to a process: its RPC implementations (`router.service(...)`), the connections it
 * opens (closed through `deps.onShutdown`) and any readiness checks of its own. The process already serves
 * grpc.health.v1 and checks MySQL and NATS.
 */
export const register: RegisterService = attachmentService();

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
