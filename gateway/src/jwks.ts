/**
 * GET/HEAD /.well-known/jwks.json on the gateway's public ports: ostmesh's public signing keys as a JWK Set
 * (RFC 7517), for verifiers outside the mesh (another API, a browser app, jose's createRemoteJWKSet). The
 * gateway holds no keys: it asks IdentityService.GetJwks over its identity client and keeps the document
 * for a short while, so a flood of requests is one RPC per `cacheMs`.
 *
 * Freshness: identity publishes a new key `activationDelay` (60 s) before it signs with it. The gateway's
 * cache (15 s) plus what clients may keep (Cache-Control max-age=30) stays under that, so a verifier that
 * follows the headers has the new key before the first token signed with it; verifiers refetch on an
 * unknown kid anyway. When identity cannot be reached, the last document is served for up to `staleMs`;
 * without one the answer is 503 with Retry-After.
 */
import type { JSONWebKeySet } from "jose";
import type { Logger } from "pino";
import { type NodeRequest, type NodeResponse, writeHead } from "./legacy/http.ts";

export const JWKS_PATH = "/.well-known/jwks.json";
export const JWKS_CONTENT_TYPE = "application/jwk-set+json";

export interface JwksRouteOptions {
  /** Fetches the current key set; in production `jwksFromIdentity(<the gateway's identity client>)`. */
  load: (signal?: AbortSignal) => Promise<JSONWebKeySet>;
  /** How long a fetched document is served without asking again (default 15 s). */
  cacheMs?: number;
  /** How long the last document is still served while identity fails (default 10 minutes). */
  staleMs?: number;
  /** Cache-Control max-age given to clients, in seconds (default 30). */
  clientMaxAgeSec?: number;
  /** Deadline of one GetJwks call (default 5 s). */
  timeoutMs?: number;
  logger?: Pick<Logger, "warn" | "error">;
  now?: () => number;
}

interface Held {
  body: Buffer;
  fetchedAt: number;
}

/** The document, fetched on demand, one fetch at a time, kept `cacheMs`. */
export class JwksDocument {
  readonly #o: JwksRouteOptions;
  #held: Held | undefined;
  #pending: Promise<Held> | undefined;
  #fetches = 0;

  constructor(options: JwksRouteOptions) {
    this.#o = options;
  }

  /** How many times the set was fetched from identity (tests, diagnostics). */
  get fetches(): number {
    return this.#fetches;
  }

  /** The serialized JWK Set, or undefined when none can be had (identity down and nothing recent held). */
  async current(): Promise<Buffer | undefined> {
    const now = (this.#o.now ?? Date.now)();
    const held = this.#held;
    if (held && now - held.fetchedAt < (this.#o.cacheMs ?? 15_000)) return held.body;
    try {
      return (await this.#fetch()).body;
    } catch (error) {
      if (held && now - held.fetchedAt < (this.#o.staleMs ?? 600_000)) {
        this.#o.logger?.warn({ err: error }, "cannot refresh the JWKS; serving the last one");
        return held.body;
      }
      this.#o.logger?.error({ err: error }, "cannot serve the JWKS");
      return undefined;
    }
  }

  #fetch(): Promise<Held> {
    this.#pending ??= (async () => {
      this.#fetches++;
      try {
        const set = await this.#o.load(AbortSignal.timeout(this.#o.timeoutMs ?? 5000));
        if (set.keys.length === 0) throw new Error("GetJwks returned no keys");
        const held = { body: Buffer.from(JSON.stringify(set)), fetchedAt: (this.#o.now ?? Date.now)() };
        this.#held = held;
        return held;
      } finally {
        this.#pending = undefined;
      }
    })();
    return this.#pending;
  }
}

/** Node handler for JWKS_PATH (any other path is the caller's business). */
export function jwksHandler(
  document: JwksDocument,
  options: Pick<JwksRouteOptions, "clientMaxAgeSec"> = {},
): (req: NodeRequest, res: NodeResponse) => void {
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendText(res, 405, "Method Not Allowed", { allow: "GET, HEAD" });
      return;
    }
    document.current().then(
      (body) => {
        if (!body) {
          sendText(res, 503, "JWKS unavailable", { "cache-control": "no-store", "retry-after": "5" });
          return;
        }
        writeHead(res, 200, {
          "content-type": JWKS_CONTENT_TYPE,
          "content-length": String(body.length),
          "cache-control": `public, max-age=${options.clientMaxAgeSec ?? 30}`,
        });
        if (req.method === "HEAD") res.end();
        else res.end(body);
      },
      () => {
        // current() never rejects; this only guards against a response that cannot be written.
        if (!res.headersSent) sendText(res, 500, "Internal Server Error");
        else res.destroy();
      },
    );
  };
}

function sendText(
  res: NodeResponse,
  status: number,
  text: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  const body = Buffer.from(text);
  writeHead(res, status, {
    ...headers,
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(body.length),
  });
  res.end(body);
}
