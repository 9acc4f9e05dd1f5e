import { timingSafeEqual } from "node:crypto";
import { create, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  type EntityManager,
  IdempotencyConflictError,
  type Orm,
  sqlReader,
  withIdempotency,
} from "@ostmesh/db";
import {
  assertAuthorized,
  checkAccessRule,
  decideTicketAccess,
  idOf,
  kindOf,
  loadAgentPrincipal,
  loadEndUserPrincipal,
  loadTicketAndEndUserFacts,
  principalOf,
  subjectOf,
} from "@ostmesh/kit/auth/index.ts";
import {
  accessRuleOf,
  EventTypes,
  findMethod,
  IDEMPOTENCY_WINDOW_MS,
  MAX_IDEMPOTENCY_KEY_LENGTH,
} from "@ostmesh/proto";
import {
  type Principal,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import {
  ApiKeyCheckOutcome,
  CreateApiKeyRequestSchema,
  CreateApiKeyResponseSchema,
  CreateOrganizationRequestSchema,
  CreateOrganizationResponseSchema,
  CreateUserRequestSchema,
  CreateUserResponseSchema,
  type IdentityService,
  LoginRequestSchema,
  LoginResponseSchema,
  type LogoutRequestSchema,
  RefreshRequestSchema,
  RefreshResponseSchema,
  RevokeApiKeyRequestSchema,
  RevokeApiKeyResponseSchema,
  UpdateOrganizationRequestSchema,
  UpdateOrganizationResponseSchema,
  UpdateUserRequestSchema,
  UpdateUserResponseSchema,
} from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import type { Logger } from "pino";
import { API_KEY_MESSAGES, checkApiKey, createApiKey, listApiKeys, revokeApiKey } from "./apikeys.ts";
import type { IdentityConfig } from "./config.ts";
import { type SecretBox, sha256Hex } from "./crypto.ts";
import {
  createOrganization,
  getOrganization,
  listOrganizations,
  organizationPatchPaths,
  updateOrganization,
} from "./directory/organizations.ts";
import { getAgent, listAgents, listRoles, listTeams } from "./directory/staff.ts";
import {
  createUser,
  getUser,
  listUsers,
  updateUser,
  userIdByEmail,
  userPatchPaths,
} from "./directory/users.ts";
import { recordEvent } from "./events.ts";
import type { SigningKeys } from "./keys.ts";
import type { AccountKind, Authenticator } from "./login.ts";
import { ReusableTokens, type Sessions, type TokenIssuer, tokenPair } from "./tokens.ts";

export interface IdentityServiceDeps {
  orm: Orm;
  config: IdentityConfig;
  keys: SigningKeys;
  issuer: TokenIssuer;
  sessions: Sessions;
  authenticator: Authenticator;
  box: SecretBox;
  logger?: Logger;
  /** Subject prefix of the events this service writes to the outbox (tests isolate it). */
  eventSubjectPrefix?: string;
}

/** A refresh that must fail after its transaction rolled back (the family is revoked separately). */
class RefreshRejected extends Error {
  readonly reason: string;
  readonly familyId: string | undefined;
  constructor(reason: string, familyId?: string) {
    super(`refresh rejected: ${reason}`);
    this.reason = reason;
    this.familyId = familyId;
  }
}

const IDEMPOTENCY_TTL_SECONDS = Math.round(IDEMPOTENCY_WINDOW_MS / 1000);

/** osticket.identity.v1.IdentityService. Every handler works on its own forked EntityManager. */
export class IdentityServiceImpl implements ServiceImpl<typeof IdentityService> {
  readonly #d: IdentityServiceDeps;

  constructor(deps: IdentityServiceDeps) {
    this.#d = deps;
  }

  /**
   * Tokens CheckApiKey issued, by the principal they carry. The key is checked against the database on
   * every call; only the signed carrier of an unchanged principal is reused (while more than half of its
   * lifetime is left), so services see the same token again and need not verify a new signature each time.
   */
  readonly #apiKeyTokens = new ReusableTokens();

  #em(): EntityManager {
    return this.#d.orm.em.fork();
  }

  /**
   * Runs a mutating use case in one transaction, replaying the stored reply for a repeated idempotency key
   * of the same caller (osticket.common.v1 conventions). Request fingerprints are HMACs and stored replies
   * are sealed with the key-encryption key: both may contain passwords or tokens.
   */
  async #idempotent<Req extends DescMessage, Res extends DescMessage>(
    ctx: HandlerContext,
    method: string,
    reqSchema: Req,
    req: MessageShape<Req> & { idempotencyKey: string },
    resSchema: Res,
    run: (tx: EntityManager) => Promise<MessageShape<Res>>,
    scopeExtra = "",
  ): Promise<MessageShape<Res>> {
    const em = this.#em();
    const key = req.idempotencyKey;
    if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
      throw new ConnectError(
        `idempotency_key is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
        Code.InvalidArgument,
      );
    if (key === "") return em.transactional(run);
    const box = this.#d.box;
    const scope =
      `identity.${method}:${subjectOf(principalOf(ctx))}${scopeExtra ? `:${scopeExtra}` : ""}`.slice(0, 191);
    const unkeyed = create(reqSchema, req);
    Reflect.set(unkeyed, "idempotencyKey", "");
    try {
      const { response } = await withIdempotency(
        em,
        { scope, key, requestHash: box.mac(toBinary(reqSchema, unkeyed)), ttl: IDEMPOTENCY_TTL_SECONDS },
        run,
        {
          encode: (value) => Buffer.from(box.seal(toBinary(resSchema, value), `${scope}\n${key}`), "utf8"),
          decode: (bytes) =>
            fromBinary(resSchema, box.open(Buffer.from(bytes).toString("utf8"), `${scope}\n${key}`)),
        },
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

  // ---- authentication -------------------------------------------------------------------------------

  async login(req: MessageShape<typeof LoginRequestSchema>, ctx: HandlerContext) {
    assertAuthorized(ctx);
    const kind = accountKind(req.kind);
    const em = this.#em();
    const principal = await this.#d.authenticator.login(em, kind, req.username, req.password);
    const box = this.#d.box;
    return this.#idempotent(
      ctx,
      "Login",
      LoginRequestSchema,
      req,
      LoginResponseSchema,
      async (tx) => {
        const refresh = await this.#d.sessions.start(tx, kind, idOf(principal));
        const access = await this.#d.issuer.accessToken(tx, principal, {
          ttlMs: this.#d.config.accessTokenTtlMs,
          sessionId: refresh.familyId,
        });
        principal.credentialId = access.jti;
        return create(LoginResponseSchema, { tokens: tokenPair(access, refresh), principal });
      },
      box.mac(String(req.kind), req.username.trim().toLowerCase()).slice(0, 32),
    );
  }

  async refresh(req: MessageShape<typeof RefreshRequestSchema>, ctx: HandlerContext) {
    assertAuthorized(ctx);
    if (req.refreshToken === "") throw new ConnectError("refresh_token is required", Code.InvalidArgument);
    try {
      return await this.#idempotent(
        ctx,
        "Refresh",
        RefreshRequestSchema,
        req,
        RefreshResponseSchema,
        async (tx) => {
          const rotated = await this.#d.sessions.rotate(tx, req.refreshToken);
          if (!rotated.ok)
            throw new RefreshRejected(rotated.reason, "familyId" in rotated ? rotated.familyId : undefined);
          const q = sqlReader(tx);
          const principal =
            rotated.kind === "agent"
              ? await loadAgentPrincipal(q, rotated.principalId)
              : await loadEndUserPrincipal(q, rotated.principalId);
          if (!principal) throw new RefreshRejected("account", rotated.next.familyId);
          const access = await this.#d.issuer.accessToken(tx, principal, {
            ttlMs: this.#d.config.accessTokenTtlMs,
            sessionId: rotated.next.familyId,
          });
          principal.credentialId = access.jti;
          return create(RefreshResponseSchema, { tokens: tokenPair(access, rotated.next), principal });
        },
        this.#d.box.mac(req.refreshToken).slice(0, 32),
      );
    } catch (error) {
      if (!(error instanceof RefreshRejected)) throw error;
      if (error.familyId && (error.reason === "reused" || error.reason === "account")) {
        const familyId = error.familyId;
        const revoked = await this.#em().transactional((tx) =>
          this.#d.sessions.revokeFamily(tx, familyId, error.reason === "reused" ? "reuse" : "account"),
        );
        if (error.reason === "reused")
          this.#d.logger?.warn({ family: familyId, revoked }, "refresh token reused: session revoked");
      }
      throw new ConnectError("the refresh token is not valid", Code.Unauthenticated);
    }
  }

  async logout(req: MessageShape<typeof LogoutRequestSchema>, ctx: HandlerContext) {
    assertAuthorized(ctx);
    if (req.idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)
      throw new ConnectError(
        `idempotency_key is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
        Code.InvalidArgument,
      );
    if (req.refreshToken === "") throw new ConnectError("refresh_token is required", Code.InvalidArgument);
    // Naturally idempotent: revoking a revoked family changes nothing and the reply is always empty.
    await this.#em().transactional((tx) => this.#d.sessions.logout(tx, req.refreshToken));
    return {};
  }

  async whoAmI(_req: unknown, ctx: HandlerContext) {
    assertAuthorized(ctx);
    return { principal: principalOf(ctx) };
  }

  async getJwks(_req: unknown, ctx: HandlerContext) {
    assertAuthorized(ctx);
    const em = this.#em();
    await this.#d.keys.signingKey(em);
    const keys = await this.#d.keys.publicKeys(em);
    return {
      keys: keys.map((k) => ({
        kty: k.kty ?? "",
        kid: k.kid ?? "",
        alg: k.alg ?? "",
        use: k.use ?? "sig",
        crv: k.crv ?? "",
        x: k.x ?? "",
        y: k.y ?? "",
        n: k.n ?? "",
        e: k.e ?? "",
      })),
    };
  }

  async issueServiceToken(
    req: { idempotencyKey: string; serviceName: string; secret: string },
    ctx: HandlerContext,
  ) {
    assertAuthorized(ctx);
    if (req.idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)
      throw new ConnectError(
        `idempotency_key is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
        Code.InvalidArgument,
      );
    if (req.serviceName === "" || req.secret === "")
      throw new ConnectError("service_name and secret are required", Code.InvalidArgument);
    const client = this.#d.config.serviceClients.find((c) => c.name === req.serviceName);
    // Compare digests so the comparison takes the same time whatever the lengths.
    const presented = Buffer.from(sha256Hex(req.secret), "hex");
    const expected = Buffer.from(sha256Hex(client?.secret ?? "\u0000no such service"), "hex");
    if (!client || !timingSafeEqual(presented, expected))
      throw new ConnectError("invalid service credentials", Code.Unauthenticated);
    const principal = create(PrincipalSchema, {
      actor: { kind: PrincipalKind.SERVICE, displayName: client.name, username: client.name },
      scopes: [...client.scopes],
    });
    const access = await this.#d.issuer.accessToken(this.#em(), principal, {
      ttlMs: this.#d.config.serviceTokenTtlMs,
    });
    principal.credentialId = access.jti;
    return { tokens: tokenPair(access), principal };
  }

  // ---- API keys -------------------------------------------------------------------------------------

  async checkApiKey(req: { apiKey: string; clientIp: string; purpose: number }, ctx: HandlerContext) {
    assertAuthorized(ctx);
    const em = this.#em();
    const result = await checkApiKey(em, req.apiKey, req.clientIp.trim(), req.purpose);
    if (result.outcome !== ApiKeyCheckOutcome.OK)
      return {
        outcome: result.outcome,
        message: API_KEY_MESSAGES[result.outcome] ?? "",
        apiKey: result.apiKey,
      };
    const { keyBinding } = result;
    const access = await this.#apiKeyTokens.get(
      result.principal,
      () =>
        this.#d.issuer.accessToken(em, result.principal, {
          ttlMs: this.#d.config.apiKeyTokenTtlMs,
          ...(keyBinding ? { keyBinding } : {}),
        }),
      keyBinding,
    );
    result.principal.credentialId = access.jti;
    return {
      outcome: result.outcome,
      message: "",
      apiKey: result.apiKey,
      principal: result.principal,
      tokens: tokenPair(access),
      bound: keyBinding !== undefined,
    };
  }

  async createApiKey(req: MessageShape<typeof CreateApiKeyRequestSchema>, ctx: HandlerContext) {
    assertAuthorized(ctx);
    const caller = principalOf(ctx);
    return this.#idempotent(
      ctx,
      "CreateApiKey",
      CreateApiKeyRequestSchema,
      req,
      CreateApiKeyResponseSchema,
      async (tx) =>
        create(
          CreateApiKeyResponseSchema,
          await createApiKey(tx, caller, {
            description: req.description,
            scopes: req.scopes,
            allowedIps: req.allowedIps,
            expiresAt: req.expiresAt,
          }),
        ),
    );
  }

  async listApiKeys(
    req: { kind: number; includeInactive: boolean; pageSize: number; pageToken: string },
    ctx: HandlerContext,
  ) {
    assertAuthorized(ctx);
    return listApiKeys(this.#em(), req);
  }

  async revokeApiKey(req: MessageShape<typeof RevokeApiKeyRequestSchema>, ctx: HandlerContext) {
    assertAuthorized(ctx);
    return this.#idempotent(
      ctx,
      "RevokeApiKey",
      RevokeApiKeyRequestSchema,
      req,
      RevokeApiKeyResponseSchema,
      async (tx) => create(RevokeApiKeyResponseSchema, { apiKey: await revokeApiKey(tx, req.id) }),
    );
  }

  // ---- users ----------------------------------------------------------------------------------------

  async getUser(
    req: {
      lookup:
        | { case: "userId"; value: number }
        | { case: "email"; value: string }
        | { case: undefined; value?: undefined };
    },
    ctx: HandlerContext,
  ) {
    assertAuthorized(ctx);
    const em = this.#em();
    let userId: number | undefined;
    switch (req.lookup.case) {
      case "userId":
        userId = req.lookup.value;
        break;
      case "email":
        userId = await userIdByEmail(em, req.lookup.value);
        break;
      default:
        throw new ConnectError("user_id or email is required", Code.InvalidArgument);
    }
    const caller = principalOf(ctx);
    // End users see only themselves; any other user does not exist for them.
    if (userId === undefined || (kindOf(caller) === PrincipalKind.END_USER && idOf(caller) !== userId))
      throw new ConnectError("user not found", Code.NotFound);
    const user = await getUser(em, userId);
    if (!user) throw new ConnectError("user not found", Code.NotFound);
    return { user };
  }

  async listUsers(
    req: { query: string; orgId?: number; pageSize: number; pageToken: string },
    ctx: HandlerContext,
  ) {
    assertAuthorized(ctx);
    return listUsers(this.#em(), {
      query: req.query,
      orgId: req.orgId,
      pageSize: req.pageSize,
      pageToken: req.pageToken,
    });
  }

  async createUser(req: MessageShape<typeof CreateUserRequestSchema>, ctx: HandlerContext) {
    assertAuthorized(ctx);
    const caller = principalOf(ctx);
    return this.#idempotent(
      ctx,
      "CreateUser",
      CreateUserRequestSchema,
      req,
      CreateUserResponseSchema,
      async (tx) => {
        const userId = await createUser(tx, {
          email: req.email,
          name: req.name,
          phone: req.phone,
          notes: req.notes,
          orgId: req.orgId,
          answers: req.answers,
        });
        const user = await getUser(tx, userId);
        if (!user) throw new Error("the new user vanished");
        await recordEvent(tx, {
          type: EventTypes.USER_CREATED,
          aggregateId: userId,
          actor: caller,
          payload: { case: "userCreated", value: { user } },
          subjectPrefix: this.#d.eventSubjectPrefix,
        });
        return create(CreateUserResponseSchema, { user });
      },
    );
  }

  async updateUser(req: MessageShape<typeof UpdateUserRequestSchema>, ctx: HandlerContext) {
    assertAuthorized(ctx);
    const caller = principalOf(ctx);
    const asEndUser = kindOf(caller) === PrincipalKind.END_USER;
    if (req.userId === 0) throw new ConnectError("user_id is required", Code.InvalidArgument);
    if (asEndUser && idOf(caller) !== req.userId) throw new ConnectError("user not found", Code.NotFound);
    const paths = userPatchPaths(req.updateMask?.paths ?? []);
    const patch = req.patch;
    return this.#idempotent(
      ctx,
      "UpdateUser",
      UpdateUserRequestSchema,
      req,
      UpdateUserResponseSchema,
      async (tx) => {
        await updateUser(
          tx,
          req.userId,
          paths,
          {
            name: patch?.name ?? "",
            phone: patch?.phone ?? "",
            notes: patch?.notes ?? "",
            orgId: patch?.orgId ?? 0,
            answers: patch?.answers ?? {},
          },
          asEndUser,
        );
        const user = await getUser(tx, req.userId);
        if (!user) throw new ConnectError("user not found", Code.NotFound);
        await recordEvent(tx, {
          type: EventTypes.USER_UPDATED,
          aggregateId: user.id,
          actor: caller,
          payload: { case: "userUpdated", value: { changed: { paths }, user } },
          subjectPrefix: this.#d.eventSubjectPrefix,
        });
        return create(UpdateUserResponseSchema, { user });
      },
    );
  }

  // ---- organizations --------------------------------------------------------------------------------

  async getOrganization(req: { orgId: number }, ctx: HandlerContext) {
    assertAuthorized(ctx);
    if (req.orgId === 0) throw new ConnectError("org_id is required", Code.InvalidArgument);
    const organization = await getOrganization(this.#em(), req.orgId);
    if (!organization) throw new ConnectError("organization not found", Code.NotFound);
    return { organization };
  }

  async listOrganizations(req: { query: string; pageSize: number; pageToken: string }, ctx: HandlerContext) {
    assertAuthorized(ctx);
    return listOrganizations(this.#em(), req);
  }

  async createOrganization(req: MessageShape<typeof CreateOrganizationRequestSchema>, ctx: HandlerContext) {
    assertAuthorized(ctx);
    const caller = principalOf(ctx);
    return this.#idempotent(
      ctx,
      "CreateOrganization",
      CreateOrganizationRequestSchema,
      req,
      CreateOrganizationResponseSchema,
      async (tx) => {
        const orgId = await createOrganization(tx, {
          name: req.name,
          domains: req.domains,
          manager: req.manager,
          status: req.status,
          answers: req.answers,
        });
        const organization = await getOrganization(tx, orgId);
        if (!organization) throw new Error("the new organization vanished");
        await recordEvent(tx, {
          type: EventTypes.ORGANIZATION_CREATED,
          aggregateId: orgId,
          actor: caller,
          payload: { case: "organizationCreated", value: { organization } },
          subjectPrefix: this.#d.eventSubjectPrefix,
        });
        return create(CreateOrganizationResponseSchema, { organization });
      },
    );
  }

  async updateOrganization(req: MessageShape<typeof UpdateOrganizationRequestSchema>, ctx: HandlerContext) {
    assertAuthorized(ctx);
    const caller = principalOf(ctx);
    if (req.orgId === 0) throw new ConnectError("org_id is required", Code.InvalidArgument);
    const paths = organizationPatchPaths(req.updateMask?.paths ?? []);
    const patch = req.patch;
    return this.#idempotent(
      ctx,
      "UpdateOrganization",
      UpdateOrganizationRequestSchema,
      req,
      UpdateOrganizationResponseSchema,
      async (tx) => {
        await updateOrganization(tx, req.orgId, paths, {
          name: patch?.name ?? "",
          domains: patch?.domains ?? [],
          manager: patch?.manager ?? "",
          status: patch?.status ?? 0,
          answers: patch?.answers ?? {},
        });
        const organization = await getOrganization(tx, req.orgId);
        if (!organization) throw new ConnectError("organization not found", Code.NotFound);
        await recordEvent(tx, {
          type: EventTypes.ORGANIZATION_UPDATED,
          aggregateId: organization.id,
          actor: caller,
          payload: { case: "organizationUpdated", value: { changed: { paths }, organization } },
          subjectPrefix: this.#d.eventSubjectPrefix,
        });
        return create(UpdateOrganizationResponseSchema, { organization });
      },
    );
  }

  // ---- agents, teams, roles -------------------------------------------------------------------------

  async getAgent(
    req: {
      lookup:
        | { case: "staffId"; value: number }
        | { case: "username"; value: string }
        | { case: undefined; value?: undefined };
    },
    ctx: HandlerContext,
  ) {
    assertAuthorized(ctx);
    const em = this.#em();
    const lookup = req.lookup;
    if (lookup.case === undefined)
      throw new ConnectError("staff_id or username is required", Code.InvalidArgument);
    const agent = await getAgent(
      em,
      lookup.case === "staffId" ? { staffId: lookup.value } : { username: lookup.value },
    );
    if (!agent) throw new ConnectError("agent not found", Code.NotFound);
    return { agent };
  }

  async listAgents(
    req: {
      deptId?: number;
      teamId?: number;
      query: string;
      includeInactive: boolean;
      pageSize: number;
      pageToken: string;
    },
    ctx: HandlerContext,
  ) {
    assertAuthorized(ctx);
    return listAgents(this.#em(), {
      deptId: req.deptId,
      teamId: req.teamId,
      query: req.query,
      includeInactive: req.includeInactive,
      pageSize: req.pageSize,
      pageToken: req.pageToken,
    });
  }

  async listTeams(
    req: { includeDisabled: boolean; pageSize: number; pageToken: string },
    ctx: HandlerContext,
  ) {
    assertAuthorized(ctx);
    return listTeams(this.#em(), req);
  }

  async listRoles(req: { pageSize: number; pageToken: string }, ctx: HandlerContext) {
    assertAuthorized(ctx);
    return listRoles(this.#em(), req);
  }

  // ---- authorization questions ----------------------------------------------------------------------

  async authorize(req: { principal?: Principal; procedure: string; ticketId: number }, ctx: HandlerContext) {
    assertAuthorized(ctx);
    const principal = req.principal ?? principalOf(ctx);
    const procedure = req.procedure.startsWith("/") ? req.procedure : `/${req.procedure}`;
    const method = findMethod(procedure);
    if (!method) throw new ConnectError(`unknown procedure ${req.procedure}`, Code.InvalidArgument);
    const rule = accessRuleOf(method);
    const decision = checkAccessRule(rule, principal);
    if (!decision.allowed) return { allowed: false, reason: decision.reason };
    const targetChecked =
      (kindOf(principal) === PrincipalKind.AGENT && rule?.agentDepartmentCheck) ||
      (kindOf(principal) === PrincipalKind.END_USER && rule?.endUserOwnerCheck);
    if (req.ticketId === 0 || !targetChecked) return { allowed: true, reason: "" };
    const q = sqlReader(this.#em());
    const [facts, endUser] = await loadTicketAndEndUserFacts(
      q,
      req.ticketId,
      kindOf(principal) === PrincipalKind.END_USER ? idOf(principal) : 0,
    );
    const ticketDecision = decideTicketAccess(principal, facts, {
      permission: rule?.agentDepartmentCheck ? rule.agentPermission || undefined : undefined,
      endUser,
    });
    return ticketDecision.allowed
      ? { allowed: true, reason: "" }
      : { allowed: false, reason: ticketDecision.reason };
  }
}

function accountKind(kind: PrincipalKind): AccountKind {
  if (kind === PrincipalKind.AGENT) return "agent";
  if (kind === PrincipalKind.END_USER) return "end_user";
  throw new ConnectError("kind must be AGENT or END_USER", Code.InvalidArgument);
}
