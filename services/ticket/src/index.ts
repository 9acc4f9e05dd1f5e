import {
  connectBus,
  type EventStreamDefinition,
  ensureStreams,
  eventStreamFromEnv,
  nudgeRelays,
  type OutboxRelay,
  relayPrometheusMetrics,
  startOutboxRelay,
} from "@ostmesh/bus";
import { createOrm, runMigrations } from "@ostmesh/db";
import { configOrExit, type EnvSource, type RegisterService } from "@ostmesh/kit";
import { IssuedServiceToken } from "@ostmesh/kit/auth/service-token.ts";
import { mikroOrmPoolSource, watchDbPool } from "@ostmesh/kit/metrics/index.ts";
import { AttachmentService, IdentityService, stampEventId, TicketService } from "@ostmesh/proto";
import mysql from "mysql2/promise";
import { loadTicketServiceConfig } from "./config.ts";
import type { Clock, MailDomainVerifier } from "./domain/index.ts";
import { TicketEventWriter } from "./events.ts";
import { AttachmentServiceFileStore } from "./files.ts";
import { TicketServiceImpl } from "./service.ts";

export { loadTicketServiceConfig, type TicketServiceConfig } from "./config.ts";
export { TicketEventWriter } from "./events.ts";
export { AttachmentServiceFileStore, type FileStore } from "./files.ts";
export type { TicketServiceDeps } from "./runtime.ts";
export { TicketServiceImpl } from "./service.ts";

/** The ticket service's name in the mesh (OSTMESH_SERVICES, TICKET_URL, health checks). */
export const name = "ticket";

/** Core NATS subject that wakes the outbox relay leader, wherever it runs (not part of the event stream). */
export const OUTBOX_WAKE_SUBJECT = "ostmesh.outbox.wake";

export interface TicketServiceOptions {
  /** Where TICKET_* settings come from (default: process.env). */
  readonly env?: EnvSource;
  /** The event stream (default: from NATS_EVENTS_* in the environment, i.e. OSTICKET_EVENTS). */
  readonly stream?: EventStreamDefinition;
  /** Pins SQL NOW() for writes (tests). */
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly verifyMailDomain?: MailDomainVerifier;
  /** The service's own credential for calls to the attachment service (default: TICKET_SERVICE_SECRET). */
  readonly authorization?: (signal: AbortSignal) => Promise<string | undefined>;
}

/**
 * The ticket service's contribution to a process: its own connection pool, ostmesh's migrations (under a
 * MySQL lock, so replicas starting together run them once; TICKET_MIGRATE=false skips them), the event
 * stream, the outbox relay (one leader per database, whichever replica holds the lease;
 * TICKET_OUTBOX_RELAY=false leaves it to others), and TicketService on the router. Everything opened here
 * is closed through onShutdown.
 */
export function ticketService(options: TicketServiceOptions = {}): RegisterService {
  return async (router, deps) => {
    const env = options.env ?? process.env;
    const config = configOrExit(() => loadTicketServiceConfig(env), name);
    // Every statement of this service binds its values as `?` parameters, so one round trip may carry
    // several (deferred writes travel with the next statement).
    const orm = await createOrm({
      url: deps.config.databaseUrl,
      pool: { max: config.dbPoolMax },
      multipleStatements: true,
    });
    deps.onShutdown(() => orm.close());
    deps.onShutdown(watchDbPool(deps.metrics.registry, mikroOrmPoolSource(name, orm)));
    if (env.TICKET_MIGRATE !== "false")
      await migrateLocked(deps.config.databaseUrl, () => runMigrations(orm));

    const stream = options.stream ?? eventStreamFromEnv(env);
    const bus = await connectBus({ url: deps.config.natsUrl, name: `ostmesh-${name}` });
    deps.onShutdown(() => bus.close());
    await ensureStreams(bus.jsm, stream);
    let relay: OutboxRelay | undefined;
    if (config.runOutboxRelay) {
      const running = startOutboxRelay({
        databaseUrl: deps.config.databaseUrl,
        js: bus.js,
        nc: bus.nc,
        wakeSubject: OUTBOX_WAKE_SUBJECT,
        logger: deps.logger.child({ component: "outbox-relay" }),
        metrics: relayPrometheusMetrics(deps.metrics.registry),
        // Events are written before their outbox id exists; the relay puts it in (Event.id).
        preparePayload: stampEventId,
      });
      relay = running;
      deps.onShutdown(() => running.stop());
    }

    const secret = env.TICKET_SERVICE_SECRET;
    const authorization =
      options.authorization ??
      (secret
        ? (() => {
            const token = new IssuedServiceToken(
              deps.topology.client(IdentityService, "identity"),
              name,
              secret,
            );
            return (signal: AbortSignal) => token.authorization(signal);
          })()
        : undefined);
    const service = new TicketServiceImpl({
      orm,
      outbox: {
        events: new TicketEventWriter(stream.subjectPrefix),
        // The leader may be another replica's (or the notification service's) relay.
        notify: () => nudgeRelays(relay, bus.nc, OUTBOX_WAKE_SUBJECT),
      },
      config,
      clients: {
        files: new AttachmentServiceFileStore(deps.topology.client(AttachmentService, "attachment")),
        authorization,
      },
      clock: options.clock,
      random: options.random,
      verifyMailDomain: options.verifyMailDomain,
      logger: deps.logger,
    });
    router.service(TicketService, service);
  };
}

/** The ticket service as configured by the environment. */
export const register: RegisterService = ticketService();

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
