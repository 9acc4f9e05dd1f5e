/**
 * Stand-in identity and ticket services for the gateway's tests, served over real h2c on port 0, until the
 * real services' RPC handlers land. They implement what the edge depends on faithfully and against a real
 * scratch database: osTicket's API-key rules read from ost_api_key, ES256 access tokens and a JWKS (an
 * osTicket key's token bound to its row, re-read behind every bound token as the real services do),
 * service tokens, ost_syslog rows written with NOW(), form field names read from ost_form_field, and
 * osTicket's legacy validation order for the few cases the tests drive. Ticket rows themselves are the
 * ticket service's business: CreateTicket here records the request it received and answers a number.
 */
import http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { osticketKeyBinding } from "@ostmesh/kit/auth/api-keys.ts";
import {
  DEFAULT_AUDIENCE,
  DEFAULT_ISSUER,
  type KeyBinding,
  keyBindingFromClaims,
  principalClaims,
  principalFromClaims,
} from "@ostmesh/kit/auth/claims.ts";
import { revalidatePrincipal } from "@ostmesh/kit/auth/interceptor.ts";
import { subjectOf } from "@ostmesh/kit/auth/principal.ts";
import type { SqlRow } from "@ostmesh/kit/auth/sql.ts";
import { CredentialError } from "@ostmesh/kit/auth/verify.ts";
import { AttachmentService } from "@ostmesh/proto/gen/osticket/attachment/v1/attachment_service_pb.js";
import {
  DenialReason,
  DeniedSchema,
  ValidationErrorsSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import {
  ApiKeyKind,
  type Principal,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import {
  ApiKeyCheckOutcome,
  ApiKeyPurpose,
  IdentityService,
} from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { NotificationService } from "@ostmesh/proto/gen/osticket/notification/v1/notification_service_pb.js";
import {
  type CreateTicketRequest,
  type IngestEmailRequest,
  TicketService,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_service_pb.js";
import { exportJWK, generateKeyPair, type JWK, type JWTVerifyGetKey, jwtVerify, SignJWT } from "jose";
import mysql from "mysql2/promise";

export const GATEWAY_SECRET = "gateway-test-secret";
/** An ostmesh-style scoped key the stand-in identity service knows. */
export const SCOPED_KEY = `osm_abcdefghijkl_${"A".repeat(43)}`;

export interface Upstreams {
  identityUrl: string;
  ticketUrl: string;
  attachmentUrl: string;
  notificationUrl: string;
  /** Requests the ticket service received, newest last. */
  created: CreateTicketRequest[];
  emails: IngestEmailRequest[];
  cronRuns: number;
  /** CheckApiKey calls answered. */
  keyChecks: number;
  /** Headers of the last GetTicket call. */
  lastGetTicket?: {
    traceparent: string | null;
    idempotencyKey: string | null;
    authorization: string | null;
    forwardedFor: string | null;
    custom: string | null;
    timeout: number | undefined;
  };
  /** Set when a WatchEvents stream saw its signal abort (cancellation reached the service). */
  watchCancelled: boolean;
  /** Issues an access token for a principal (what Login would return), bound to a key row if given. */
  token(principal: Principal, ttlSec?: number, keyBinding?: KeyBinding): Promise<string>;
  close(): Promise<void>;
}

async function serve(
  routes: (router: ConnectRouter) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http2.createServer(connectNodeAdapter({ routes }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.destroy();
      }),
  };
}

export interface UpstreamOptions {
  /** Verify callers' tokens with these keys (e.g. the real identity service's JWKS) instead of our own. */
  verifyKeys?: JWTVerifyGetKey;
}

export async function startUpstreams(databaseUrl: string, options: UpstreamOptions = {}): Promise<Upstreams> {
  const pool = mysql.createPool({ uri: databaseUrl, connectionLimit: 4, dateStrings: true });
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const kid = "test-key-1";
  const jwk: JWK = await exportJWK(publicKey);

  const state: Upstreams = {
    identityUrl: "",
    ticketUrl: "",
    attachmentUrl: "",
    notificationUrl: "",
    created: [],
    emails: [],
    cronRuns: 0,
    keyChecks: 0,
    watchCancelled: false,
    token: async (principal, ttlSec = 300, keyBinding) => {
      const claims = principalClaims(principal, undefined, keyBinding);
      return new SignJWT({ ost: claims.ost, ...(claims.okb ? { okb: claims.okb } : {}) })
        .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
        .setIssuer(DEFAULT_ISSUER)
        .setAudience(DEFAULT_AUDIENCE)
        .setSubject(claims.sub)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSec)
        .setJti(crypto.randomUUID())
        .sign(privateKey);
    },
    close: async () => undefined,
  };

  const sql = async (text: string, params: readonly unknown[] = []): Promise<SqlRow[]> =>
    (await pool.query<mysql.RowDataPacket[]>(text, [...params]))[0];
  const callerOf = async (ctx: HandlerContext): Promise<Principal | undefined> => {
    const match = /^Bearer (.+)$/.exec(ctx.requestHeader.get("authorization") ?? "");
    if (!match?.[1]) return undefined;
    try {
      const verification = { issuer: DEFAULT_ISSUER, audience: DEFAULT_AUDIENCE };
      const { payload } = options.verifyKeys
        ? await jwtVerify(match[1], options.verifyKeys, verification)
        : await jwtVerify(match[1], publicKey, verification);
      const principal = principalFromClaims(payload);
      const binding = keyBindingFromClaims(payload);
      return binding ? await revalidatePrincipal(sql, principal, undefined, binding) : principal;
    } catch (error) {
      throw new ConnectError(
        error instanceof CredentialError ? error.message : "bad token",
        Code.Unauthenticated,
      );
    }
  };
  const requireScope = async (ctx: HandlerContext, scope: string) => {
    const caller = await callerOf(ctx);
    if (!caller) throw new ConnectError("authentication required", Code.Unauthenticated);
    if (!caller.scopes.includes(scope))
      throw new ConnectError(`missing scope ${scope}`, Code.PermissionDenied);
    return caller;
  };

  const identity = await serve((router) =>
    router.service(IdentityService, {
      async getJwks() {
        return {
          keys: [
            {
              kty: jwk.kty ?? "EC",
              kid,
              alg: "ES256",
              use: "sig",
              crv: jwk.crv ?? "",
              x: jwk.x ?? "",
              y: jwk.y ?? "",
            },
          ],
        };
      },
      async issueServiceToken(req) {
        if (req.serviceName !== "gateway" || req.secret !== GATEWAY_SECRET)
          throw new ConnectError("invalid credentials", Code.Unauthenticated);
        const principal = create(PrincipalSchema, {
          actor: { kind: PrincipalKind.SERVICE, displayName: "gateway", username: "gateway" },
          scopes: ["auth:check", "syslog:write", "tickets:read"],
        });
        return {
          tokens: {
            accessToken: await state.token(principal),
            accessTokenExpiresAt: timestampFromMs(Date.now() + 300_000),
            tokenType: "Bearer",
          },
          principal,
        };
      },
      async checkApiKey(req, ctx) {
        await requireScope(ctx, "auth:check");
        if (req.apiKey === SCOPED_KEY) {
          if (req.purpose !== ApiKeyPurpose.SCOPED) return { outcome: ApiKeyCheckOutcome.NOT_AUTHORIZED };
          const principal = create(PrincipalSchema, {
            actor: {
              kind: PrincipalKind.API_KEY,
              id: 1,
              apiKeyKind: ApiKeyKind.OSTMESH,
              displayName: "scoped",
              username: "osm_abcdefghijkl",
            },
            scopes: ["tickets:read"],
          });
          return {
            outcome: ApiKeyCheckOutcome.OK,
            principal,
            tokens: { accessToken: await state.token(principal) },
          };
        }
        state.keyChecks++;
        const [rows] = await pool.query<mysql.RowDataPacket[]>(
          "SELECT id, isactive, can_create_tickets, can_exec_cron, notes, ipaddr, apikey FROM ost_api_key WHERE apikey = ? AND ipaddr = ?",
          [req.apiKey, req.clientIp],
        );
        const row = rows[0];
        if (!row) return { outcome: ApiKeyCheckOutcome.INVALID, message: "Valid API key required" };
        if (!row.isactive)
          return {
            outcome: ApiKeyCheckOutcome.INACTIVE,
            message: "API key not found/active or source IP not authorized",
          };
        const allowed =
          req.purpose === ApiKeyPurpose.CREATE_TICKETS
            ? row.can_create_tickets
            : req.purpose === ApiKeyPurpose.EXEC_CRON
              ? row.can_exec_cron
              : 0;
        if (!allowed)
          return { outcome: ApiKeyCheckOutcome.NOT_AUTHORIZED, message: "API key not authorized" };
        const principal = create(PrincipalSchema, {
          actor: {
            kind: PrincipalKind.API_KEY,
            id: Number(row.id),
            apiKeyKind: ApiKeyKind.OSTICKET,
            displayName: String(row.notes ?? ""),
            username: `apikey:osticket:${row.id}`,
          },
          scopes: [
            ...(row.can_create_tickets ? ["tickets:create"] : []),
            ...(row.can_exec_cron ? ["cron:run"] : []),
          ],
        });
        const binding = osticketKeyBinding({ ipaddr: String(row.ipaddr), apikey: String(row.apikey) });
        return {
          outcome: ApiKeyCheckOutcome.OK,
          principal,
          tokens: {
            accessToken: await state.token(principal, 300, binding),
            accessTokenExpiresAt: timestampFromMs(Date.now() + 300_000),
          },
          bound: true,
        };
      },
      async whoAmI(_req, ctx) {
        const caller = await callerOf(ctx);
        if (!caller) throw new ConnectError("authentication required", Code.Unauthenticated);
        return { principal: caller };
      },
    }),
  );

  const ticket = await serve((router) =>
    router.service(TicketService, {
      async recordSystemLog(req, ctx) {
        await requireScope(ctx, "syslog:write");
        if (req.entries.some((e) => e.message.startsWith("failsyslog:")))
          throw new ConnectError("syslog unavailable", Code.Unavailable);
        const ids: number[] = [];
        for (const entry of req.entries) {
          const level = ["", "Debug", "Warning", "Error"][entry.level] ?? "Debug";
          const [result] = await pool.query<mysql.ResultSetHeader>(
            "INSERT INTO ost_syslog SET log_type = ?, title = ?, log = ?, logger = ?, ip_address = ?, created = NOW(), updated = NOW()",
            [level, entry.title, entry.message, entry.logger, entry.ipAddress],
          );
          ids.push(result.insertId);
        }
        return { logIds: ids };
      },
      async getHelpTopicForm(req, ctx) {
        await requireScope(ctx, "tickets:read");
        const [rows] = await pool.query<mysql.RowDataPacket[]>(
          "SELECT f.form_id, f.name FROM ost_form_field f JOIN ost_form x ON x.id = f.form_id WHERE x.type IN ('U', 'T') OR x.id IN (SELECT form_id FROM ost_help_topic_form WHERE topic_id = ?) ORDER BY f.form_id, f.sort",
          [req.topicId],
        );
        return { forms: [{ id: 0, type: "T", fields: rows.map((r) => ({ name: String(r.name) })) }] };
      },
      async createTicket(req, ctx) {
        const caller = await requireScope(ctx, "tickets:create");
        if (caller.actor?.kind !== PrincipalKind.API_KEY)
          throw new ConnectError("API keys only here", Code.PermissionDenied);
        state.created.push(req);
        if (req.requester?.email === "boom@example.com")
          throw new ConnectError("database gone", Code.Unavailable);
        const violations: { legacyKey: string; description: string }[] = [];
        const source = (req.legacy?.source ?? "API").toLowerCase();
        if (!["api", "web", "email"].includes(source)) {
          violations.push(
            { legacyKey: "origin", description: "Invalid ticket origin given" },
            { legacyKey: "err", description: "No fields set up" },
          );
        } else {
          const email = req.requester?.email ?? "";
          if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) || !req.requester?.name)
            violations.push({ legacyKey: "user", description: "Incomplete client information" });
          if (!req.subject)
            violations.push({ legacyKey: "20", description: "Issue Summary is a required field" });
          if (!req.message && !req.legacy?.messageSent)
            violations.push({ legacyKey: "21", description: "Issue Details is a required field" });
          if (email.endsWith("@banned.example") && violations.length === 0)
            throw new ConnectError("Ticket denied", Code.PermissionDenied, undefined, [
              {
                desc: DeniedSchema,
                value: { reason: DenialReason.BANNED_EMAIL, email, message: `Ticket denied: ${email}` },
              },
            ]);
        }
        if (violations.length > 0)
          throw new ConnectError("validation failed", Code.InvalidArgument, undefined, [
            { desc: ValidationErrorsSchema, value: { violations } },
          ]);
        return { ticket: { number: String(100000 + state.created.length) } };
      },
      async ingestEmail(req, ctx) {
        await requireScope(ctx, "tickets:create");
        state.emails.push(req);
        const raw = Buffer.from(req.rawMessage).toString("utf8");
        if (!raw.includes("\r\n\r\n"))
          throw new ConnectError("Email parse failed: [no body]", Code.InvalidArgument);
        if (raw.includes("From: spam@banned.example"))
          throw new ConnectError("denied", Code.PermissionDenied, undefined, [
            {
              desc: DeniedSchema,
              value: { reason: DenialReason.BANNED_EMAIL, email: "spam@banned.example" },
            },
          ]);
        return { ticket: { number: "654321" } };
      },
      async runScheduledTasks(_req, ctx) {
        await requireScope(ctx, "cron:run");
        state.cronRuns++;
        return {};
      },
      async getTicket(req, ctx) {
        const caller = await callerOf(ctx);
        if (!caller) throw new ConnectError("authentication required", Code.Unauthenticated);
        state.lastGetTicket = {
          traceparent: ctx.requestHeader.get("traceparent"),
          idempotencyKey: ctx.requestHeader.get("idempotency-key"),
          authorization: ctx.requestHeader.get("authorization"),
          forwardedFor: ctx.requestHeader.get("x-forwarded-for"),
          custom: ctx.requestHeader.get("x-request-id"),
          timeout: ctx.timeoutMs(),
        };
        if (req.lookup.case === "number" && req.lookup.value === "slow") {
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }
        if (req.lookup.case === "ticketId" && req.lookup.value === 404)
          throw new ConnectError("ticket not found", Code.NotFound, { "x-reason": "gone" }, [
            {
              desc: ValidationErrorsSchema,
              value: { violations: [{ field: "ticket_id", description: "no such ticket" }] },
            },
          ]);
        ctx.responseHeader.set("x-served-by", "ticket");
        ctx.responseTrailer.set("x-rows-read", "1");
        const id = req.lookup.case === "ticketId" ? req.lookup.value : 7;
        // Ticket 9 has a long subject: its answer is big enough to be compressed.
        const subject = id === 9 ? "compress me ".repeat(400) : "Printer";
        return { ticket: { id, number: "123456", subject } };
      },
    }),
  );

  const attachment = await serve((router) =>
    router.service(AttachmentService, {
      async uploadFileStream(reqs, ctx) {
        await callerOf(ctx);
        let size = 0;
        let name = "";
        for await (const part of reqs) {
          if (part.part.case === "metadata") name = part.part.value.name;
          if (part.part.case === "chunk") size += part.part.value.length;
        }
        return { file: { id: 1, name, size: BigInt(size) } };
      },
    }),
  );

  const notification = await serve((router) =>
    router.service(NotificationService, {
      async *watchEvents(_req, ctx) {
        await callerOf(ctx);
        for (let i = 1; i <= 3; i++)
          yield { item: { case: "event" as const, value: { id: `evt-${i}` } }, sequence: BigInt(i) };
        try {
          await new Promise((resolve, reject) => {
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
            setTimeout(resolve, 30_000);
          });
        } catch (error) {
          state.watchCancelled = true;
          throw error;
        }
      },
    }),
  );

  state.identityUrl = identity.url;
  state.ticketUrl = ticket.url;
  state.attachmentUrl = attachment.url;
  state.notificationUrl = notification.url;
  state.close = async () => {
    await Promise.all([identity.close(), ticket.close(), attachment.close(), notification.close()]);
    await pool.end();
  };
  return state;
}

/** An agent principal as Login would carry it. */
export function agentPrincipal(): Principal {
  return create(PrincipalSchema, {
    actor: { kind: PrincipalKind.AGENT, id: 1, displayName: "Admin", username: "admin" },
    agent: {
      isAdmin: true,
      primaryDeptId: 1,
      roleId: 1,
      departments: [{ deptId: 1, roleId: 1, permissions: ["ticket.create", "ticket.edit"] }],
    },
    email: "admin@example.com",
  });
}

export { subjectOf };
