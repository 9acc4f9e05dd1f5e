import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { BlockList, isIP } from "node:net";
import { create } from "@bufbuild/protobuf";
import {
  ApiKeyKind,
  type Principal,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import type { KeyBinding } from "./claims.ts";
import { num, type SqlQuery, type SqlRow, str } from "./sql.ts";

/**
 * API keys. ostmesh keys look like `osm_<12 base32 chars>_<43 base64url chars>`: the first 16 characters
 * (`osm_` + 12) are a public prefix stored in clear for lookup and logs; the whole key is stored only as
 * its SHA-256. osTicket's own keys (ost_api_key, 32 hex characters) are plain text in osTicket's table.
 */
export const OSTMESH_KEY_PREFIX = "osm_";
const KEY_PATTERN = /^osm_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$/;
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

export interface NewOstmeshKey {
  /** The full secret, shown to the creator once. */
  secret: string;
  /** Public lookup prefix (`osm_` + 12 characters). */
  prefix: string;
  /** Hex SHA-256 of the full secret: the only form stored. */
  hash: string;
}

export function generateOstmeshKey(): NewOstmeshKey {
  const prefixBytes = randomBytes(12);
  let prefix = OSTMESH_KEY_PREFIX;
  for (const byte of prefixBytes) prefix += BASE32[byte & 31];
  const secret = `${prefix}_${randomBytes(32).toString("base64url")}`;
  return { secret, prefix, hash: hashApiKey(secret) };
}

export function hashApiKey(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Whether a presented key has the ostmesh format (otherwise it can only be an osTicket key). */
export function isOstmeshKey(presented: string): boolean {
  return KEY_PATTERN.test(presented);
}

/** The public prefix of an ostmesh key, or undefined for anything else. */
export function ostmeshKeyPrefix(presented: string): string | undefined {
  return KEY_PATTERN.test(presented) ? presented.slice(0, 16) : undefined;
}

/** Whether `clientIp` is one of `allowed` (addresses or CIDR ranges, IPv4 or IPv6). Empty = any. */
export function ipAllowed(allowed: readonly string[], clientIp: string | undefined): boolean {
  if (allowed.length === 0) return true;
  if (!clientIp) return false;
  const ip = normalizeIp(clientIp);
  const family = isIP(ip);
  if (family === 0) return false;
  const list = new BlockList();
  for (const entry of allowed) {
    const [address = "", bits] = entry.split("/");
    const normalized = normalizeIp(address);
    const type = isIP(normalized) === 6 ? "ipv6" : "ipv4";
    if (isIP(normalized) === 0) continue;
    if (bits === undefined) list.addAddress(normalized, type);
    else list.addSubnet(normalized, Number(bits), type);
  }
  return list.check(ip, family === 6 ? "ipv6" : "ipv4");
}

/** Validates one allowed-IP entry (address or CIDR); returns a problem text or undefined. */
export function checkIpEntry(entry: string): string | undefined {
  const [address = "", bits, extra] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return `"${entry}" is not an IP address or CIDR range`;
  if (bits === undefined) return undefined;
  const n = Number(bits);
  const max = family === 6 ? 128 : 32;
  if (!/^\d+$/.test(bits) || n < 0 || n > max) return `"${entry}" has an invalid prefix length`;
  return undefined;
}

function normalizeIp(ip: string): string {
  const trimmed = ip.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return mapped?.[1] ?? trimmed;
}

/** One row of ostmesh_api_key, as the checks need it. */
export interface OstmeshKeyRow {
  id: number;
  prefix: string;
  description: string;
  scopes: string[];
  allowedIps: string[];
  revoked: boolean;
  expired: boolean;
}

export type ApiKeyOutcome = "ok" | "invalid" | "inactive" | "not_authorized";

export type OstmeshKeyCheck =
  | { outcome: "ok"; key: OstmeshKeyRow; principal: Principal }
  | { outcome: Exclude<ApiKeyOutcome, "ok">; key: OstmeshKeyRow | undefined };

/**
 * Checks an ostmesh key in osTicket's order of outcomes: unknown key or client IP not allowed → invalid;
 * revoked or expired → inactive; without `requiredScope` → not_authorized. Read-only: recording the use is
 * the identity service's job.
 */
export async function checkOstmeshKey(
  q: SqlQuery,
  presented: string,
  options: { clientIp?: string; requiredScope?: string } = {},
): Promise<OstmeshKeyCheck> {
  const prefix = ostmeshKeyPrefix(presented);
  if (!prefix) return { outcome: "invalid", key: undefined };
  const [row] = await q(
    "SELECT id, key_prefix, secret_hash, description, scopes, allowed_ips, revoked_at IS NOT NULL AS revoked," +
      " (expires_at IS NOT NULL AND expires_at <= UTC_TIMESTAMP(6)) AS expired" +
      " FROM ostmesh_api_key WHERE key_prefix = ?",
    [prefix],
  );
  if (!row) return { outcome: "invalid", key: undefined };
  const expected = Buffer.from(str(row.secret_hash), "hex");
  const actual = Buffer.from(hashApiKey(presented), "hex");
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual))
    return { outcome: "invalid", key: undefined };
  const key = ostmeshKeyRow(row);
  if (!ipAllowed(key.allowedIps, options.clientIp)) return { outcome: "invalid", key };
  if (key.revoked || key.expired) return { outcome: "inactive", key };
  if (options.requiredScope && !key.scopes.includes(options.requiredScope))
    return { outcome: "not_authorized", key };
  return { outcome: "ok", key, principal: ostmeshKeyPrincipal(key) };
}

