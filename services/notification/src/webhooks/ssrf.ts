import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/**
 * Server-side request forgery protection for webhook targets. A subscription may only reach public
 * addresses: loopback, private, link-local, carrier-grade NAT, multicast, documentation and reserved
 * ranges are refused unless the operator allows them (WEBHOOK_ALLOWED_CIDRS). The check is made on the
 * addresses DNS returns, and the connection is then made to the very address that was checked (a custom
 * `lookup`), so a name that resolves differently the second time (DNS rebinding) gains nothing.
 */

const DENIED: readonly [string, number, "ipv4" | "ipv6"][] = [
  ["0.0.0.0", 8, "ipv4"],
  ["10.0.0.0", 8, "ipv4"],
  ["100.64.0.0", 10, "ipv4"],
  ["127.0.0.0", 8, "ipv4"],
  ["169.254.0.0", 16, "ipv4"],
  ["172.16.0.0", 12, "ipv4"],
  ["192.0.0.0", 24, "ipv4"],
  ["192.0.2.0", 24, "ipv4"],
  ["192.88.99.0", 24, "ipv4"],
  ["192.168.0.0", 16, "ipv4"],
  ["198.18.0.0", 15, "ipv4"],
  ["198.51.100.0", 24, "ipv4"],
  ["203.0.113.0", 24, "ipv4"],
  ["224.0.0.0", 4, "ipv4"],
  ["240.0.0.0", 4, "ipv4"],
  ["::", 128, "ipv6"],
  ["::1", 128, "ipv6"],
  ["64:ff9b::", 96, "ipv6"],
  ["64:ff9b:1::", 48, "ipv6"],
  ["100::", 64, "ipv6"],
  ["2001::", 23, "ipv6"],
  ["2001:db8::", 32, "ipv6"],
  ["2002::", 16, "ipv6"],
  ["fc00::", 7, "ipv6"],
  ["fe80::", 10, "ipv6"],
  ["fec0::", 10, "ipv6"],
  ["ff00::", 8, "ipv6"],
];

const deniedList = new BlockList();
for (const [network, prefix, type] of DENIED) deniedList.addSubnet(network, prefix, type);

export interface TargetPolicy {
  /** Ranges allowed even though they are not public (e.g. "127.0.0.1/32" in development and tests). */
  readonly allowed: BlockList;
  /** Plain http:// targets (otherwise only https, and http to allowed loopback addresses). */
  readonly allowHttp: boolean;
}

/** A policy from "10.0.0.0/8,127.0.0.1/32"-style CIDR lists. Throws on a malformed entry. */
export function targetPolicy(
  options: { allowedCidrs?: readonly string[]; allowHttp?: boolean } = {},
): TargetPolicy {
  const allowed = new BlockList();
  for (const raw of options.allowedCidrs ?? []) {
    const cidr = raw.trim();
    if (cidr === "") continue;
    const [address = "", prefixText] = cidr.split("/");
    const type = isIP(address);
    if (type === 0) throw new Error(`not an IP range: ${cidr}`);
    const max = type === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max)
      throw new Error(`bad prefix length: ${cidr}`);
    allowed.addSubnet(address, prefix, type === 4 ? "ipv4" : "ipv6");
  }
  return { allowed, allowHttp: options.allowHttp ?? false };
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its IPv4 address. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}

/** Whether a connection to this IP address is allowed by the policy. */
export function addressAllowed(address: string, policy: TargetPolicy): boolean {
  const ip = unmapped(address);
  const type = isIP(ip);
  if (type === 0) return false;
  const family = type === 4 ? "ipv4" : "ipv6";
  if (policy.allowed.check(ip, family)) return true;
  return !deniedList.check(ip, family);
}

export class TargetRefusedError extends Error {
  override name = "TargetRefusedError";
}

export interface ParsedTarget {
  readonly url: URL;
  /** Hostname without IPv6 brackets. */
  readonly host: string;
}

/** Checks a subscription URL's shape (scheme, no credentials, a host); throws TargetRefusedError. */
export function parseTarget(raw: string, policy: TargetPolicy): ParsedTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefusedError("not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new TargetRefusedError("only https (or http for allowed development targets) URLs are accepted");
  if (url.username || url.password) throw new TargetRefusedError("URLs with credentials are not accepted");
  if (url.hash) throw new TargetRefusedError("URLs with a fragment are not accepted");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!host) throw new TargetRefusedError("the URL has no host");
  if (url.protocol === "http:" && !policy.allowHttp) {
    // The contract accepts plain http only to loopback (in development, where the operator allows it).
    const ip = unmapped(host);
    const loopback = host === "localhost" || /^127\./.test(ip) || ip === "::1";
    if (!loopback) throw new TargetRefusedError("plain http is only accepted for loopback targets");
  }
  if (isIP(host) !== 0 && !addressAllowed(host, policy))
    throw new TargetRefusedError(`the address ${host} is not a public address`);
  return { url, host };
}

export type LookupFunction = (
  hostname: string,
  options: object,
  callback: (
    error: NodeJS.ErrnoException | null,
    address: string | { address: string; family: number }[],
    family?: number,
  ) => void,
) => void;

/** Resolves a host name and refuses it when any of its addresses is not allowed; returns the first. */
export async function resolveTarget(
  host: string,
  policy: TargetPolicy,
  resolve: (host: string) => Promise<{ address: string; family: number }[]> = (h) =>
    dnsLookup(h, { all: true }),
): Promise<{ address: string; family: number }> {
  if (isIP(host) !== 0) {
    if (!addressAllowed(host, policy))
      throw new TargetRefusedError(`the address ${host} is not a public address`);
    return { address: host, family: isIP(host) };
  }
  let addresses: { address: string; family: number }[];
  try {
    addresses = await resolve(host);
  } catch (error) {
    throw new TargetRefusedError(
      `cannot resolve ${host}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (addresses.length === 0) throw new TargetRefusedError(`${host} has no addresses`);
  const refused = addresses.find((a) => !addressAllowed(a.address, policy));
  if (refused)
    throw new TargetRefusedError(`${host} resolves to ${refused.address}, which is not a public address`);
  const first = addresses[0];
  if (!first) throw new TargetRefusedError(`${host} has no addresses`);
  return first;
}

/** A `lookup` for http(s).request that answers with an address resolved and checked beforehand. */
export function pinnedLookup(address: string, family: number): LookupFunction {
  return (_hostname, options, callback) => {
    if (options && typeof options === "object" && "all" in options && options.all === true)
      callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}
