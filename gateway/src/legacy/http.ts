/**
 * osTicket's HTTP layer for the legacy API (include/class.http.php, include/class.dispatcher.php,
 * api/http.php): routes, the fixed status map, and exact plain-text responses.
 */
import type { OutgoingHttpHeaders } from "node:http";
import type { connectNodeAdapter } from "@connectrpc/connect-node";

type ConnectNodeHandler = ReturnType<typeof connectNodeAdapter>;
/** The request and response types Connect's Node adapter (and its fallback) work with. */
export type NodeRequest = Parameters<ConnectNodeHandler>[0];
export type NodeResponse = Parameters<ConnectNodeHandler>[1];

/** Status codes osTicket sends as such; every other code goes out as 500 (Http::header_code_verbose). */
const KNOWN_STATUS = new Set([200, 201, 204, 205, 400, 401, 403, 404, 405, 416, 418, 422]);

export function osticketStatus(code: number): number {
  return KNOWN_STATUS.has(code) ? code : 500;
}

/** writeHead on either kind of response (their signatures differ only in typing). */
export function writeHead(res: NodeResponse, status: number, headers: OutgoingHttpHeaders): void {
  res.writeHead(status, headers);
}

export const LEGACY_CONTENT_TYPE = "text/html; charset=UTF-8";

/** Http::response: status from the map, `text/html; charset=UTF-8`, Content-Length, the body as is. */
export function sendLegacy(
  res: NodeResponse,
  code: number,
  body: string,
  extraHeaders: Readonly<Record<string, string>> = {},
): void {
  const bytes = Buffer.from(body, "utf8");
  writeHead(res, osticketStatus(code), {
    ...extraHeaders,
    "content-type": LEGACY_CONTENT_TYPE,
    "content-length": String(bytes.length),
  });
  res.end(bytes);
}

/** Answers outside osTicket's map that the edge gives itself (413, 429): sent with their real status. */
export function sendEdge(
  res: NodeResponse,
  status: number,
  body: string,
  extraHeaders: Readonly<Record<string, string>> = {},
): void {
  const bytes = Buffer.from(body, "utf8");
  writeHead(res, status, {
    ...extraHeaders,
    "content-type": LEGACY_CONTENT_TYPE,
    "content-length": String(bytes.length),
  });
  res.end(bytes);
}

export type LegacyRoute =
  | { kind: "tickets"; format: "json" | "xml" | "email" }
  | { kind: "cron" }
  | { kind: "unsupported" };

/** Whether a request path belongs to the legacy API (osTicket's /api/ directory). */
export function isLegacyPath(pathname: string): boolean {
  return pathname === "/api" || pathname.startsWith("/api/");
}

function phpUrlDecode(value: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "+") bytes.push(0x20);
    else if (c === "%" && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(c ?? "", "utf8"));
  }
  return Buffer.from(bytes).toString("utf8");
}

/**
 * The dispatcher: the path info after `/api` or `/api/http.php`, URL-decoded, matched against
 * `^/tickets\.(xml|json|email)$` and `^/tasks/cron$`, POST only (or `?_method=POST`).
 */
export function matchLegacyRoute(method: string, url: string): LegacyRoute {
  const [rawPath = "", query = ""] = url.split("?", 2);
  let pathInfo: string | undefined;
  if (rawPath.startsWith("/api/http.php/")) pathInfo = rawPath.slice("/api/http.php".length);
  else if (rawPath === "/api/http.php" || rawPath === "/api") pathInfo = undefined;
  else if (rawPath.startsWith("/api/")) pathInfo = rawPath.slice("/api".length);
  const override = new URLSearchParams(query).get("_method");
  const effectiveMethod = (override ?? method).toUpperCase();
  if (pathInfo === undefined || effectiveMethod !== "POST") return { kind: "unsupported" };
  const path = phpUrlDecode(pathInfo);
  const tickets = /^\/tickets\.(xml|json|email)$/.exec(path);
  if (tickets?.[1] === "xml" || tickets?.[1] === "json" || tickets?.[1] === "email")
    return { kind: "tickets", format: tickets[1] };
  if (path === "/tasks/cron") return { kind: "cron" };
  return { kind: "unsupported" };
}

export class BodyTooLarge extends Error {
  override name = "BodyTooLarge";
}

/** Reads a request body, refusing more than `limit` bytes (declared or actual). */
export async function readBody(req: NodeRequest, limit: number, signal?: AbortSignal): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    signal?.throwIfAborted();
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(buffer);
  }
  return chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks);
}
