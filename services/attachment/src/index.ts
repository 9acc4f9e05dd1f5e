import { createOrm } from "@ostmesh/db";
import type { EnvSource, RegisterService } from "@ostmesh/kit";
import { mikroOrmPoolSource, watchDbPool } from "@ostmesh/kit/metrics/index.ts";
import { AttachmentService } from "@ostmesh/proto";
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
 * (closed at shutdown), the download-link signer from ATTACHMENT_LINK_SECRET (a random one, with a
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
    const orm = await createOrm({
      url: deps.config.databaseUrl,
      entities: [],
      extra: { discovery: { warnWhenNoEntities: false } },
    });
    deps.onShutdown(() => orm.close());
    deps.onShutdown(watchDbPool(deps.metrics.registry, mikroOrmPoolSource("attachment", orm)));
    const signer = new DownloadLinkSigner({
      secret: config.linkSecret,
      previousSecrets: config.previousLinkSecrets,
      ...(options.clock ? { now: options.clock } : {}),
    });
    router.service(
      AttachmentService,
      new AttachmentServiceImpl({ orm, signer, config, ...(options.clock ? { clock: options.clock } : {}) }),
    );
  };
}

/**
 * Adds the attachment service to a process: its RPC implementations (`router.service(...)`), the connections it
 * opens (closed through `deps.onShutdown`) and any readiness checks of its own. The process already serves
 * grpc.health.v1 and checks MySQL and NATS.
 */
export const register: RegisterService = attachmentService();