export function ostmeshKeyRow(row: SqlRow): OstmeshKeyRow {
  return {
    id: num(row.id),
    prefix: str(row.key_prefix),
    description: str(row.description),
    scopes: jsonStrings(row.scopes),
    allowedIps: jsonStrings(row.allowed_ips),
    revoked: num(row.revoked) === 1,
    expired: num(row.expired) === 1,
  };
}

export function ostmeshKeyPrincipal(key: OstmeshKeyRow): Principal {
  return create(PrincipalSchema, {
    actor: {
      kind: PrincipalKind.API_KEY,
      id: key.id,
      apiKeyKind: ApiKeyKind.OSTMESH,
      displayName: key.description || key.prefix,
      username: key.prefix,
    },
    scopes: [...key.scopes],
    credentialId: `apikey:ostmesh:${key.id}`,
  });
}

/** An osTicket key's permissions as ostmesh scopes. */
export function osticketKeyScopes(canCreateTickets: boolean, canExecCron: boolean): string[] {
  return [...(canCreateTickets ? ["tickets:create"] : []), ...(canExecCron ? ["cron:run"] : [])];
}

export function osticketKeyPrincipal(key: {
  id: number;
  notes: string;
  canCreateTickets: boolean;
  canExecCron: boolean;
}): Principal {
  return create(PrincipalSchema, {
    actor: {
      kind: PrincipalKind.API_KEY,
      id: key.id,
      apiKeyKind: ApiKeyKind.OSTICKET,
      displayName: key.notes || `API key ${key.id}`,
      username: `apikey:osticket:${key.id}`,
    },
    scopes: osticketKeyScopes(key.canCreateTickets, key.canExecCron),
    credentialId: `apikey:osticket:${key.id}`,
  });
}

/** The binding of a token issued for an osTicket key: its row's `ipaddr` and the hash of its `apikey`. */
export function osticketKeyBinding(row: { ipaddr: string; apikey: string }): KeyBinding {
  return { ip: row.ipaddr, key: hashApiKey(row.apikey) };
}

/** The binding of a token issued for an ostmesh key checked from `clientIp`: that address and the key's hash. */
export function ostmeshKeyBinding(clientIp: string, presented: string): KeyBinding {
  return { ip: clientIp, key: hashApiKey(presented) };
}

function jsonStrings(value: unknown): string[] {
  const text = str(value);
  if (!text) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}
