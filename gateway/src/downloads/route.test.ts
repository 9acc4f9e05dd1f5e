import { createHash } from "node:crypto";
import http from "node:http";
import http2 from "node:http2";
import { type Client, createClient } from "@connectrpc/connect";
import { CHUNK_SIZE, digestOf, fileSignature } from "@ostmesh/attachment/storage/index.ts";
import { run } from "@ostmesh/attachment/storage/sql.ts";
import { type AttachmentHarness, attachmentHarness, bytesOf } from "@ostmesh/attachment/testing/harness.ts";
import { AttachmentService } from "@ostmesh/proto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type DownloadRouteOptions, withDownloads } from "./route.ts";

/**
 * The download route over raw HTTP/1.1 (and once over h2c), in front of the real attachment service on a
 * scratch osTicket database, reached over h2c with the gateway's own service credential.
 */
let h: AttachmentHarness;
let server: http.Server;
let base: string;
let authorization: string;
let big: { id: number; data: Buffer; signature: string };

function startRoute(options: DownloadRouteOptions): Promise<{ server: http.Server; base: string }> {
  const s = http.createServer(withDownloads(undefined, options));
  return new Promise((resolve) =>
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      resolve({
        server: s,
        base: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`,
      });
    }),
  );
}

beforeAll(async () => {
  h = await attachmentHarness("gwdownload");
  authorization = (await h.serviceHeaders()).get("authorization") ?? "";
  await h.setMaxFileSize(4 * CHUNK_SIZE);
  const data = bytesOf(2 * CHUNK_SIZE + 999, 11);
  const res = await h.client.uploadFile(
    { name: "quarterly report.pdf", type: "application/pdf", data },
    { headers: await h.serviceHeaders() },
  );
  big = { id: res.file?.id ?? 0, data, signature: res.file?.signature ?? "" };
  ({ server, base } = await startRoute({
    attachment: countingClient(createClient(AttachmentService, h.transport)),
    authorization: async () => authorization,
    now: h.now,
  }));
});

/** Bytes of file content the route received from DownloadFile streams so far (every call counted). */
let bytesStreamed = 0;

/** The real client, counting the content bytes each DownloadFile stream brings. */
function countingClient(client: Client<typeof AttachmentService>): Client<typeof AttachmentService> {
  return {
    ...client,
    downloadFile: (request, options) =>
      (async function* () {
        for await (const message of client.downloadFile(request, options)) {
          if (message.part.case === "chunk") bytesStreamed += message.part.value.byteLength;
          yield message;
        }
      })(),
  };
}

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await h?.close();
});

async function linkFor(
  fileId: number,
  options: { asAttachment?: boolean; ttl?: bigint } = {},
): Promise<string> {
  const res = await h.client.createDownloadLink(
    {
      fileId,
      asAttachment: options.asAttachment ?? false,
      ...(options.ttl ? { ttl: { seconds: options.ttl } } : {}),
    },
    { headers: await h.serviceHeaders() },
  );
  return res.urlPath;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      { method: options.method ?? "GET", headers: options.headers ?? {} },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (part: Buffer) => parts.push(part));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

describe("GET /files/<key>", () => {
  it("streams the whole file with its type, length, tag, name and caching", async () => {
    const path = await linkFor(big.id);
    const res = await request(path);
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      "content-type": "application/pdf",
      "content-length": String(big.data.byteLength),
      etag: `"${big.signature}"`,
      "accept-ranges": "bytes",
      "x-content-type-options": "nosniff",
      "content-disposition": `inline; filename="quarterly report.pdf"; filename*=UTF-8''quarterly%20report.pdf`,
      "cache-control": "private, max-age=3600",
    });
    expect(Date.parse(res.headers["last-modified"] ?? "")).toBeGreaterThan(Date.now() - 3_600_000);
    expect(sha256(res.body)).toBe(sha256(big.data));
  });

  it("serves a file osTicket stored (the trace's rows) intact", async () => {
    const em = h.em();
    // traces/api-create-ticket.full.log lines 30-32, verbatim.
    const { insertId: id } = await run(
      em,
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'trace.txt', `key` = '-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs', `ft` = 'T', `signature` = 'u6OHcuadwdVvM755JAcFvj2DzAGATWKE', `created` = NOW(), `size` = 28",
    );
    await run(
      em,
      `INSERT INTO \`ost_file_chunk\` SET \`file_id\` = ${id}, \`filedata\` = 'unique trace attachment 7f3a'`,
    );
    await run(em, `UPDATE \`ost_file\` SET \`bk\` = 'D' WHERE \`ost_file\`.\`id\` = ${id} LIMIT 1`);
    const path = await linkFor(id, { asAttachment: true });
    expect(path.startsWith("/files/-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs?")).toBe(true);
    const res = await request(path);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe("unique trace attachment 7f3a");
    expect(res.headers).toMatchObject({
      "content-type": "text/plain",
      "content-length": "28",
      etag: '"u6OHcuadwdVvM755JAcFvj2DzAGATWKE"',
      "content-disposition": `attachment; filename="trace.txt"; filename*=UTF-8''trace.txt`,
    });
  });

  it("answers HEAD with the headers of GET and no body", async () => {
    const path = await linkFor(big.id);
    const res = await request(path, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBe(String(big.data.byteLength));
    expect(res.headers.etag).toBe(`"${big.signature}"`);
    expect(res.body.byteLength).toBe(0);
  });

  it("answers 304 to a matching If-None-Match, and the file to another tag", async () => {
    const path = await linkFor(big.id);
    for (const tag of [`"${big.signature}"`, `W/"${big.signature}"`, `"x", "${big.signature}"`, "*"]) {
      const res = await request(path, { headers: { "if-none-match": tag } });
      expect(res.status, tag).toBe(304);
      expect(res.body.byteLength).toBe(0);
      expect(res.headers.etag).toBe(`"${big.signature}"`);
    }
    expect((await request(path, { headers: { "if-none-match": '"stale"' } })).status).toBe(200);
  });
});

