import http from "node:http";
import https from "node:https";
import { parseTarget, pinnedLookup, resolveTarget, type TargetPolicy, TargetRefusedError } from "./ssrf.ts";

export interface AttemptResult {
  /** HTTP status, 0 when no answer was received. */
  readonly status: number;
  readonly durationMs: number;
  /** Empty on a 2xx answer. */
  readonly error: string;
  /** The target was refused before any connection (SSRF policy): retrying will not help. */
  readonly refused: boolean;
}

export interface PostOptions {
  readonly policy: TargetPolicy;
  /** Whole attempt: resolution, connection, request, response (default 10 s, the contract's). */
  readonly timeoutMs?: number;
  /** Response bytes read at most; the rest is discarded (default 64 KiB). */
  readonly maxResponseBytes?: number;
  /** DNS resolution (tests inject names). */
  readonly resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
}

/**
 * POSTs one webhook request: the URL is checked, its host resolved and checked, and the connection made to
 * that checked address; redirects are not followed (a 3xx is a failure); the whole attempt has a deadline and
 * the response body is read up to a cap.
 */
export async function postWebhook(
  target: string,
  body: string,
  headers: Readonly<Record<string, string>>,
  options: PostOptions,
): Promise<AttemptResult> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxResponseBytes ?? 64 * 1024;
  const elapsed = () => Math.round(performance.now() - started);
  let resolved: { address: string; family: number };
  let url: URL;
  try {
    const parsed = parseTarget(target, options.policy);
    url = parsed.url;
    resolved = await withDeadline(resolveTarget(parsed.host, options.policy, options.resolve), timeoutMs);
  } catch (error) {
    const refused = error instanceof TargetRefusedError;
    return { status: 0, durationMs: elapsed(), error: errorText(error), refused };
  }
  const transport = url.protocol === "https:" ? https : http;
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const finish = (status: number, error: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, durationMs: elapsed(), error, refused: false });
    };
    const request = transport.request(
      url,
      {
        method: "POST",
        agent: false,
        lookup: pinnedLookup(resolved.address, resolved.family),
        headers: {
          ...headers,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
          "user-agent": "ostmesh-webhooks/1",
        },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        let received = 0;
        response.on("data", (chunk: Buffer) => {
          received += chunk.byteLength;
          if (received > maxBytes) {
            // Enough: the status is what counts; stop reading an oversized answer.
            response.destroy();
            finish(status, status >= 200 && status < 300 ? "" : `HTTP ${status}`);
          }
        });
        response.on("end", () =>
          finish(
            status,
            status >= 200 && status < 300
              ? ""
              : status >= 300 && status < 400
                ? `HTTP ${status} (redirects are not followed)`
                : `HTTP ${status}`,
          ),
        );
        response.on("error", (error) => finish(status, errorText(error)));
      },
    );
    const timer = setTimeout(() => {
      request.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    request.on("error", (error) => finish(0, errorText(error)));
    request.end(body);
  });
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = "code" in error && typeof error.code === "string" ? `${error.code}: ` : "";
    return `${code}${error.message}`.slice(0, 1024);
  }
  return String(error).slice(0, 1024);
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
