import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EntityManager } from "@ostmesh/db";
import { execute, query, sqlReader } from "@ostmesh/db";
import {
  checkIpEntry,
  checkOstmeshKey,
  generateOstmeshKey,
  isOstmeshKey,
  type KeyBinding,
  num,
  osticketKeyBinding,
  osticketKeyPrincipal,
  osticketKeyScopes,
  ostmeshKeyBinding,
  str,
  subjectOf,
} from "@ostmesh/kit/auth/index.ts";
import { isScope } from "@ostmesh/proto";
import {
  ApiKeyKind,
  type Principal,
  PrincipalKind,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { type ApiKey, ApiKeySchema } from "@ostmesh/proto/gen/osticket/identity/v1/identity_pb.js";
import {
  ApiKeyCheckOutcome,
  ApiKeyPurpose,
} from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { type CursorKey, decodePageToken, pageOf, pageSize } from "./paging.ts";
import { epochMs, fromEpochMs, fromUnixSeconds } from "./times.ts";

/** osTicket's response texts for the three failed outcomes (include/class.api.php, FACTS §4.2). */
export const API_KEY_MESSAGES: Readonly<Record<number, string>> = {
  [ApiKeyCheckOutcome.INVALID]: "Valid API key required",
  [ApiKeyCheckOutcome.INACTIVE]: "API key not found/active or source IP not authorized",
  [ApiKeyCheckOutcome.NOT_AUTHORIZED]: "API key not authorized",
};

export type ApiKeyCheckResult =
  | {
      outcome: ApiKeyCheckOutcome.OK;
      apiKey: ApiKey;
      principal: Principal;
      /** What its token is bound to (see KeyBinding). */
      keyBinding?: KeyBinding;
    }
  | {
      outcome: ApiKeyCheckOutcome.INVALID | ApiKeyCheckOutcome.INACTIVE | ApiKeyCheckOutcome.NOT_AUTHORIZED;
      apiKey: ApiKey | undefined;
    };

const PURPOSE_SCOPE: Readonly<Record<number, string | undefined>> = {
  [ApiKeyPurpose.CREATE_TICKETS]: "tickets:create",
  [ApiKeyPurpose.EXEC_CRON]: "cron:run",
  [ApiKeyPurpose.SCOPED]: undefined,
};

/**
 * The legacy routes' API-key check. osTicket keys exactly as osTicket does (FACTS §4.2): one SELECT with
 * exact ipaddr equality and the key compared through the column's case-insensitive collation, re-read on
 * every call (so a change in osTicket's admin panel applies at once), then isactive, then the purpose's
 * permission. ostmesh keys (`osm_...`) by hash, allowed IPs/CIDRs, revocation, expiry and scope.
 */
export async function checkApiKey(
  em: EntityManager,
  presented: string,
  clientIp: string,
  purpose: ApiKeyPurpose,
): Promise<ApiKeyCheckResult> {
  if (!(purpose in PURPOSE_SCOPE) || purpose === ApiKeyPurpose.UNSPECIFIED)
    throw new ConnectError("purpose is required", Code.InvalidArgument);
  const key = presented.trim();
  if (key === "") return { outcome: ApiKeyCheckOutcome.INVALID, apiKey: undefined };
  if (isOstmeshKey(key)) {
    const check = await checkOstmeshKey(sqlReader(em), key, {
      clientIp,
      requiredScope: PURPOSE_SCOPE[purpose],
    });
    const apiKey = check.key ? await getOstmeshKey(em, check.key.id) : undefined;
    if (check.outcome === "ok" && apiKey) {
      // Bookkeeping only, at most once a minute per key.
      await execute(
        em,
        "UPDATE ostmesh_api_key SET last_used_at = UTC_TIMESTAMP(6) WHERE id = ?" +
          " AND (last_used_at IS NULL OR last_used_at < UTC_TIMESTAMP(6) - INTERVAL 60 SECOND)",
        [check.key.id],
      );
      const keyBinding = ostmeshKeyBinding(clientIp, key);
      return { outcome: ApiKeyCheckOutcome.OK, apiKey, principal: check.principal, keyBinding };
    }
    const outcome =
      check.outcome === "inactive"
        ? ApiKeyCheckOutcome.INACTIVE
        : check.outcome === "not_authorized"
          ? ApiKeyCheckOutcome.NOT_AUTHORIZED
          : ApiKeyCheckOutcome.INVALID;
    return { outcome, apiKey: check.outcome === "invalid" ? undefined : apiKey };
  }
  if (purpose === ApiKeyPurpose.SCOPED) return { outcome: ApiKeyCheckOutcome.INVALID, apiKey: undefined };
  const [row] = await query(
    em,
    `SELECT ${OSTICKET_KEY_COLUMNS} FROM ost_api_key WHERE apikey = ? AND ipaddr = ?`,
    [key, clientIp],
  );
  if (!row) return { outcome: ApiKeyCheckOutcome.INVALID, apiKey: undefined };
  const apiKey = osticketApiKey(row);
  if (num(row.isactive) !== 1) return { outcome: ApiKeyCheckOutcome.INACTIVE, apiKey };
  const allowed =
    purpose === ApiKeyPurpose.CREATE_TICKETS
      ? num(row.can_create_tickets) === 1
      : num(row.can_exec_cron) === 1;
  if (!allowed) return { outcome: ApiKeyCheckOutcome.NOT_AUTHORIZED, apiKey };
  const principal = osticketKeyPrincipal({
    id: num(row.id),
    notes: str(row.notes),
    canCreateTickets: num(row.can_create_tickets) === 1,
    canExecCron: num(row.can_exec_cron) === 1,
  });
  const keyBinding = osticketKeyBinding({ ipaddr: str(row.ipaddr), apikey: str(row.apikey) });
  return { outcome: ApiKeyCheckOutcome.OK, apiKey, principal, keyBinding };
}

const OSTICKET_KEY_COLUMNS =
  "id, isactive, ipaddr, apikey, can_create_tickets, can_exec_cron, notes, UNIX_TIMESTAMP(created) AS created_s";

const OSTMESH_KEY_COLUMNS =
  "id, key_prefix, description, scopes, allowed_ips, revoked_at IS NOT NULL AS revoked," +
  " (expires_at IS NOT NULL AND expires_at <= UTC_TIMESTAMP(6)) AS expired," +
  ` ${epochMs("created_at")} AS created_ms, ${epochMs("expires_at")} AS expires_ms,` +
  ` ${epochMs("revoked_at")} AS revoked_ms, ${epochMs("last_used_at")} AS last_used_ms`;

function osticketApiKey(row: Record<string, unknown>): ApiKey {
  return create(ApiKeySchema, {
    id: num(row.id),
    kind: ApiKeyKind.OSTICKET,
    keyPrefix: str(row.apikey).slice(0, 8),
    scopes: osticketKeyScopes(num(row.can_create_tickets) === 1, num(row.can_exec_cron) === 1),
    allowedIps: [str(row.ipaddr)],
    description: str(row.notes),
    active: num(row.isactive) === 1,
    createdAt: fromUnixSeconds(row.created_s),
  });
}

function ostmeshApiKey(row: Record<string, unknown>): ApiKey {
  return create(ApiKeySchema, {
    id: num(row.id),
    kind: ApiKeyKind.OSTMESH,
    keyPrefix: str(row.key_prefix),
    scopes: jsonList(row.scopes),
    allowedIps: jsonList(row.allowed_ips),
    description: str(row.description),
    active: num(row.revoked) !== 1 && num(row.expired) !== 1,
    createdAt: fromEpochMs(row.created_ms),
    expiresAt: fromEpochMs(row.expires_ms),
    revokedAt: fromEpochMs(row.revoked_ms),
    lastUsedAt: fromEpochMs(row.last_used_ms),
  });
}

export async function getOstmeshKey(em: EntityManager, id: number): Promise<ApiKey | undefined> {
  const [row] = await query(em, `SELECT ${OSTMESH_KEY_COLUMNS} FROM ostmesh_api_key WHERE id = ?`, [id]);
  return row ? ostmeshApiKey(row) : undefined;
}

export interface NewApiKeyInput {
  description: string;
  scopes: readonly string[];
  allowedIps: readonly string[];
  expiresAt: Timestamp | undefined;
}

/**
 * Creates an ostmesh key; returns it with its secret (shown once). A key or service creating a key can
 * only grant scopes it holds itself; administrators grant any known scope.
 */
export async function createApiKey(
  em: EntityManager,
  creator: Principal,
  input: NewApiKeyInput,
): Promise<{ apiKey: ApiKey; secret: string }> {
  const scopes = [...new Set(input.scopes.map((s) => s.trim()))];
  if (scopes.length === 0) throw new ConnectError("at least one scope is required", Code.InvalidArgument);
  const unknown = scopes.filter((s) => !isScope(s));
  if (unknown.length > 0)
    throw new ConnectError(`unknown scopes: ${unknown.join(", ")}`, Code.InvalidArgument);
  const kind = creator.actor?.kind;
  if (kind === PrincipalKind.API_KEY || kind === PrincipalKind.SERVICE) {
    const beyond = scopes.filter((s) => !creator.scopes.includes(s));
    if (beyond.length > 0)
      throw new ConnectError(
        `cannot grant scopes the caller does not hold: ${beyond.join(", ")}`,
        Code.PermissionDenied,
      );
  }
  const ips = [...new Set(input.allowedIps.map((s) => s.trim()).filter((s) => s !== ""))];
  for (const ip of ips) {
    const problem = checkIpEntry(ip);
    if (problem) throw new ConnectError(`allowed_ips: ${problem}`, Code.InvalidArgument);
  }
  const description = input.description.trim();
  if (description.length > 255)
    throw new ConnectError("description is longer than 255 characters", Code.InvalidArgument);
  let expiresMs: number | undefined;
  if (input.expiresAt) {
    expiresMs = timestampMs(input.expiresAt);
    if (expiresMs <= Date.now())
      throw new ConnectError("expires_at must be in the future", Code.InvalidArgument);
  }
  const key = generateOstmeshKey();
  const { insertId } = await execute(
    em,
    "INSERT INTO ostmesh_api_key (key_prefix, secret_hash, description, scopes, allowed_ips, created_by," +
      " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6)," +
      " IF(? IS NULL, NULL, TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00')))",
    [
      key.prefix,
      key.hash,
      description,
      JSON.stringify(scopes),
      JSON.stringify(ips),
      subjectOf(creator).slice(0, 64),
      expiresMs ?? null,
      expiresMs ?? null,
    ],
  );
  const apiKey = await getOstmeshKey(em, insertId);
  if (!apiKey) throw new Error("the new API key vanished");
  return { apiKey, secret: key.secret };
}

/** Revokes an ostmesh key (a revoked key is returned unchanged); NOT_FOUND for an unknown id. */
export async function revokeApiKey(em: EntityManager, id: number): Promise<ApiKey> {
  if (id <= 0) throw new ConnectError("id is required", Code.InvalidArgument);
  await execute(
    em,
    "UPDATE ostmesh_api_key SET revoked_at = UTC_TIMESTAMP(6) WHERE id = ? AND revoked_at IS NULL",
    [id],
  );
  const apiKey = await getOstmeshKey(em, id);
  if (!apiKey) throw new ConnectError("API key not found", Code.NotFound);
  return apiKey;
}

/**
 * Both kinds of keys, newest first (API keys are few: both tables are read whole and merged). Paged by
 * (created, kind, id).
 */
export async function listApiKeys(
  em: EntityManager,
  request: { kind: ApiKeyKind; includeInactive: boolean; pageSize: number; pageToken: string },
): Promise<{ apiKeys: ApiKey[]; nextPageToken: string }> {
  const size = pageSize(request.pageSize);
  const filters = { kind: request.kind, inactive: request.includeInactive };
  const after = decodePageToken(request.pageToken, filters);
  const keys: ApiKey[] = [];
  if (request.kind !== ApiKeyKind.OSTICKET) {
    for (const row of await query(em, `SELECT ${OSTMESH_KEY_COLUMNS} FROM ostmesh_api_key`))
      keys.push(ostmeshApiKey(row));
  }
  if (request.kind !== ApiKeyKind.OSTMESH) {
    for (const row of await query(em, `SELECT ${OSTICKET_KEY_COLUMNS} FROM ost_api_key`))
      keys.push(osticketApiKey(row));
  }
  const sortKey = (k: ApiKey): CursorKey => [k.createdAt ? timestampMs(k.createdAt) : 0, k.kind, k.id];
  const compare = (a: CursorKey, b: CursorKey) => {
    // Newest first, then kind, then id descending.
    const [ac = 0, ak = 0, ai = 0] = a;
    const [bc = 0, bk = 0, bi = 0] = b;
    return Number(bc) - Number(ac) || Number(ak) - Number(bk) || Number(bi) - Number(ai);
  };
  const sorted = keys
    .filter((k) => request.includeInactive || k.active)
    .sort((a, b) => compare(sortKey(a), sortKey(b)))
    .filter((k) => after === undefined || compare(sortKey(k), after) > 0);
  const page = pageOf(sorted, size, filters, sortKey);
  return { apiKeys: page.items, nextPageToken: page.nextPageToken };
}

function jsonList(value: unknown): string[] {
  try {
    const parsed: unknown = JSON.parse(str(value));
    return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}