describe("Range requests", () => {
  const ranges: Array<[string, string, number, number]> = [
    ["the first bytes", "bytes=0-99", 0, 99],
    [
      "the middle, across a chunk boundary",
      `bytes=${CHUNK_SIZE - 10}-${CHUNK_SIZE + 9}`,
      CHUNK_SIZE - 10,
      CHUNK_SIZE + 9,
    ],
    [
      "a whole middle chunk and more",
      `bytes=${CHUNK_SIZE - 1}-${2 * CHUNK_SIZE}`,
      CHUNK_SIZE - 1,
      2 * CHUNK_SIZE,
    ],
    ["a suffix", "bytes=-500", 2 * CHUNK_SIZE + 499, 2 * CHUNK_SIZE + 998],
    ["an open end", `bytes=${2 * CHUNK_SIZE}-`, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 998],
    ["an end beyond the file", `bytes=10-${10 * CHUNK_SIZE}`, 10, 2 * CHUNK_SIZE + 998],
  ];
  for (const [what, header, start, end] of ranges) {
    it(`serves ${what} as 206 with Content-Range`, async () => {
      const res = await request(await linkFor(big.id), { headers: { range: header } });
      expect(res.status).toBe(206);
      expect(res.headers["content-range"]).toBe(`bytes ${start}-${end}/${big.data.byteLength}`);
      expect(res.headers["content-length"]).toBe(String(end - start + 1));
      expect(res.body.equals(big.data.subarray(start, end + 1))).toBe(true);
    });
  }

  it("has the attachment service stream only the bytes of the range", async () => {
    // A file of three chunks; ranges inside the last one.
    const path = await linkFor(big.id);
    const size = big.data.byteLength;
    const cases: Array<[Record<string, string>, number, number]> = [
      [
        { range: `bytes=${2 * CHUNK_SIZE + 100}-${2 * CHUNK_SIZE + 199}` },
        2 * CHUNK_SIZE + 100,
        2 * CHUNK_SIZE + 199,
      ],
      [{ range: "bytes=-1" }, size - 1, size - 1],
      [{ range: `bytes=${2 * CHUNK_SIZE}-` }, 2 * CHUNK_SIZE, size - 1],
      // A resumed download: If-Range with the current tag keeps the range.
      [{ range: `bytes=${size - 10}-`, "if-range": `"${big.signature}"` }, size - 10, size - 1],
    ];
    for (const [headers, start, end] of cases) {
      const before = bytesStreamed;
      const res = await request(path, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(206);
      expect(res.headers["content-range"]).toBe(`bytes ${start}-${end}/${size}`);
      expect(res.body.equals(big.data.subarray(start, end + 1))).toBe(true);
      expect(bytesStreamed - before, JSON.stringify(headers)).toBe(end - start + 1);
    }
    // If-Range naming another version: the whole file, read whole.
    const before = bytesStreamed;
    const stale = await request(path, { headers: { range: "bytes=-1", "if-range": '"another-version"' } });
    expect(stale.status).toBe(200);
    expect(stale.body.equals(big.data)).toBe(true);
    expect(bytesStreamed - before).toBeGreaterThanOrEqual(size);
  });

  it("answers 416 to a range outside the file", async () => {
    const path = await linkFor(big.id);
    for (const header of [`bytes=${big.data.byteLength}-`, "bytes=-0"]) {
      const res = await request(path, { headers: { range: header } });
      expect(res.status, header).toBe(416);
      expect(res.headers["content-range"]).toBe(`bytes */${big.data.byteLength}`);
      expect(res.body.byteLength).toBe(0);
    }
  });

  it("serves the whole file for ranges it does not support, and when If-Range names another version", async () => {
    const path = await linkFor(big.id);
    const variants: Record<string, string>[] = [
      { range: "bytes=0-1,5-6" },
      { range: "bytes=abc" },
      { range: "bytes=0-99", "if-range": '"another-version"' },
    ];
    for (const headers of variants) {
      const res = await request(path, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(200);
      expect(res.body.byteLength).toBe(big.data.byteLength);
    }
    const current = await request(path, {
      headers: { range: "bytes=0-99", "if-range": `"${big.signature}"` },
    });
    expect(current.status).toBe(206);
  });

  it("works over h2c too", async () => {
    const h2 = http2.createServer(
      withDownloads(undefined, {
        attachment: createClient(AttachmentService, h.transport),
        authorization: async () => authorization,
      }),
    );
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    const address = h2.address();
    const session = http2.connect(
      `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`,
    );
    try {
      const path = await linkFor(big.id);
      const stream = session.request({ ":path": path, range: `bytes=${CHUNK_SIZE - 5}-${CHUNK_SIZE + 4}` });
      const parts: Buffer[] = [];
      let status = 0;
      stream.on("response", (headers) => {
        status = Number(headers[":status"]);
      });
      stream.on("data", (part: Buffer) => parts.push(part));
      await new Promise((resolve) => stream.on("end", resolve));
      expect(status).toBe(206);
      expect(Buffer.concat(parts).equals(big.data.subarray(CHUNK_SIZE - 5, CHUNK_SIZE + 5))).toBe(true);
    } finally {
      session.close();
      await new Promise((resolve) => h2.close(resolve));
    }
  });
});

describe("files osTicket's legacy XML API stored decoded twice (FACTS §2.4)", () => {
  it("are served as stored, with the length stored, whole and by range", async () => {
    // <file encoding="base64">SGVsbG8=</file>: size 5 recorded, 3 bytes stored — the way the ticket service
    // stores a legacy XML attachment (UploadFile with legacy_size).
    const stored = Buffer.from([0x1d, 0xe9, 0x65]);
    const up = await h.client.uploadFile(
      { name: "hello.bin", type: "application/octet-stream", data: stored, legacySize: 5n },
      { headers: await h.serviceHeaders() },
    );
    expect(up.file?.size).toBe(5n);
    const path = await linkFor(up.file?.id ?? 0);
    const res = await request(path);
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBe("3");
    expect(res.headers.etag).toBe(`"${fileSignature(digestOf(stored))}"`);
    expect(res.body.equals(stored)).toBe(true);
    const head = await request(path, { method: "HEAD" });
    expect(head.headers["content-length"]).toBe("3");
    const tail = await request(path, { headers: { range: "bytes=1-" } });
    expect(tail.status).toBe(206);
    expect(tail.headers["content-range"]).toBe("bytes 1-2/3");
    expect(tail.body.equals(stored.subarray(1))).toBe(true);
    const past = await request(path, { headers: { range: "bytes=3-" } });
    expect(past.status).toBe(416);
    expect(past.headers["content-range"]).toBe("bytes */3");
  });

  it("are told apart from damaged files, which stay unservable (502, nothing announced)", async () => {
    const data = Buffer.from(big.data);
    data.writeUInt32BE(77, 0);
    const up = await h.client.uploadFile(
      { name: "damaged.bin", data },
      { headers: await h.serviceHeaders() },
    );
    await run(h.em(), "DELETE FROM `ost_file_chunk` WHERE `file_id` = ? AND `chunk_id` = 2", [up.file?.id]);
    const res = await request(await linkFor(up.file?.id ?? 0));
    expect(res.status).toBe(502);
    expect(res.headers["content-length"]).toBe(String("Bad Gateway\n".length));
  });
});

describe("what the link asks for and what is forced", () => {
  it("sends attachment when asked, names non-ASCII files both ways, and forces risky types to attachment", async () => {
    const headers = await h.serviceHeaders();
    const named = await h.client.uploadFile(
      { name: "résumé «final».txt", type: "text/plain", data: Buffer.from("cv") },
      { headers },
    );
    const res = await request(await linkFor(named.file?.id ?? 0, { asAttachment: true }));
    expect(res.headers["content-disposition"]).toBe(
      `attachment; filename="r_sum_ _final_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%C2%ABfinal%C2%BB.txt`,
    );
    for (const [name, type, body] of [
      ["page.html", "text/html", "<script>alert(1)</script>"],
      [
        "logo.svg",
        "image/svg+xml",
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
      ],
      ["feed.xml", "application/xml", "<x/>"],
    ] as const) {
      const file = await h.client.uploadFile({ name, type, data: Buffer.from(body) }, { headers });
      const inline = await request(await linkFor(file.file?.id ?? 0, { asAttachment: false }));
      expect(inline.status).toBe(200);
      expect(inline.headers["content-disposition"], type).toMatch(/^attachment; /);
      expect(inline.headers["x-content-type-options"]).toBe("nosniff");
    }
  });
});

describe("refused links", () => {
  it("is 410 Gone once a genuine link has expired", async () => {
    const path = await linkFor(big.id, { ttl: 60n });
    h.advance(60_000);
    try {
      const res = await request(path);
      expect(res.status).toBe(410);
      expect(res.body.toString()).toBe("This download link has expired.\n");
      expect(res.headers["cache-control"]).toBe("no-store");
    } finally {
      h.advance(-60_000);
    }
  });

  it("is 403 for any part changed, and for links missing their parts", async () => {
    const path = await linkFor(big.id);
    const url = new URL(path, "http://x");
    const variants = [
      path.replace(
        /signature=([^&]+)/,
        (_m, sig: string) => `signature=${sig.slice(0, -2)}${sig.endsWith("AA") ? "BB" : "AA"}`,
      ),
      path.replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 86_400}`),
      path.replace("disposition=inline", "disposition=attachment"),
      `${url.pathname}?expires=${url.searchParams.get("expires")}&disposition=inline`,
      `${url.pathname}?signature=${url.searchParams.get("signature")}&disposition=inline`,
      `${url.pathname}?expires=soon&disposition=inline&signature=${url.searchParams.get("signature")}`,
      `${url.pathname}?expires=${url.searchParams.get("expires")}&disposition=download&signature=x`,
    ];
    for (const variant of variants) {
      const res = await request(variant);
      expect(res.status, variant).toBe(403);
      expect(res.body.toString()).toBe("This download link is not valid.\n");
    }
    // Even an expired expiry, once changed, is a forgery rather than an expired link.
    h.advance(7200_000);
    try {
      expect((await request(variants[1] ?? "")).status).toBe(403);
    } finally {
      h.advance(-7200_000);
    }
  });

  it("is 404 for a file that is gone and for paths that are no link, 405 for other methods", async () => {
    const { expiresAt, signature } = h.signer.signLink({
      key: "gone-key",
      ttlSeconds: 60,
      disposition: "inline",
    });
    const gone = await request(
      `/files/gone-key?expires=${expiresAt}&disposition=inline&signature=${signature}`,
    );
    expect(gone.status).toBe(404);
    expect((await request("/files/")).status).toBe(404);
    expect((await request("/files/a/b?expires=1&disposition=inline&signature=x")).status).toBe(404);
    expect((await request("/files/%E0%A4%A?expires=1")).status).toBe(404);
    const post = await request(await linkFor(big.id), { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");
    // Other paths are not the route's business.
    expect((await request("/api/tickets.json")).status).toBe(404);
  });

  it("is 502 when the attachment service refuses the gateway's own credential", async () => {
    const anonymous = await startRoute({ attachment: createClient(AttachmentService, h.transport) });
    try {
      const res = await new Promise<number>((resolve, reject) => {
        linkFor(big.id).then((path) => {
          http
            .get(`${anonymous.base}${path}`, (r) => {
              r.resume();
              resolve(r.statusCode ?? 0);
            })
            .on("error", reject);
        }, reject);
      });
      expect(res).toBe(502);
    } finally {
      anonymous.server.closeAllConnections();
      await new Promise((resolve) => anonymous.server.close(resolve));
    }
  });
});

describe("streaming", () => {
  it("cancels the service's stream when the client goes away mid-download", async () => {
    await h.setMaxFileSize(64 * CHUNK_SIZE);
    const data = bytesOf(40 * CHUNK_SIZE, 12);
    const file = await h.client.uploadFileStream(
      (async function* () {
        yield {
          $typeName: "osticket.attachment.v1.UploadFileStreamRequest" as const,
          idempotencyKey: "",
          part: {
            case: "metadata" as const,
            value: {
              $typeName: "osticket.attachment.v1.UploadMetadata" as const,
              name: "huge.bin",
              type: "",
              size: BigInt(data.byteLength),
            },
          },
        };
        for (let offset = 0; offset < data.byteLength; offset += 256 * 1024) {
          yield {
            $typeName: "osticket.attachment.v1.UploadFileStreamRequest" as const,
            idempotencyKey: "",
            part: { case: "chunk" as const, value: data.subarray(offset, offset + 256 * 1024) },
          };
        }
      })(),
      { headers: await h.serviceHeaders() },
    );
    const path = await linkFor(file.file?.id ?? 0);
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${base}${path}`, (res) => {
        res.on("data", (part: Buffer) => {
          received += part.byteLength;
          // Read a little, then stop reading and hang up.
          if (received > CHUNK_SIZE) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on("error", () => undefined);
      setTimeout(() => reject(new Error("no data")), 10_000).unref();
    });
    // The service's call ends soon after, long before 40 chunks could have been sent.
    await vi.waitFor(() => expect(h.process.inFlight()).toBe(0), { timeout: 10_000, interval: 20 });
    expect(received).toBeLessThan(data.byteLength);
  });
});
