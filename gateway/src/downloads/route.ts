/**
 * GET/HEAD /files/<key>?expires=<unix>&disposition=<inline|attachment>&signature=<sig>: the public download
 * of a signed, expiring link made by AttachmentService.CreateDownloadLink. The gateway holds neither the
 * link secret nor database access: it passes the link's parts to AttachmentService.DownloadFile over h2c,
 * which checks them, and streams the answer with the HTTP a browser and a download manager expect —
 * Content-Type, a safe Content-Disposition, Content-Length, ETag (the file's content signature) with
 * If-None-Match → 304, single byte ranges (206, 416, If-Range), HEAD, nosniff. A range is passed to the
 * service, which reads only the stored chunks covering it. Memory stays at about one stored chunk per
 * download: the body is written as the chunks arrive, waiting for the client to drain.
 *
 * Refusals: a link whose signature does not verify (changed, truncated, another secret) is 403; a genuine
 * link past its expiry is 410 Gone — the service tells the two apart, tampering first, so a forged expiry
 * is 403; a link to a file that no longer exists is 404.
 */
import { once } from "node:events";
import type { OutgoingHttpHeaders } from "node:http";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import { IssuedServiceToken } from "@ostmesh/kit/auth/service-token.ts";
import type { Topology } from "@ostmesh/kit/rpc/topology.ts";
import { AttachmentService } from "@ostmesh/proto/gen/osticket/attachment/v1/attachment_service_pb.js";
import { IdentityService } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config.ts";
import {
  contentDisposition,
  entityTag,
  ifRangeHolds,
  isRiskyType,
  noneMatch,
  parseRange,
  rangeRequest,
} from "./headers.ts";

type NodeHandler = ReturnType<typeof connectNodeAdapter>;
type NodeRequest = Parameters<NodeHandler>[0];
type NodeResponse = Parameters<NodeHandler>[1];

export const DOWNLOAD_PREFIX = "/files/";

/** The attachment service's messages for refused links (services/attachment/src/rpc/errors.ts). */
const LINK_EXPIRED = "the download link has expired";
const LINK_INVALID = "the download link is not valid";

export interface DownloadRouteOptions {
  /** AttachmentService, reached over h2c (ATTACHMENT_URL) or in-process. */
  attachment: Client<typeof AttachmentService>;
  /** The gateway's own credential, `Bearer <token>`; its service token must hold files:read. */
  authorization?: (signal?: AbortSignal) => Promise<string>;
  logger?: Logger;
  /** Milliseconds since the epoch (Cache-Control lifetimes). */
  now?: () => number;
}

/** The production wiring: the topology's attachment client and the gateway's service token. */
export function gatewayDownloads(options: {
  topology: Topology;
  gateway: GatewayConfig;
  logger?: Logger;
}): DownloadRouteOptions {
  const { topology, gateway } = options;
  const token = new IssuedServiceToken(
    topology.client(IdentityService, "identity"),
    gateway.service.name,
    gateway.service.secret ?? "",
  );
  return {
    attachment: topology.client(AttachmentService, "attachment"),
    authorization: (signal) => token.authorization(signal),
    ...(options.logger ? { logger: options.logger.child({ component: "downloads" }) } : {}),
  };
}

/** Serves /files/… itself and hands every other request to `next` (404 without one). */
export function withDownloads(next: NodeHandler | undefined, options: DownloadRouteOptions): NodeHandler {
  const serve = downloadHandler(options);
  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    if (path.startsWith(DOWNLOAD_PREFIX)) {
      serve(req, res);
      return;
    }
    if (next) next(req, res);
    else sendText(res, 404, "Not Found");
  };
}

export function downloadHandler(
  options: DownloadRouteOptions,
): (req: NodeRequest, res: NodeResponse) => void {
  return (req, res) => {
    serveDownload(req, res, options).catch((error: unknown) => {
      options.logger?.error({ err: error }, "download failed");
      if (!res.headersSent) sendText(res, 500, "Internal Server Error");
      else res.destroy();
    });
  };
}

