import { createHash } from "node:crypto";
import { clone, create, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/mysql";
import type { Bus, EventStreamDefinition } from "@ostmesh/bus";
import { type EntityManager, IdempotencyConflictError, query, sqlReader, withIdempotency } from "@ostmesh/db";
import { principalOf, subjectOf } from "@ostmesh/kit/auth/principal.ts";
import type { SqlQuery } from "@ostmesh/kit/auth/sql.ts";
import { effectivePageSize, IDEMPOTENCY_WINDOW_MS, MAX_IDEMPOTENCY_KEY_LENGTH } from "@ostmesh/proto";
import {
  type CreateWebhookRequest,
  CreateWebhookRequestSchema,
  type CreateWebhookResponse,
  CreateWebhookResponseSchema,
  type DeleteWebhookRequest,
  DeleteWebhookRequestSchema,
  DeleteWebhookResponseSchema,
  type DeliveryStatus,
  type EventFilter,
  type NotificationService,
  type ReplayDeliveryRequest,
  ReplayDeliveryRequestSchema,
  ReplayDeliveryResponseSchema,
  type RotateWebhookSecretRequest,
  RotateWebhookSecretRequestSchema,
  RotateWebhookSecretResponseSchema,
  type UpdateWebhookRequest,
  UpdateWebhookRequestSchema,
  UpdateWebhookResponseSchema,
  type WatchEventsRequest,
  type WebhookPatch,
} from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import { type EventFilterSpec, filterSpec, isEventTypePattern } from "./events/event.ts";
import { num } from "./osticket/reads.ts";
import { storedTraceContext } from "./trace-context.ts";
import { watchScope } from "./watch/visibility.ts";
import { type WatchOptions, watchEvents } from "./watch/watch.ts";
import { generateSecret, normalizeSecret } from "./webhooks/signing.ts";
import { parseTarget, resolveTarget, type TargetPolicy, TargetRefusedError } from "./webhooks/ssrf.ts";
import {
  deleteWebhook,
  deliveryMessage,
  insertDelivery,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  loadDelivery,
  loadWebhook,
  rotateSecret,
  updateWebhook,
  webhookMessage,
} from "./webhooks/store.ts";

export interface NotificationServiceDeps {
  readonly orm: MikroORM;
  readonly bus: Bus;
  readonly stream: EventStreamDefinition;
  readonly policy: TargetPolicy;
  /** DNS for webhook URL checks (tests inject names). */
  readonly resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
  /** Called after deliveries were added (wake the deliverer). */
  readonly onDeliveriesQueued?: () => void;
  readonly watch?: Omit<WatchOptions, "bus" | "stream">;
}

const DEFAULT_OVERLAP_MS = 24 * 3_600_000;
const MAX_OVERLAP_MS = 30 * 24 * 3_600_000;
const PATCH_PATHS = new Set(["url", "event_types", "filter", "description", "active"]);

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/**
 * osticket.notification.v1.NotificationService: webhook subscriptions and their delivery log, and live
 * event streams. Who may call what is enforced by the auth interceptor from the contract's access rules;
 * WatchEvents then narrows events to what the caller may see (watch/visibility.ts).
 */
export class NotificationServiceImpl implements ServiceImpl<typeof NotificationService> {
  readonly #d: NotificationServiceDeps;

  constructor(deps: NotificationServiceDeps) {
    this.#d = deps;
  }

  #em(): EntityManager {
    return this.#d.orm.em.fork();
  }

  /**
   * Runs a mutation once per idempotency key (the common convention): a retry with the same key and request
   * returns the stored response; the same key with another request is FAILED_PRECONDITION.
   */
  async #idempotent<Req extends DescMessage, Res extends DescMessage>(
    ctx: HandlerContext,
    method: string,
    reqSchema: Req,
    request: MessageShape<Req> & { idempotencyKey: string },
    resSchema: Res,
    run: (tx: EntityManager) => Promise<MessageShape<Res>>,
  ): Promise<MessageShape<Res>> {
    const key = request.idempotencyKey;
    if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
      throw invalid(`idempotency_key must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
    const em = this.#em();
    if (key === "") return em.transactional(run);
    const canonical = clone(reqSchema, request);
    Reflect.set(canonical, "idempotencyKey", "");
    try {
      const { response } = await withIdempotency(
        em,
        {
          scope: `notification.${method}:${subjectOf(principalOf(ctx))}`.slice(0, 191),
          key,
          requestHash: createHash("sha256").update(toBinary(reqSchema, canonical)).digest("hex"),
          ttl: Math.floor(IDEMPOTENCY_WINDOW_MS / 1000),
        },
        run,
        { encode: (value) => toBinary(resSchema, value), decode: (bytes) => fromBinary(resSchema, bytes) },
      );
      return response;
    } catch (error) {
      if (error instanceof IdempotencyConflictError)
        throw new ConnectError(
          "idempotency_key was already used with a different request",
          Code.FailedPrecondition,
        );
      throw error;
    }
  }

  async #checkUrl(url: string): Promise<string> {
    if (url === "") throw invalid("url is required");
    if (url.length > 2048) throw invalid("url must be at most 2048 characters");
    try {
      const target = parseTarget(url, this.#d.policy);
      await resolveTarget(target.host, this.#d.policy, this.#d.resolve);
      return target.url.toString();
    } catch (error) {
      if (error instanceof TargetRefusedError) throw invalid(`url refused: ${error.message}`);
      throw error;
    }
  }

  #checkEventTypes(types: readonly string[]): string[] {
    if (types.length === 0) throw invalid("event_types needs at least one event type");
    if (types.length > 100) throw invalid("at most 100 event_types");
    for (const t of types) if (!isEventTypePattern(t)) throw invalid(`invalid event type "${t}"`);
    return [...new Set(types)];
  }

  #checkFilter(filter: EventFilter | undefined): EventFilterSpec {
    const spec = filterSpec(filter);
    if (spec.deptIds.length > 500 || spec.topicIds.length > 500)
      throw invalid("filter lists are limited to 500 ids");
    return spec;
  }

  #checkDescription(description: string): string {
    if ([...description].length > 255) throw invalid("description must be at most 255 characters");
    return description;
  }

  async createWebhook(request: CreateWebhookRequest, ctx: HandlerContext): Promise<CreateWebhookResponse> {
    const url = await this.#checkUrl(request.url);
    const eventTypes = this.#checkEventTypes(request.eventTypes);
    const filter = this.#checkFilter(request.filter);
    const description = this.#checkDescription(request.description);
    const secret = request.secret === "" ? generateSecret() : normalizeSecret(request.secret);
    if (!secret)
      throw invalid("secret must be whsec_<base64 of 24+ bytes> or at least 32 characters without spaces");
    return this.#idempotent(
      ctx,
      "CreateWebhook",
      CreateWebhookRequestSchema,
      request,
      CreateWebhookResponseSchema,
      async (tx) => {
        const id = await insertWebhook(tx, { url, eventTypes, filter, description, secret });
        const record = await loadWebhook(tx, id);
        if (!record) throw new Error("the new webhook vanished");
        return create(CreateWebhookResponseSchema, { webhook: webhookMessage(record), secret });
      },
    );
  }

  async getWebhook(request: { id: number }) {
    const record = await loadWebhook(this.#em(), request.id);
    if (!record) throw new ConnectError("webhook not found", Code.NotFound);
    return { webhook: webhookMessage(record) };
  }

  async listWebhooks(request: { pageSize: number; pageToken: string }) {
    const size = effectivePageSize(request.pageSize);
    if (size === undefined) throw invalid("page_size must not be negative");
    const after = decodeToken(request.pageToken, "w");
    const rows = await listWebhooks(this.#em(), Number(after[0] ?? 0), size + 1);
    const page = rows.slice(0, size);
    const last = page.at(-1);
    return {
      webhooks: page.map(webhookMessage),
      nextPageToken: rows.length > size && last ? encodeToken("w", [last.id]) : "",
    };
  }

  async updateWebhook(request: UpdateWebhookRequest, ctx: HandlerContext) {
    const paths = request.updateMask?.paths ?? [];
    if (paths.length === 0) throw invalid("update_mask must name at least one field");
    for (const path of paths)
      if (!PATCH_PATHS.has(path)) throw invalid(`update_mask: unknown field "${path}"`);
    const patch: WebhookPatch | undefined = request.patch;
    const changes: Parameters<typeof updateWebhook>[2] = {};
    if (paths.includes("url")) changes.url = await this.#checkUrl(patch?.url ?? "");
    if (paths.includes("event_types")) changes.eventTypes = this.#checkEventTypes(patch?.eventTypes ?? []);
    if (paths.includes("filter")) changes.filter = this.#checkFilter(patch?.filter);
    if (paths.includes("description")) changes.description = this.#checkDescription(patch?.description ?? "");
    if (paths.includes("active")) changes.active = patch?.active ?? false;
    return this.#idempotent(
      ctx,
      "UpdateWebhook",
      UpdateWebhookRequestSchema,
      request,
      UpdateWebhookResponseSchema,
      async (tx) => {
        if (!(await loadWebhook(tx, request.id, true)))
          throw new ConnectError("webhook not found", Code.NotFound);
        await updateWebhook(tx, request.id, changes);
        const record = await loadWebhook(tx, request.id);
        if (!record) throw new ConnectError("webhook not found", Code.NotFound);
        return create(UpdateWebhookResponseSchema, { webhook: webhookMessage(record) });
      },
    );
  }

  async deleteWebhook(request: DeleteWebhookRequest, ctx: HandlerContext) {
    return this.#idempotent(
      ctx,
      "DeleteWebhook",
      DeleteWebhookRequestSchema,
      request,
      DeleteWebhookResponseSchema,
      async (tx) => {
        if (!(await deleteWebhook(tx, request.id)))
          throw new ConnectError("webhook not found", Code.NotFound);
        return create(DeleteWebhookResponseSchema, {});
      },
    );
  }

  async rotateWebhookSecret(request: RotateWebhookSecretRequest, ctx: HandlerContext) {
    const overlapMs = request.overlap ? durationMs(request.overlap) : DEFAULT_OVERLAP_MS;
    if (overlapMs < 0) throw invalid("overlap must not be negative");
    if (overlapMs > MAX_OVERLAP_MS) throw invalid("overlap must be at most 30 days");
    return this.#idempotent(
      ctx,
      "RotateWebhookSecret",
      RotateWebhookSecretRequestSchema,
      request,
      RotateWebhookSecretResponseSchema,
      async (tx) => {
        if (!(await loadWebhook(tx, request.id, true)))
          throw new ConnectError("webhook not found", Code.NotFound);
        const secret = generateSecret();
        await rotateSecret(tx, request.id, secret, overlapMs);
        const record = await loadWebhook(tx, request.id);
        if (!record) throw new ConnectError("webhook not found", Code.NotFound);
        return create(RotateWebhookSecretResponseSchema, { webhook: webhookMessage(record), secret });
      },
    );
  }

  async listDeliveries(request: {
    webhookId: number;
    status: DeliveryStatus;
    pageSize: number;
    pageToken: string;
  }) {
    const size = effectivePageSize(request.pageSize);
    if (size === undefined) throw invalid("page_size must not be negative");
    const em = this.#em();
    const exists = await query(em, "SELECT id FROM ostmesh_webhook WHERE id = ?", [request.webhookId]);
    if (exists.length === 0) throw new ConnectError("webhook not found", Code.NotFound);
    const token = decodeToken(request.pageToken, "d");
    if (token.length > 0 && (token[0] !== request.webhookId || token[1] !== request.status))
      throw invalid("page_token belongs to another query");
    const rows = await listDeliveries(em, request.webhookId, request.status, Number(token[2] ?? 0), size + 1);
    const page = rows.slice(0, size);
    const last = page.at(-1);
    return {
      deliveries: page.map(deliveryMessage),
      nextPageToken:
        rows.length > size && last ? encodeToken("d", [request.webhookId, request.status, num(last.id)]) : "",
    };
  }

  async replayDelivery(request: ReplayDeliveryRequest, ctx: HandlerContext) {
    const response = await this.#idempotent(
      ctx,
      "ReplayDelivery",
      ReplayDeliveryRequestSchema,
      request,
      ReplayDeliveryResponseSchema,
      async (tx) => {
        const original = await loadDelivery(tx, request.deliveryId);
        if (!original) throw new ConnectError("delivery not found", Code.NotFound);
        if (!(await loadWebhook(tx, num(original.webhook_id))))
          throw new ConnectError("the delivery's webhook was deleted", Code.FailedPrecondition);
        const id = await insertDelivery(tx, {
          webhookId: num(original.webhook_id),
          eventId: String(original.event_id),
          eventType: String(original.event_type),
          body: original.body,
          dedupeKey: null,
          replayOf: num(original.id),
          // A replay continues the trace of the RPC that asked for it.
          traceContext: storedTraceContext(),
        });
        const replay = id === undefined ? undefined : await loadDelivery(tx, id);
        if (!replay) throw new Error("the replay was not recorded");
        return create(ReplayDeliveryResponseSchema, { delivery: deliveryMessage(replay) });
      },
    );
    this.#d.onDeliveriesQueued?.();
    return response;
  }

  async *watchEvents(request: WatchEventsRequest, ctx: HandlerContext) {
    const q: SqlQuery = sqlReader(this.#em());
    const scope = await watchScope(principalOf(ctx), request.ticketId, q);
    yield* watchEvents(request, scope, ctx.signal, {
      bus: this.#d.bus,
      stream: this.#d.stream,
      ...this.#d.watch,
    });
  }
}

function encodeToken(kind: string, values: readonly number[]): string {
  return Buffer.from(`${kind}:${values.join(":")}`, "utf8").toString("base64url");
}

/** The numbers of a page token of `kind` ([] for an empty token); INVALID_ARGUMENT when malformed. */
function decodeToken(token: string, kind: string): number[] {
  if (token === "") return [];
  const text = Buffer.from(token, "base64url").toString("utf8");
  const [k, ...rest] = text.split(":");
  const values = rest.map(Number);
  if (k !== kind || values.length === 0 || values.some((v) => !Number.isSafeInteger(v) || v < 0))
    throw invalid("page_token is not valid");
  return values;
}
