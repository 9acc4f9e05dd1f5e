import { type EnvSource, env, loadConfig } from "@ostmesh/kit";

/** The notification service's own settings (the mesh-wide ones come from kit's loadMeshConfig). */
export interface NotificationConfig {
  /** SMTP_URL (smtp://user:pass@host:587, smtps://host:465); e-mail notifications are off when unset. */
  readonly smtpUrl: string | undefined;
  /**
   * OSTICKET_SECRET_SALT: osTicket's SECRET_SALT (include/ost-config.php). With it, e-mails carry osTicket's own
   * signed Message-IDs, so replies by e-mail thread onto the entry and identify the recipient as osTicket's mail
   * handling does (and as the ticket service's with the same setting).
   */
  readonly secretSalt: string | undefined;
  /** NOTIFICATION_CAPTURE: pick up changes made by osTicket's PHP side (default on). */
  readonly capture: boolean;
  /** NOTIFICATION_OUTBOX_RELAY: run an outbox relay here too (one leader per database; default on). */
  readonly outboxRelay: boolean;
  readonly webhooks: {
    /** WEBHOOK_ALLOWED_CIDRS: non-public ranges webhooks may still reach, e.g. "10.0.0.0/8,127.0.0.1/32". */
    readonly allowedCidrs: string[];
    /** WEBHOOK_ALLOW_HTTP: plain http to any allowed target (default: http only to loopback). */
    readonly allowHttp: boolean;
    /** WEBHOOK_TIMEOUT: one attempt's deadline (default 10 s). */
    readonly timeoutMs: number;
    /** WEBHOOK_RETRY_PERIOD: how long a failing delivery is retried (default 24 h). */
    readonly retryPeriodMs: number;
    /** WEBHOOK_DISABLE_AFTER_FAILURES / WEBHOOK_DISABLE_AFTER: sustained failure that disables (50 / 24 h). */
    readonly disableAfterFailures: number;
    readonly disableAfterMs: number;
  };
  readonly watch: {
    /** WATCH_MAX_BUFFERED: events buffered per stream for a slow client (default 256). */
    readonly maxBuffered: number;
    /** WATCH_SLOW_CLIENT_TIMEOUT: how long a full buffer waits before the stream is closed (default 30 s). */
    readonly slowClientTimeoutMs: number;
  };
}

export function loadNotificationConfig(source: EnvSource = process.env): NotificationConfig {
  return loadConfig(
    (read) => ({
      smtpUrl: read(env.url("SMTP_URL", { protocols: ["smtp:", "smtps:"] }).optional()),
      secretSalt: read(env.string("OSTICKET_SECRET_SALT").optional()),
      capture: read(env.bool("NOTIFICATION_CAPTURE").default(true)),
      outboxRelay: read(env.bool("NOTIFICATION_OUTBOX_RELAY").default(true)),
      webhooks: {
        allowedCidrs: read(env.string("WEBHOOK_ALLOWED_CIDRS").default(""))
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
        allowHttp: read(env.bool("WEBHOOK_ALLOW_HTTP").default(false)),
        timeoutMs: read(env.duration("WEBHOOK_TIMEOUT", { min: 100 }).default(10_000)),
        retryPeriodMs: read(env.duration("WEBHOOK_RETRY_PERIOD", { min: 1_000 }).default(24 * 3_600_000)),
        disableAfterFailures: read(env.int("WEBHOOK_DISABLE_AFTER_FAILURES", { min: 1 }).default(50)),
        disableAfterMs: read(env.duration("WEBHOOK_DISABLE_AFTER").default(24 * 3_600_000)),
      },
      watch: {
        maxBuffered: read(env.int("WATCH_MAX_BUFFERED", { min: 1, max: 100_000 }).default(256)),
        slowClientTimeoutMs: read(env.duration("WATCH_SLOW_CLIENT_TIMEOUT", { min: 100 }).default(30_000)),
      },
    }),
    source,
  );
}
