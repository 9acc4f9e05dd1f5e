/**
 * The caller's address as osTicket determines it (osTicket::get_client_ip): the socket's peer, unless that
 * peer is a trusted proxy; then X-Forwarded-For is walked from the right, skipping invalid entries, and
 * the first hop that is not a trusted proxy is the client (all trusted: the left-most valid entry).
 */
import { BlockList, isIP } from "node:net";

function normalize(ip: string): string {
  const trimmed = ip.trim();
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed)?.[1] ?? trimmed;
}

export class ClientAddressResolver {
  readonly #trusted: BlockList;
  readonly #any: boolean;

  constructor(trustedProxies: readonly string[]) {
    this.#trusted = new BlockList();
    this.#any = trustedProxies.length > 0;
    for (const entry of trustedProxies) {
      const [address = "", bits] = entry.split("/");
      const ip = normalize(address);
      const type = isIP(ip) === 6 ? "ipv6" : "ipv4";
      if (isIP(ip) === 0) continue;
      if (bits === undefined) this.#trusted.addAddress(ip, type);
      else this.#trusted.addSubnet(ip, Number(bits), type);
    }
  }

  #isTrusted(ip: string): boolean {
    const family = isIP(ip);
    return family !== 0 && this.#trusted.check(ip, family === 6 ? "ipv6" : "ipv4");
  }

  resolve(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    const remote = normalize(peer ?? "");
    const header = Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor;
    if (header === undefined || !this.#any || !this.#isTrusted(remote)) return remote;
    const chain = [...header.split(",").map(normalize), remote].reverse();
    const valid: string[] = [remote];
    for (const hop of chain.slice(1)) {
      if (isIP(hop) === 0) continue;
      if (!this.#isTrusted(hop)) return hop;
      valid.push(hop);
    }
    return valid.at(-1) ?? remote;
  }
}
