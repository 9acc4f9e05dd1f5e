import { createHash } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHUNK_SIZE } from "../storage/index.ts";
import { run } from "../storage/sql.ts";
import { type AttachmentHarness, attachmentHarness, bytesOf } from "../testing/harness.ts";

let h: AttachmentHarness;
let headers: Headers;
let big: { id: number; key: string; data: Buffer };

beforeAll(async () => {
  h = await attachmentHarness("attrpcdl");
  headers = await h.serviceHeaders();
  await h.setMaxFileSize(4 * CHUNK_SIZE);
  const data = bytesOf(2 * CHUNK_SIZE + 999, 5);
  const res = await h.client.uploadFile(
    { name: "report.pdf.bin", type: "application/octet-stream", data },
    { headers },
  );
  big = { id: res.file?.id ?? 0, key: res.file?.key ?? "", data };
});

afterAll(async () => {
  await h?.close();
});

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

async function drain(request: Parameters<typeof h.client.downloadFile>[0]) {
  const parts: Array<{ kind: string; bytes: number }> = [];
  const hash = createHash("sha256");
  let info: { name: string; size: bigint } | undefined;
  for await (const res of h.client.downloadFile(request, { headers })) {
    if (res.part.case === "info") {
      info = res.part.value;
      parts.push({ kind: "info", bytes: 0 });
    } else if (res.part.case === "chunk") {
      hash.update(res.part.value);
      parts.push({ kind: "chunk", bytes: res.part.value.byteLength });
    }
  }
  return { parts, info, hash: hash.digest("hex") };
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

function linkOf(res: { key: string; signature: string; urlPath: string }) {
  const url = new URL(res.urlPath, "http://gateway.invalid");
  return {
    key: decodeURIComponent(url.pathname.slice("/files/".length)),
    expires: BigInt(url.searchParams.get("expires") ?? "0"),
    signature: url.searchParams.get("signature") ?? "",
    asAttachment: url.searchParams.get("disposition") === "attachment",
  };
}

describe("DownloadFile by id", () => {
  it("streams the metadata first, then the bytes one stored chunk per message", async () => {
    const { parts, info, hash } = await drain({ file: { case: "fileId", value: big.id } });
    expect(parts).toEqual([
      { kind: "info", bytes: 0 },
      { kind: "chunk", bytes: CHUNK_SIZE },
      { kind: "chunk", bytes: CHUNK_SIZE },
      { kind: "chunk", bytes: 999 },
    ]);
    expect(info).toMatchObject({ name: "report.pdf.bin", size: BigInt(big.data.byteLength) });
    expect(hash).toBe(sha256(big.data));
  });

  it("serves a file osTicket stored (the trace's rows, replayed verbatim)", async () => {
    const em = h.em();
    // traces/api-create-ticket.full.log lines 30-32.
    const { insertId: id } = await run(
      em,
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'trace.txt', `key` = '-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs', `ft` = 'T', `signature` = 'u6OHcuadwdVvM755JAcFvj2DzAGATWKE', `created` = NOW(), `size` = 28",
    );
    await run(
      em,
      `INSERT INTO \`ost_file_chunk\` SET \`file_id\` = ${id}, \`filedata\` = 'unique trace attachment 7f3a'`,
    );
    await run(em, `UPDATE \`ost_file\` SET \`bk\` = 'D' WHERE \`ost_file\`.\`id\` = ${id} LIMIT 1`);
    const { info, hash } = await drain({ file: { case: "fileId", value: id } });
    expect(info).toMatchObject({
      name: "trace.txt",
      size: 28n,
      signature: "u6OHcuadwdVvM755JAcFvj2DzAGATWKE",
    });
    expect(hash).toBe(sha256(Buffer.from("unique trace attachment 7f3a")));
  });

  it("refuses unknown, invalid and unservable files", async () => {
    const missing = await rejection(drain({ file: { case: "fileId", value: 999_999 } }));
    expect(missing.code).toBe(Code.NotFound);
    const invalid = await rejection(drain({ file: { case: "fileId", value: -3 } }));
    expect(invalid.code).toBe(Code.InvalidArgument);
    expect(invalid.rawMessage).toBe("file_id: must be a positive id");
    const neither = await rejection(drain({}));
    expect(neither.code).toBe(Code.InvalidArgument);

    const { insertId: legacy } = await run(
      h.em(),
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'old.txt', `key` = 'legacyk', `ft` = 'T', `signature` = 'x', `created` = NOW(), `size` = 3, `bk` = '6'",
    );
    const backend = await rejection(drain({ file: { case: "fileId", value: legacy } }));
    expect(backend.code).toBe(Code.FailedPrecondition);

    // Chunks holding fewer bytes than the row promises: the stream ends with DATA_LOSS, not silently short.
    const { insertId: short } = await run(
      h.em(),
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'short.txt', `key` = 'shortk', `ft` = 'T', `signature` = 'y', `created` = NOW(), `size` = 5, `bk` = 'D'",
    );
    await run(h.em(), "INSERT INTO `ost_file_chunk` SET `file_id` = ?, `chunk_id` = 0, `filedata` = 'abc'", [
      short,
    ]);
    const damaged = await rejection(drain({ file: { case: "fileId", value: short } }));
    expect(damaged.code).toBe(Code.DataLoss);
  });
});

describe("GetFileInfo", () => {
  it("returns the file's metadata and refuses unknown or invalid ids", async () => {
    const res = await h.client.getFileInfo({ fileId: big.id }, { headers });
    expect(res.file).toMatchObject({ id: big.id, key: big.key, purpose: "T", backend: "D" });
    expect((await rejection(h.client.getFileInfo({ fileId: 999_999 }, { headers }))).code).toBe(
      Code.NotFound,
    );
    expect((await rejection(h.client.getFileInfo({ fileId: 0 }, { headers }))).code).toBe(
      Code.InvalidArgument,
    );
  });
});

describe("CreateDownloadLink and DownloadFile by signed link", () => {
  it("makes a gateway path that downloads the file until it expires", async () => {
    const res = await h.client.createDownloadLink({ fileId: big.id, asAttachment: true }, { headers });
    const expires = Math.floor(h.now() / 1000) + 3600;
    expect(res.key).toBe(big.key);
    expect(Number(res.expiresAt?.seconds)).toBe(expires);
    expect(res.urlPath).toBe(
      `/files/${encodeURIComponent(big.key)}?expires=${expires}&disposition=attachment&signature=${res.signature}`,
    );
    const link = linkOf(res);
    const { info, hash } = await drain({ file: { case: "link", value: link } });
    expect(info?.name).toBe("report.pdf.bin");
    expect(hash).toBe(sha256(big.data));

    h.advance(3600 * 1000);
    try {
      const expired = await rejection(drain({ file: { case: "link", value: link } }));
      expect(expired.code).toBe(Code.PermissionDenied);
      expect(expired.rawMessage).toBe("the download link has expired");
    } finally {
      h.advance(-3600 * 1000);
    }
  });

  it("refuses tampered and malformed links, and links to files that are gone", async () => {
    const res = await h.client.createDownloadLink({ fileId: big.id, ttl: { seconds: 60n } }, { headers });
    expect(res.urlPath).toContain("disposition=inline");
    const link = linkOf(res);
    for (const forged of [
      { ...link, asAttachment: true },
      { ...link, expires: link.expires + 3600n },
      { ...link, signature: `${link.signature.slice(0, -2)}AA` },
      { ...link, key: `${link.key.slice(0, -1)}${link.key.endsWith("A") ? "B" : "A"}` },
      { ...link, signature: "not-a-signature" },
      { ...link, expires: 0n },
    ]) {
      const error = await rejection(drain({ file: { case: "link", value: forged } }));
      expect(error.code).toBe(Code.PermissionDenied);
      expect(error.rawMessage).toBe("the download link is not valid");
    }
    // Genuinely signed, but for a key no file has.
    const { expiresAt, signature } = h.signer.signLink({
      key: "no-such-key",
      ttlSeconds: 60,
      disposition: "inline",
    });
    const gone = await rejection(
      drain({ file: { case: "link", value: { key: "no-such-key", expires: BigInt(expiresAt), signature } } }),
    );
    expect(gone.code).toBe(Code.NotFound);
  });

  it("validates the lifetime and refuses files it cannot serve", async () => {
    for (const ttl of [
      { seconds: 0n },
      { seconds: -5n },
      { seconds: 86_401n },
      { seconds: 0n, nanos: 500_000_000 },
    ]) {
      const error = await rejection(h.client.createDownloadLink({ fileId: big.id, ttl }, { headers }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toBe("ttl: must be between 1 second and 24 hours");
    }
    const longest = await h.client.createDownloadLink(
      { fileId: big.id, ttl: { seconds: 86_400n } },
      { headers },
    );
    expect(Number(longest.expiresAt?.seconds)).toBe(Math.floor(h.now() / 1000) + 86_400);
    expect((await rejection(h.client.createDownloadLink({ fileId: 999_999 }, { headers }))).code).toBe(
      Code.NotFound,
    );
    const { insertId: legacy } = await run(
      h.em(),
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'old.txt', `key` = 'legacy2', `ft` = 'T', `signature` = 'x', `created` = NOW(), `size` = 3, `bk` = '6'",
    );
    expect((await rejection(h.client.createDownloadLink({ fileId: legacy }, { headers }))).code).toBe(
      Code.FailedPrecondition,
    );
  });
});

describe("the wire", () => {
  it("never gzips file bytes, even for a client that accepts gzip", async () => {
    const { toBinary, create } = await import("@bufbuild/protobuf");
    const { DownloadFileRequestSchema } = await import(
      "@ostmesh/proto/gen/osticket/attachment/v1/attachment_service_pb.js"
    );
    const http2 = await import("node:http2");
    const request = Buffer.from(
      toBinary(
        DownloadFileRequestSchema,
        create(DownloadFileRequestSchema, { file: { case: "fileId", value: big.id } }),
      ),
    );
    const envelope = Buffer.alloc(5 + request.byteLength);
    envelope.writeUInt32BE(request.byteLength, 1);
    request.copy(envelope, 5);
    const session = http2.connect(h.baseUrl);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/osticket.attachment.v1.AttachmentService/DownloadFile",
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-accept-encoding": "gzip",
        authorization: headers.get("authorization") ?? "",
      });
      stream.end(envelope);
      const parts: Buffer[] = [];
      stream.on("data", (part: Buffer) => parts.push(part));
      await new Promise((resolve, reject) => {
        stream.on("end", resolve);
        stream.on("error", reject);
      });
      const body = Buffer.concat(parts);
      const messages: Array<{ compressed: boolean; length: number }> = [];
      for (let offset = 0; offset < body.byteLength; ) {
        const length = body.readUInt32BE(offset + 1);
        messages.push({ compressed: body[offset] === 1, length });
        offset += 5 + length;
      }
      // Metadata, then three chunks of at least 999 bytes each, none compressed.
      expect(messages).toHaveLength(4);
      expect(messages.every((m) => !m.compressed)).toBe(true);
      // Each chunk message is its bytes plus a tag byte and a varint length: nothing was shrunk.
      const varint = (n: number) => (n < 128 ? 1 : n < 16_384 ? 2 : 3);
      expect(messages.slice(1).map((m) => m.length)).toEqual(
        [CHUNK_SIZE, CHUNK_SIZE, 999].map((n) => 1 + varint(n) + n),
      );
    } finally {
      session.close();
    }
  });
});