interface LinkParts {
  key: string;
  expires: number;
  signature: string;
  disposition: "inline" | "attachment";
}

function parseLink(requestUrl: string): LinkParts | "not-found" | "invalid" {
  const url = new URL(requestUrl, "http://gateway.invalid");
  const rawKey = url.pathname.slice(DOWNLOAD_PREFIX.length);
  if (rawKey === "" || rawKey.includes("/")) return "not-found";
  let key: string;
  try {
    key = decodeURIComponent(rawKey);
  } catch {
    return "not-found";
  }
  const expires = url.searchParams.get("expires") ?? "";
  const signature = url.searchParams.get("signature") ?? "";
  const disposition = url.searchParams.get("disposition");
  if (
    !/^\d{1,15}$/.test(expires) ||
    signature === "" ||
    (disposition !== "inline" && disposition !== "attachment")
  )
    return "invalid";
  return { key, expires: Number(expires), signature, disposition };
}

async function serveDownload(
  req: NodeRequest,
  res: NodeResponse,
  options: DownloadRouteOptions,
): Promise<void> {
  const method = req.method ?? "GET";
  if (method !== "GET" && method !== "HEAD") {
    sendText(res, 405, "Method Not Allowed", { allow: "GET, HEAD" });
    return;
  }
  const link = parseLink(req.url ?? "/");
  if (link === "not-found") {
    sendText(res, 404, "File not found.");
    return;
  }
  if (link === "invalid") {
    sendText(res, 403, "This download link is not valid.");
    return;
  }

  // The RPC lives as long as the client: a disconnect cancels it, and so does finishing early.
  const controller = new AbortController();
  const onClose = () => controller.abort();
  res.once("close", onClose);
  try {
    const headers = new Headers();
    if (options.authorization) headers.set("authorization", await options.authorization(controller.signal));
    const linkValue = {
      key: link.key,
      expires: BigInt(link.expires),
      signature: link.signature,
      asAttachment: link.disposition === "attachment",
    };
    /** One DownloadFile call (of the whole file, or of a range), its first message read; undefined once refused. */
    const open = async (range: ReturnType<typeof rangeRequest>) => {
      const call = new AbortController();
      const stream = options.attachment.downloadFile(
        {
          file: { case: "link", value: linkValue },
          ...(range
            ? {
                range:
                  "suffix" in range
                    ? { suffixLength: BigInt(range.suffix) }
                    : { offset: BigInt(range.offset), length: BigInt(range.length) },
              }
            : {}),
        },
        { signal: AbortSignal.any([controller.signal, call.signal]), headers },
      );
      const messages = stream[Symbol.asyncIterator]();
      let first: Awaited<ReturnType<typeof messages.next>>;
      try {
        first = await messages.next();
      } catch (error) {
        refuse(res, error, options.logger);
        return undefined;
      }
      if (first.done || first.value.part.case !== "info")
        throw new Error("DownloadFile sent no file metadata first");
      return { messages, first: first.value, info: first.value.part.value, cancel: () => call.abort() };
    };

    const rangeHeader = header(req, "range");
    const ifRange = header(req, "if-range");
    // Only the chunks the range needs are read, unless If-Range names something that is no entity tag
    // (a date never matches ours: the whole file is served then).
    const wanted = ifRange === undefined || /^\s*"/.test(ifRange) ? rangeRequest(rangeHeader) : undefined;
    let call = await open(wanted);
    if (!call) return;
    const { info } = call;
    // What the whole file streams: the stored bytes (a legacy double-decoded file holds fewer than its
    // recorded size); an attachment service predating content_length sends only the size.
    const size = Number(call.first.contentLength ?? info.size);
    const tag = entityTag(info.signature);
    const now = options.now?.() ?? Date.now();
    const common: OutgoingHttpHeaders = {
      etag: tag,
      "cache-control": `private, max-age=${Math.max(0, link.expires - Math.floor(now / 1000))}`,
      "accept-ranges": "bytes",
      "x-content-type-options": "nosniff",
      ...(info.createdAt
        ? { "last-modified": new Date(Number(info.createdAt.seconds) * 1000).toUTCString() }
        : {}),
    };
    if (noneMatch(header(req, "if-none-match"), tag)) {
      res.writeHead(304, common);
      res.end();
      return;
    }
    const type = info.type || "application/octet-stream";
    const disposition = isRiskyType(type) ? "attachment" : link.disposition;
    const representation: OutgoingHttpHeaders = {
      ...common,
      "content-type": type,
      "content-disposition": contentDisposition(disposition, info.name),
    };
    const range = ifRangeHolds(ifRange, tag) ? parseRange(rangeHeader, size) : undefined;
    if (range === "unsatisfiable") {
      res.writeHead(416, { ...common, "content-range": `bytes */${size}`, "content-length": "0" });
      res.end();
      return;
    }
    const start = range?.start ?? 0;
    const end = range ? range.end + 1 : size;
    // Where the stream starts: the range the service resolved, or byte 0 of the whole file (also from a
    // service that does not read ranges; the prefix is skipped below then).
    const served = call.first.range;
    let position = served ? Number(served.offset) : 0;
    if (served && (position !== start || Number(served.length) !== end - start)) {
      // The stream holds another part than the answer needs (If-Range named another version): whole file.
      call.cancel();
      call = await open(undefined);
      if (!call) return;
      position = 0;
    }
    res.writeHead(range ? 206 : 200, {
      ...representation,
      "content-length": String(end - start),
      ...(range ? { "content-range": `bytes ${range.start}-${range.end}/${size}` } : {}),
    });
    if (method === "HEAD" || end === start) {
      res.end();
      return;
    }

    const { messages } = call;
    while (position < end) {
      const next = await messages.next();
      if (next.done) break;
      if (next.value.part.case !== "chunk") throw new Error("DownloadFile sent metadata twice");
      const chunk = next.value.part.value;
      const chunkStart = position;
      position += chunk.byteLength;
      if (position <= start) continue;
      const piece = chunk.subarray(
        Math.max(0, start - chunkStart),
        Math.min(chunk.byteLength, end - chunkStart),
      );
      if (piece.byteLength > 0 && !res.write(piece)) await once(res, "drain", { signal: controller.signal });
    }
    if (position < end) throw new Error(`the file ended after ${position} of ${size} bytes`);
    res.end();
  } catch (error) {
    // Headers are out: a truncated body (shorter than Content-Length) is all that can tell the client.
    if (controller.signal.aborted && !res.writableEnded) {
      res.destroy();
      return;
    }
    throw error;
  } finally {
    res.off("close", onClose);
    controller.abort();
  }
}

