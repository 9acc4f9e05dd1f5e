/**
 * A process's own credential for the calls it makes on its own behalf (the gateway's legacy API and
 * downloads, the ticket service storing attachments): an access token of kind SERVICE obtained from
 * IdentityService.IssueServiceToken with the process's service secret, kept until shortly before it expires
 * and renewed by one call however many requests need it at once.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { IdentityService } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";

export interface ServiceCredentials {
  /** `Bearer <token>` for calls the process makes on its own behalf. */
  authorization(signal?: AbortSignal): Promise<string>;
}

/** Renew this long before expiry. */
const RENEW_BEFORE_MS = 30_000;

export class IssuedServiceToken implements ServiceCredentials {
  readonly #identity: Client<typeof IdentityService>;
  readonly #serviceName: string;
  readonly #secret: string;
  readonly #now: () => number;
  #current: { header: string; expiresAt: number } | undefined;
  #pending: Promise<string> | undefined;

  constructor(
    identity: Client<typeof IdentityService>,
    serviceName: string,
    secret: string,
    now: () => number = Date.now,
  ) {
    this.#identity = identity;
    this.#serviceName = serviceName;
    this.#secret = secret;
    this.#now = now;
  }

  authorization(signal?: AbortSignal): Promise<string> {
    const current = this.#current;
    if (current && current.expiresAt - RENEW_BEFORE_MS > this.#now()) return Promise.resolve(current.header);
    this.#pending ??= this.#issue(signal).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** Forgets the token (e.g. after a service answered UNAUTHENTICATED), so the next call gets a new one. */
  invalidate(): void {
    this.#current = undefined;
  }

  async #issue(signal?: AbortSignal): Promise<string> {
    const res = await this.#identity.issueServiceToken(
      { idempotencyKey: crypto.randomUUID(), serviceName: this.#serviceName, secret: this.#secret },
      { signal },
    );
    const token = res.tokens?.accessToken;
    if (!token) throw new Error("IssueServiceToken returned no access token");
    const expires = res.tokens?.accessTokenExpiresAt;
    const header = `Bearer ${token}`;
    this.#current = { header, expiresAt: expires ? timestampMs(expires) : this.#now() + 60_000 };
    return header;
  }
}
