/**
 * The ticket service's own credential for the calls it makes on its own behalf (storing attachments): an
 * access token of kind SERVICE from IdentityService.IssueServiceToken with TICKET_SERVICE_SECRET, kept until
 * shortly before it expires; concurrent callers share one renewal.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { IdentityService } from "@ostmesh/proto";

const RENEW_BEFORE_MS = 30_000;

export class IssuedServiceToken {
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

  /** `Bearer <token>`, renewed when it is about to expire. */
  authorization(signal?: AbortSignal): Promise<string> {
    const current = this.#current;
    if (current && current.expiresAt - RENEW_BEFORE_MS > this.#now()) return Promise.resolve(current.header);
    this.#pending ??= this.#issue(signal).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
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
