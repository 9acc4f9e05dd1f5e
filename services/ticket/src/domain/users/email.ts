import { Resolver } from "node:dns/promises";
import type { MailDomainVerifier } from "../ports.ts";

const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LOCAL = `(?:${ATOM}(?:\\.${ATOM})*|"(?:[^"\\\\\\r\\n]|\\\\.)*")`;
const DOMAIN =
  "(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\\[[^\\]\\s]+\\])";
const ADDRESS = new RegExp(`^(${LOCAL})@(${DOMAIN})$`);

/** The host part of a syntactically valid single address, else undefined (Validator::is_email). */
export function emailHost(address: string): string | undefined {
  const match = ADDRESS.exec(address.trim());
  if (!match?.[1] || !match[2]) return undefined;
  if (match[2].toLowerCase() === "localhost") return undefined;
  return match[2];
}

/** One address, with a mailbox, not at localhost. */
export function isEmailAddress(address: string): boolean {
  return emailHost(address) !== undefined;
}

/**
 * verify_email_addrs: the domain must have an MX record, else an A or AAAA record (RFC 2821 implicit MX).
 * Lookups use a short timeout; an unanswered lookup counts as unverifiable, as on a box without DNS.
 */
export function dnsMailDomainVerifier(
  options: { timeoutMs?: number; servers?: string[] } = {},
): MailDomainVerifier {
  return async (domain) => {
    const resolver = new Resolver({ timeout: options.timeoutMs ?? 2_000, tries: 1 });
    if (options.servers) resolver.setServers(options.servers);
    const host = domain.endsWith(".") ? domain : `${domain}.`;
    const has = async (lookup: () => Promise<unknown[]>) => {
      try {
        return (await lookup()).length > 0;
      } catch {
        return false;
      }
    };
    if (await has(() => resolver.resolveMx(host))) return true;
    return (await has(() => resolver.resolve4(host))) || (await has(() => resolver.resolve6(host)));
  };
}
