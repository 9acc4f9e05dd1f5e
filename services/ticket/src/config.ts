import { type EnvSource, env, loadConfig } from "@ostmesh/kit";

/** What the ticket service reads from its environment besides the mesh configuration. */
export interface TicketServiceConfig {
  /**
   * TICKET_PAGE_TOKEN_SECRET: HMAC key of the page tokens of list and search RPCs. Every replica must use the
   * same one. Unset: a fixed key, so tokens are still checked for integrity (a truncated or edited token is
   * INVALID_ARGUMENT) but could be forged by someone who reads this code; tokens only carry positions in a
   * result set the caller may see anyway, never authority.
   */
  readonly pageTokenSecret: string;
  /** TICKET_OUTBOX_RELAY: run the outbox relay in this process (default true; one leader per database). */
  readonly runOutboxRelay: boolean;
  /** TICKET_OVERDUE_BATCH: tickets marked overdue per batch of RunScheduledTasks (default 100). */
  readonly overdueBatchSize: number;
  /** TICKET_OVERDUE_MAX_BATCHES: batches per RunScheduledTasks call (default 10); the next call continues. */
  readonly overdueMaxBatches: number;
  /** TICKET_CLEANUP_BATCH: rows each DELETE of RunScheduledTasks' cleanup duties removes at most (default 1000). */
  readonly cleanupBatchSize: number;
  /** TICKET_CLEANUP_MAX_BATCHES: DELETEs per cleanup duty and RunScheduledTasks call (default 100); the next call continues. */
  readonly cleanupMaxBatches: number;
  /**
   * OSTICKET_SESSION_BACKEND: osTicket's SESSION_BACKEND (include/ost-config.php); leave unset where it is not
   * defined there. RunScheduledTasks deletes expired ost_session rows only where osTicket's cron would: the
   * database backend (osTicket's default: unset, `database`, an unknown value) or a chain with the database
   * (`database.memcache`, `memcache.database`); not for `memcache` or `system`. (osTicket also falls back to
   * the database for a memcache backend without MEMCACHE_SERVERS: leave this unset there too.)
   */
  readonly sessionBackend: string | undefined;
  /** TICKET_DB_POOL_MAX: connections of the service's pool (default 20). */
  readonly dbPoolMax: number;
  /** TICKET_METADATA_TTL: how long forms, fields, business-hours schedules and reference rows are reused across requests (default 5s). */
  readonly metadataTtlMs: number;
  /**
   * OSTICKET_SECRET_SALT: osTicket's SECRET_SALT (include/ost-config.php). With it, replies to mails that
   * osTicket's PHP sent are threaded by the Message-IDs it made, and its own mails coming back are
   * recognised as loops.
   */
  readonly secretSalt: string | undefined;
}

const DEFAULT_PAGE_TOKEN_SECRET = "ostmesh-ticket-page-token-v1";

export function loadTicketServiceConfig(source: EnvSource = process.env): TicketServiceConfig {
  return loadConfig(
    (read) => ({
      pageTokenSecret: read(
        env
          .string("TICKET_PAGE_TOKEN_SECRET", { pattern: /^.{16,}$/, expected: "at least 16 characters" })
          .default(DEFAULT_PAGE_TOKEN_SECRET),
      ),
      runOutboxRelay: read(env.bool("TICKET_OUTBOX_RELAY").default(true)),
      overdueBatchSize: read(env.int("TICKET_OVERDUE_BATCH", { min: 1, max: 10_000 }).default(100)),
      overdueMaxBatches: read(env.int("TICKET_OVERDUE_MAX_BATCHES", { min: 1, max: 1000 }).default(10)),
      cleanupBatchSize: read(env.int("TICKET_CLEANUP_BATCH", { min: 1, max: 100_000 }).default(1000)),
      cleanupMaxBatches: read(env.int("TICKET_CLEANUP_MAX_BATCHES", { min: 1, max: 10_000 }).default(100)),
      sessionBackend: read(env.string("OSTICKET_SESSION_BACKEND").optional()),
      dbPoolMax: read(env.int("TICKET_DB_POOL_MAX", { min: 1, max: 500 }).default(20)),
      metadataTtlMs: read(env.duration("TICKET_METADATA_TTL", { min: 0 }).default(5_000)),
      secretSalt: read(env.string("OSTICKET_SECRET_SALT").optional()),
    }),
    source,
  );
}
