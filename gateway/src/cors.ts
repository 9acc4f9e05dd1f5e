/**
 * CORS for the configured browser origins: preflights answered here (Connect-Web's request headers and
 * ours allowed, cached by the browser for maxAge), and actual responses allowed to those origins with
 * Connect's response headers exposed. Other origins get no CORS headers (the browser then refuses).
 */
import { cors as connectCors } from "@connectrpc/connect";
import type { NodeRequest, NodeResponse } from "./legacy/http.ts";
import { writeHead } from "./legacy/http.ts";

const ALLOWED_HEADERS = [
  ...connectCors.allowedHeaders,
  "Authorization",
  "X-API-Key",
  "Idempotency-Key",
  "Traceparent",
  "Tracestate",
];
const EXPOSED_HEADERS = [...connectCors.exposedHeaders, "Retry-After", "Content-Length"];
const ALLOWED_METHODS = [...connectCors.allowedMethods, "OPTIONS"];

export class CorsPolicy {
  readonly #origins: ReadonlySet<string>;
  readonly #anyOrigin: boolean;
  readonly #maxAgeSec: number;

  constructor(origins: readonly string[], maxAgeSec: number) {
    this.#anyOrigin = origins.includes("*");
    this.#origins = new Set(origins.map((o) => o.replace(/\/+$/, "")));
    this.#maxAgeSec = maxAgeSec;
  }

  #allowed(origin: string | undefined): origin is string {
    return origin !== undefined && (this.#anyOrigin || this.#origins.has(origin));
  }

  /** Adds CORS headers for an allowed origin; answers a preflight itself (returns true then). */
  handle(req: NodeRequest, res: NodeResponse): boolean {
    const origin = req.headers.origin;
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (!this.#allowed(origin)) {
      if (preflight) {
        writeHead(res, 403, { vary: "Origin", "content-length": "0" });
        res.end();
        return true;
      }
      return false;
    }
    if (preflight) {
      writeHead(res, 204, {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": ALLOWED_METHODS.join(", "),
        "access-control-allow-headers": ALLOWED_HEADERS.join(", "),
        "access-control-max-age": String(this.#maxAgeSec),
        vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        "content-length": "0",
      });
      res.end();
      return true;
    }
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("access-control-expose-headers", EXPOSED_HEADERS.join(", "));
    res.setHeader("vary", "Origin");
    return false;
  }
}