/** The status of a refused download; undefined when it is no fault of the client's. */
function refusal(error: ConnectError): [number, string] | undefined {
  switch (error.code) {
    case Code.PermissionDenied:
      if (error.rawMessage === LINK_EXPIRED) return [410, "This download link has expired."];
      if (error.rawMessage === LINK_INVALID) return [403, "This download link is not valid."];
      return undefined;
    case Code.NotFound:
      return [404, "File not found."];
    case Code.InvalidArgument:
      return [400, "Bad Request"];
    case Code.Unavailable:
      return [503, "Service Unavailable"];
    case Code.DeadlineExceeded:
      return [504, "Gateway Timeout"];
    default:
      return undefined;
  }
}

function refuse(res: NodeResponse, error: unknown, logger: Logger | undefined): void {
  const e = ConnectError.from(error);
  const known = refusal(e);
  if (known) {
    sendText(res, known[0], known[1]);
    return;
  }
  // The gateway's own credential refused, or the service failing: not the client's doing.
  logger?.error({ code: Code[e.code], err: e }, "the attachment service refused or failed a download");
  sendText(res, 502, "Bad Gateway");
}

function header(req: NodeRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

function sendText(res: NodeResponse, status: number, text: string, extra: OutgoingHttpHeaders = {}): void {
  const body = Buffer.from(`${text}\n`, "utf8");
  res.writeHead(status, {
    ...extra,
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(body.byteLength),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}
