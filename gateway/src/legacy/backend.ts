/**
 * The LegacyBackend over Connect: identity.CheckApiKey (bound tokens are reused by the handler, see
 * ../auth/key-tokens.ts), ticket.CreateTicket / IngestEmail /
 * RunScheduledTasks with the access token issued for the caller's key, RecordSystemLog and
 * GetHelpTopicForm with the gateway's own service token. Form field names are cached briefly (they only
 * decide which keys are logged as unexpected).
 */
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { ServiceCredentials } from "@ostmesh/kit/auth/service-token.ts";
import type { IdentityService } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { ApiKeyCheckOutcome } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import type { TicketService } from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import type { Logger } from "pino";
import { reusableUntilMs } from "../auth/key-tokens.ts";
import type { LegacyBackend } from "./handler.ts";
import { isNumericString } from "./php.ts";

/**
 * Field names of the contact and ticket forms that osTicket does not let an admin delete: always accepted,
 * also when the forms cannot be read at all.
 */
const BUILT_IN_FIELDS = ["email", "name", "phone", "notes", "subject", "message", "priority"];

export interface ConnectLegacyBackendOptions {
  identity: Client<typeof IdentityService>;
  ticket: Client<typeof TicketService>;
  credentials: ServiceCredentials;
  /** Where a failure to read the forms is reported (the request then goes on with the built-in fields). */
  logger?: Pick<Logger, "warn">;
  /** How long form field names are reused (default 5 s). */
  formCacheMs?: number;
  now?: () => number;
}

export class ConnectLegacyBackend implements LegacyBackend {
  readonly #o: ConnectLegacyBackendOptions;
  readonly #forms = new Map<number, { names: ReadonlySet<string>; expiresAt: number }>();

  constructor(options: ConnectLegacyBackendOptions) {
    this.#o = options;
  }

  async checkApiKey(
    apiKey: string,
    clientIp: string,
    purpose: Parameters<LegacyBackend["checkApiKey"]>[2],
    signal: AbortSignal,
  ) {
    const res = await this.#o.identity.checkApiKey(
      { apiKey, clientIp, purpose },
      { signal, headers: { authorization: await this.#o.credentials.authorization(signal) } },
    );
    const token = res.tokens?.accessToken ?? "";
    if (res.outcome === ApiKeyCheckOutcome.OK && !token)
      throw new ConnectError("CheckApiKey returned OK without an access token", Code.Internal);
    const until =
      res.outcome === ApiKeyCheckOutcome.OK ? reusableUntilMs(res, (this.#o.now ?? Date.now)()) : undefined;
    return until === undefined
      ? { outcome: res.outcome, token }
      : { outcome: res.outcome, token, reusableUntilMs: until };
  }

  async createTicket(
    request: Parameters<LegacyBackend["createTicket"]>[0],
    token: string,
    signal: AbortSignal,
  ) {
    const res = await this.#o.ticket.createTicket(request, { signal, headers: bearer(token) });
    return { number: res.ticket?.number ?? "" };
  }

  async ingestEmail(raw: Buffer, clientIp: string, token: string, signal: AbortSignal) {
    const res = await this.#o.ticket.ingestEmail(
      { rawMessage: raw, ipAddress: clientIp, legacy: true },
      { signal, headers: bearer(token) },
    );
    return { number: res.ticket?.number ?? "" };
  }

  async runScheduledTasks(token: string, signal: AbortSignal) {
    await this.#o.ticket.runScheduledTasks(
      { idempotencyKey: crypto.randomUUID() },
      { signal, headers: bearer(token) },
    );
  }

  async recordSystemLog(entries: Parameters<LegacyBackend["recordSystemLog"]>[0], signal: AbortSignal) {
    await this.#o.ticket.recordSystemLog(
      { idempotencyKey: crypto.randomUUID(), entries: [...entries] },
      { signal, headers: { authorization: await this.#o.credentials.authorization(signal) } },
    );
  }

  async formFieldNames(topicId: string, signal: AbortSignal): Promise<ReadonlySet<string>> {
    // Topic::lookup needs a numeric id; anything else means "no topic".
    const id = isNumericString(topicId) ? Math.max(0, Math.trunc(Number(topicId))) : 0;
    const now = (this.#o.now ?? Date.now)();
    const cached = this.#forms.get(id);
    if (cached && cached.expiresAt > now) return cached.names;
    const topic = id > 0xffffffff ? 0 : id;
    let names: ReadonlySet<string>;
    try {
      // The gateway's own token (tickets:read) sees the forms as an agent does: every enabled field,
      // including those end users never see, which the API may still fill.
      const res = await this.#o.ticket.getHelpTopicForm(
        { topicId: topic },
        { signal, headers: { authorization: await this.#o.credentials.authorization(signal) } },
      );
      const fields = res.forms.flatMap((form) => form.fields.map((field) => field.name)).filter(Boolean);
      names = new Set([...BUILT_IN_FIELDS, ...fields]);
    } catch (error) {
      if (id !== 0 && error instanceof ConnectError && error.code === Code.NotFound)
        return this.formFieldNames("0", signal);
      if (signal.aborted) throw error;
      this.#o.logger?.warn({ err: error, topicId: topic }, "cannot read the help topic's forms");
      return cached?.names ?? new Set(BUILT_IN_FIELDS);
    }
    if (this.#forms.size > 1000) this.#forms.clear();
    this.#forms.set(id, { names, expiresAt: now + (this.#o.formCacheMs ?? 5000) });
    return names;
  }
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
