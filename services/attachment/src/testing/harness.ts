/**
 * Test support for the attachment service's RPCs: the real service in a real kit process on a scratch copy
 * of the fresh osTicket install (ostmesh migrations applied), behind the real auth interceptor, served over
 * h2c on a free port and reached with real gRPC clients — the way other services and the gateway reach it.
 * Callers come from the BOLA world of @ostmesh/kit (agents, end users, API keys) plus a SERVICE principal
 * holding every files scope, with real signed tokens.
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { createOrm, type EntityManager, type Orm, query, runMigrations } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import { type Logger, type ServiceProcess, startServiceProcess } from "@ostmesh/kit";
import { authInterceptor, type SqlQuery } from "@ostmesh/kit/auth/index.ts";
import { createTestIssuer, type TestIssuer } from "@ostmesh/kit/auth/testing/issuer.ts";
import { bolaHeaders } from "@ostmesh/kit/auth/testing/matrix.ts";
import { type BolaCaller, type BolaWorld, createBolaWorld } from "@ostmesh/kit/auth/testing/world.ts";
import { silentLogger, testConfig } from "@ostmesh/kit/testing/harness.ts";
import { AttachmentService } from "@ostmesh/proto";
import { PrincipalKind, PrincipalSchema } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { attachmentService } from "../index.ts";
import { DownloadLinkSigner } from "../links/index.ts";
import { run } from "../storage/sql.ts";

export const LINK_SECRET = "attachment-rpc-test-secret-0123456789abcdef";

export interface AttachmentHarness {
  db: ScratchDatabase;
  /** An ORM of the test's own on the scratch database, for setting up rows and checking what was written. */
  orm: Orm;
  em(): EntityManager;
  world: BolaWorld;
  issuer: TestIssuer;
  process: ServiceProcess;
  /** http://127.0.0.1:<h2c port> */
  baseUrl: string;
  transport: Transport;
  client: Client<typeof AttachmentService>;
  /** Signs and checks links with the service's secret and clock. */
  signer: DownloadLinkSigner;
  /** The service's clock (ms); tests move it with `advance`. */
  now(): number;
  advance(ms: number): void;
  /** Authorization headers of a SERVICE principal with files:read, files:write and cron:run. */
  serviceHeaders(): Promise<Headers>;
  /** Authorization headers of a BOLA world caller. */
  headersOf(caller: BolaCaller): Promise<Headers>;
  /** Sets osTicket's max_file_size (bytes). */
  setMaxFileSize(bytes: number): Promise<void>;
  close(): Promise<void>;
}

export async function attachmentHarness(
  label: string,
  options: { /** The service process's logger (default: silent). */ logger?: Logger } = {},
): Promise<AttachmentHarness> {
  const db = await createScratchDatabase({ label });
  const orm = await createOrm({
    url: db.url,
    entities: [],
    pool: { max: 4 },
    extra: { discovery: { warnWhenNoEntities: false } },
  });
  await runMigrations(orm);
  const world = await createBolaWorld(db.url, {
    apiKeyScopes: ["tickets:read", "files:read", "files:write", "cron:run"],
  });
  const issuer = await createTestIssuer();
  const q: SqlQuery = (sql, params = []) => query(orm.em.fork(), sql, params);
  let clock = Date.now();
  const now = () => clock;
  const service = await startServiceProcess({
    name: "ostmesh-attachment-test",
    config: testConfig({ DATABASE_URL: db.url, LOG_LEVEL: "silent" }),
    logger: options.logger ?? silentLogger(),
    services: [
      {
        name: "attachment",
        register: attachmentService({ env: { ATTACHMENT_LINK_SECRET: LINK_SECRET }, clock: now }),
      },
    ],
    interceptors: [authInterceptor({ tokens: issuer.verifier, db: q })],
    listen: { h2c: [0], admin: 0, host: "127.0.0.1" },
    handleSignals: false,
  });
  const baseUrl = `http://127.0.0.1:${service.ports.h2c[0]}`;
  const session = new Http2SessionManager(baseUrl);
  const transport = createGrpcTransport({ baseUrl, sessionManager: session });
  const serviceToken = await issuer.sign(
    create(PrincipalSchema, {
      actor: { kind: PrincipalKind.SERVICE, username: "ticket", displayName: "ticket" },
      scopes: ["files:read", "files:write", "cron:run"],
    }),
    { ttlSec: 3600 },
  );
  return {
    db,
    orm,
    em: () => orm.em.fork(),
    world,
    issuer,
    process: service,
    baseUrl,
    transport,
    client: createClient(AttachmentService, transport),
    signer: new DownloadLinkSigner({ secret: LINK_SECRET, now }),
    now,
    advance(ms) {
      clock += ms;
    },
    async serviceHeaders() {
      return new Headers({ authorization: `Bearer ${serviceToken}` });
    },
    headersOf: (caller) => bolaHeaders(world, issuer, caller),
    async setMaxFileSize(bytes) {
      await run(
        orm.em.fork(),
        "UPDATE `ost_config` SET `value` = ? WHERE `namespace` = 'core' AND `key` = 'max_file_size'",
        [String(bytes)],
      );
    },
    async close() {
      session.abort();
      await service.shutdown("test done");
      await world.close();
      await orm.close(true);
      await db.drop();
    },
  };
}

/** `size` reproducible pseudo-random bytes (fast, so big files cost little to make). */
export function bytesOf(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function randomName(prefix: string, ext = "bin"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}.${ext}`;
}
