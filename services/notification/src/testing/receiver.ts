import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** What the receiver answers: a status, a redirect, a huge body, or no answer at all. */
export type Reply = number | { redirect: string } | { status: number; bodyBytes: number } | "hang";

export interface TestReceiver {
  readonly url: string;
  readonly port: number;
  readonly received: ReceivedRequest[];
  /** Answers for the next requests, in order; afterwards `fallback` (default 200). */
  reply(...replies: Reply[]): void;
  fallback: Reply;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 (port from the OS) that records webhook requests. */
export async function startReceiver(path = "/hook"): Promise<TestReceiver> {
  const received: ReceivedRequest[] = [];
  const queue: Reply[] = [];
  const hanging = new Set<http.ServerResponse>();
  const receiver = {
    fallback: 200 as Reply,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const reply = queue.shift() ?? receiver.fallback;
      if (reply === "hang") {
        hanging.add(res);
        return;
      }
      if (typeof reply === "number") {
        res.writeHead(reply, { "content-type": "text/plain" }).end(`status ${reply}`);
      } else if ("redirect" in reply) {
        res.writeHead(302, { location: reply.redirect }).end();
      } else {
        res.writeHead(reply.status, { "content-type": "application/octet-stream" });
        const chunk = Buffer.alloc(64 * 1024, 120);
        let left = reply.bodyBytes;
        const pump = () => {
          while (left > 0) {
            const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
            left -= part.length;
            if (!res.write(part)) {
              res.once("drain", pump);
              return;
            }
          }
          res.end();
        };
        res.on("error", () => undefined);
        pump();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address: AddressInfo | string | null = server.address();
  if (!address || typeof address === "string") throw new Error("the receiver has no TCP address");
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${address.port}${path}`,
    port: address.port,
    received,
    reply: (...replies: Reply[]) => {
      queue.push(...replies);
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
