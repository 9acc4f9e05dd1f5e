import type { connectNodeAdapter } from "@connectrpc/connect-node";
import { type BoardAssets, loadBoardAssets } from "./build.ts";

/** The handler shape the kit's servers take as `fallback` (HTTP/1.1 and HTTP/2 requests). */
export type NodeHandler = ReturnType<typeof connectNodeAdapter>;
type Response = Parameters<NodeHandler>[1];

/** The board's page may load its own script and style and talk to its own origin, nothing else. */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:;" +
    " base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
} as const;

const FILES: Readonly<Record<string, { type: string; pick: (a: BoardAssets) => Buffer }>> = {
  "/board/": { type: "text/html; charset=utf-8", pick: (a) => a.html },
  "/board/index.html": { type: "text/html; charset=utf-8", pick: (a) => a.html },
  "/board/board.js": { type: "text/javascript; charset=utf-8", pick: (a) => a.js },
  "/board/board.css": { type: "text/css; charset=utf-8", pick: (a) => a.css },
};

/** Writes a whole response on HTTP/1.1 or HTTP/2 (their writeHead signatures differ). */
function send(
  res: Response,
  status: number,
  headers: Readonly<Record<string, string>>,
  body?: Buffer | string,
): void {
  if ("stream" in res) {
    res.writeHead(status, headers);
    if (body === undefined) res.end();
    else res.end(body);
  } else {
    res.writeHead(status, headers);
    if (body === undefined) res.end();
    else res.end(body);
  }
}

export interface BoardOptions {
  /** Where the assets come from (built in memory on first use by default). */
  readonly assets?: () => Promise<BoardAssets>;
  readonly onError?: (error: unknown) => void;
}

/**
 * Serves the live ticket board under /board/ and hands every other request to `next` (the gateway's edge:
 * legacy API, docs, the Connect forwarder the board itself calls). The gateway mounts it in server.ts.
 */
export function withBoard(next: NodeHandler | undefined, options: BoardOptions = {}): NodeHandler {
  let assets: Promise<BoardAssets> | undefined;
  const load = options.assets ?? loadBoardAssets;
  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    if (path !== "/board" && !path.startsWith("/board/")) {
      if (next) next(req, res);
      else send(res, 404, { "content-type": "text/plain; charset=utf-8" }, "Not Found");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(
        res,
        405,
        { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" },
        "Method Not Allowed",
      );
      return;
    }
    if (path === "/board") {
      send(res, 301, { location: "/board/" });
      return;
    }
    const file = FILES[path];
    if (!file) {
      send(res, 404, { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS }, "Not Found");
      return;
    }
    assets ??= load();
    const pending = assets;
    pending.then(
      (a) => {
        if (req.headers["if-none-match"] === a.etag) {
          send(res, 304, { etag: a.etag });
          return;
        }
        const body = file.pick(a);
        const headers = {
          "content-type": file.type,
          "content-length": String(body.length),
          "cache-control": "no-cache",
          etag: a.etag,
          ...SECURITY_HEADERS,
        };
        send(res, 200, headers, req.method === "HEAD" ? undefined : body);
      },
      (error: unknown) => {
        // Let the next request try again.
        if (assets === pending) assets = undefined;
        options.onError?.(error);
        send(res, 500, { "content-type": "text/plain; charset=utf-8" }, "the board is not available");
      },
    );
  };
}
