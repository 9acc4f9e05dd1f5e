import { int, phpInt, phpTruthy, str } from "../rows.ts";
import type { BatchRead, Sql } from "../sql.ts";

/**
 * osTicket's PHP defaults for `core` keys that may be absent from ost_config (OsticketConfig::$defaults,
 * include/class.config.php L227-259). A key present in the table wins even when its value is ''.
 */
export const CORE_DEFAULTS: Readonly<Record<string, string>> = {
  allow_pw_reset: "1",
  pw_reset_window: "30",
  enable_richtext: "1",
  enable_avatars: "1",
  allow_attachments: "1",
  agent_name_format: "full",
  client_name_format: "original",
  auto_claim_tickets: "1",
  auto_refer_closed: "1",
  collaborator_ticket_visibility: "1",
  disable_agent_collabs: "",
  require_topic_to_close: "",
  system_language: "en_US",
  default_storage_bk: "D",
  message_autoresponder_collabs: "1",
  add_email_collabs: "1",
  clients_only: "",
  client_registration: "closed",
  accept_unregistered_email: "1",
  default_help_topic: "0",
  help_topic_sort_mode: "a",
  client_verify_email: "1",
  allow_auth_tokens: "1",
  verify_email_addrs: "1",
  client_avatar: "gravatar.mm",
  agent_avatar: "gravatar.mm",
  ticket_lock: "2",
  max_open_tickets: "0",
  files_req_auth: "1",
  force_https: "",
  allow_external_images: "0",
};

/** The helpdesk's `core` configuration for one use case (admin-editable: never cached across requests). */
export class HelpdeskConfig {
  readonly #values: ReadonlyMap<string, string | null>;

  constructor(values: ReadonlyMap<string, string | null>) {
    this.#values = values;
  }

  /** The raw value: the table's when the key exists, else osTicket's default, else null. */
  get(key: string): string | null {
    if (this.#values.has(key)) return this.#values.get(key) ?? null;
    return CORE_DEFAULTS[key] ?? null;
  }

  /** PHP truthiness of the value ('' and '0' are false). */
  flag(key: string): boolean {
    return phpTruthy(this.get(key));
  }

  /** PHP `(int)` of the value. */
  int(key: string): number {
    return phpInt(this.get(key) ?? "");
  }

  get defaultDeptId(): number {
    return this.int("default_dept_id");
  }
  get defaultSlaId(): number {
    return this.int("default_sla_id");
  }
  get defaultPriorityId(): number {
    return this.int("default_priority_id");
  }
  /** Config::getDefaultTicketStatusId: the configured id, else 1. */
  get defaultTicketStatusId(): number {
    return this.int("default_ticket_status_id") || 1;
  }
  get defaultHelpTopicId(): number {
    return this.int("default_help_topic");
  }
  get defaultScheduleId(): number {
    return this.int("schedule_id");
  }
  get defaultTimezone(): string {
    return this.get("default_timezone") || "UTC";
  }
  get ticketNumberFormat(): string {
    return this.get("ticket_number_format") ?? "######";
  }
  get ticketSequenceId(): number {
    return this.int("ticket_sequence_id");
  }
  get verifyEmailAddresses(): boolean {
    return this.flag("verify_email_addrs");
  }
  get autoClaimTickets(): boolean {
    return this.flag("auto_claim_tickets");
  }
  get autoReferClosed(): boolean {
    return this.flag("auto_refer_closed");
  }
  get requireTopicToClose(): boolean {
    return this.flag("require_topic_to_close");
  }
  get maxOpenTickets(): number {
    return this.int("max_open_tickets");
  }
  get agentNameFormat(): string {
    return this.get("agent_name_format") || "full";
  }
  get allowExternalImages(): boolean {
    return this.flag("allow_external_images");
  }
}

/** Reads the `core` namespace in one query. */
export async function loadConfig(tx: Sql): Promise<HelpdeskConfig> {
  return (await loadConfigAndClock(tx)).config;
}

/**
 * The `core` namespace and the DB clock in one query: `now` in epoch seconds and `nowMs` in milliseconds
 * (both honouring a pinned `SET timestamp`).
 */
export async function loadConfigAndClock(tx: Sql): Promise<ConfigAndClock> {
  return tx.read(configAndClockRead());
}

export interface ConfigAndClock {
  readonly config: HelpdeskConfig;
  /** The database's clock, epoch seconds and milliseconds. */
  readonly now: number;
  readonly nowMs: number;
}

/** loadConfigAndClock as a statement for a round trip shared with other reads. */
export function configAndClockRead(): BatchRead<ConfigAndClock> {
  return {
    statements: [
      {
        sql:
          "SELECT `key`, `value`, UNIX_TIMESTAMP() AS now, UNIX_TIMESTAMP(NOW(3)) AS now_ms FROM ost_config" +
          " WHERE `namespace` = 'core' UNION ALL SELECT NULL, NULL, UNIX_TIMESTAMP(), UNIX_TIMESTAMP(NOW(3))",
      },
    ],
    read([rows = []]) {
      const values = new Map<string, string | null>();
      let now = Math.floor(Date.now() / 1000);
      let nowMs = Date.now();
      for (const r of rows) {
        now = int(r, "now");
        nowMs = Math.round(Number(r.now_ms) * 1000);
        if (r.key !== null) values.set(str(r, "key"), r.value === null ? null : str(r, "value"));
      }
      return { config: new HelpdeskConfig(values), now, nowMs };
    },
  };
}

/** Reads another config namespace (e.g. `schedule.1`) as a plain map. */
export async function loadNamespace(tx: Sql, namespace: string): Promise<Map<string, string>> {
  const rows = await tx.all("SELECT `key`, `value` FROM ost_config WHERE `namespace` = ?", [namespace]);
  return new Map(rows.map((r) => [str(r, "key"), str(r, "value")]));
}
