import { createHash } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { type CapturedLogs, captureLogs, rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import type { DownloadFileResponse } from "@ostmesh/proto/gen/osticket/attachment/v1/attachment_service_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHUNK_SIZE, digestOf, fileSignature } from "../storage/index.ts";
import { run } from "../storage/sql.ts";
import { type AttachmentHarness, attachmentHarness, bytesOf } from "../testing/harness.ts";

let h: AttachmentHarness;
let logs: CapturedLogs;
let headers: Headers;
let big: { id: number; key: string; data: Buffer };

beforeAll(async () => {
  logs = captureLogs("ostmesh-attachment-test", "info");
  h = await attachmentHarness("attrpcdl", { logger: logs.logger });
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

async function drain(request: Parameters<typeof h.client.downloadFile>[0], callHeaders = headers) {
  const parts: Array<{ kind: string; bytes: number }> = [];
  const hash = createHash("sha256");
  const received: Buffer[] = [];
  let info: { name: string; size: bigint } | undefined;
  let first: DownloadFileResponse | undefined;
  for await (const res of h.client.downloadFile(request, { headers: callHeaders })) {
    if (res.part.case === "info") {
      info = res.part.value;
      first = res;
      parts.push({ kind: "info", bytes: 0 });
    } else if (res.part.case === "chunk") {
      hash.update(res.part.value);
      received.push(Buffer.from(res.part.value));
      parts.push({ kind: "chunk", bytes: res.part.value.byteLength });
    }
  }
  return {
    parts,
    info,
    hash: hash.digest("hex"),
    bytes: Buffer.concat(received),
    contentLength: first?.contentLength,
    range: first?.range ? { offset: first.range.offset, length: first.range.length } : undefined,
  };
}

/** The messages a call got before it failed, and how it failed. */
async function failedDrain(request: Parameters<typeof h.client.downloadFile>[0], callHeaders = headers) {
  const kinds: string[] = [];
  try {
    for await (const res of h.client.downloadFile(request, { headers: callHeaders }))
      kinds.push(res.part.case ?? "none");
  } catch (error) {
    return { kinds, error: ConnectError.from(error) };
  }
  throw new Error("expected the call to fail");
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
    const missing = await rejectionOf(drain({ file: { case: "fileId", value: 999_999 } }));
    expect(missing.code).toBe(Code.NotFound);
    const invalid = await rejectionOf(drain({ file: { case: "fileId", value: -3 } }));
    expect(invalid.code).toBe(Code.InvalidArgument);
    expect(invalid.rawMessage).toBe("file_id: must be a positive id");
    const neither = await rejectionOf(drain({}));
    expect(neither.code).toBe(Code.InvalidArgument);

    const { insertId: legacy } = await run(
      h.em(),
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'old.txt', `key` = 'legacyk', `ft` = 'T', `signature` = 'x', `created` = NOW(), `size` = 3, `bk` = '6'",
    );
    const backend = await rejectionOf(drain({ file: { case: "fileId", value: legacy } }));
    expect(backend.code).toBe(Code.FailedPrecondition);

    // Chunks holding fewer bytes than the row promises: the stream ends with DATA_LOSS, not silently short.
    const { insertId: short } = await run(
      h.em(),
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'short.txt', `key` = 'shortk', `ft` = 'T', `signature` = 'y', `created` = NOW(), `size` = 5, `bk` = 'D'",
    );
    await run(h.em(), "INSERT INTO `ost_file_chunk` SET `file_id` = ?, `chunk_id` = 0, `filedata` = 'abc'", [
      short,
    ]);
    const damaged = await rejectionOf(drain({ file: { case: "fileId", value: short } }));
    expect(damaged.code).toBe(Code.DataLoss);
    expect(damaged.rawMessage).toBe(`file ${short} is damaged: its chunks hold 3 bytes, its size is 5`);
  });
});

/** A copy of `data` stored as a new file, then `damage` applied to its chunk rows. */
async function damagedCopy(data: Buffer, seed: number, damage: (id: number) => Promise<unknown>) {
  const copy = Buffer.from(data);
  copy.writeUInt32BE(seed, 0); // other content: no dedupe onto the original
  const res = await h.client.uploadFile({ name: `damaged-${seed}.bin`, data: copy }, { headers });
  const id = res.file?.id ?? 0;
  await damage(id);
  return id;
}

describe("DownloadFile with a range", () => {
  const { floor } = Math;
  const lastChunk = 2 * CHUNK_SIZE;

  it("streams only the bytes of the range, read from the one chunk holding them", async () => {
    // A file of three chunks, a range inside the last one.
    const offset = lastChunk + 100;
    const res = await drain({
      file: { case: "fileId", value: big.id },
      range: { offset: BigInt(offset), length: 500n },
    });
    expect(res.range).toEqual({ offset: BigInt(offset), length: 500n });
    expect(res.contentLength).toBe(BigInt(big.data.byteLength));
    // The metadata, then 500 bytes in one message: nothing of the first two chunks crossed the wire.
    expect(res.parts).toEqual([
      { kind: "info", bytes: 0 },
      { kind: "chunk", bytes: 500 },
    ]);
    expect(res.bytes.equals(big.data.subarray(offset, offset + 500))).toBe(true);
  });

  it("cuts a range at the end, reads open ends and suffixes, and crosses chunk boundaries", async () => {
    const size = big.data.byteLength;
    const cases: Array<
      [string, { offset?: bigint; length?: bigint; suffixLength?: bigint }, number, number]
    > = [
      ["an open end", { offset: BigInt(lastChunk) }, lastChunk, size],
      ["a length past the end", { offset: 10n, length: BigInt(10 * CHUNK_SIZE) }, 10, size],
      ["a suffix", { suffixLength: 999n }, size - 999, size],
      ["a suffix longer than the file", { suffixLength: BigInt(10 * CHUNK_SIZE) }, 0, size],
      ["a boundary", { offset: BigInt(CHUNK_SIZE - 10), length: 20n }, CHUNK_SIZE - 10, CHUNK_SIZE + 10],
      ["the last byte", { offset: BigInt(size - 1), length: 1n }, size - 1, size],
      ["offset 0, length 0 (the whole file)", {}, 0, size],
    ];
    for (const [what, range, start, end] of cases) {
      const res = await drain({ file: { case: "fileId", value: big.id }, range });
      expect(res.range, what).toEqual({ offset: BigInt(start), length: BigInt(end - start) });
      expect(res.bytes.equals(big.data.subarray(start, end)), what).toBe(true);
      // One message per stored chunk the range touches.
      expect(res.parts.length - 1, what).toBe(floor((end - 1) / CHUNK_SIZE) - floor(start / CHUNK_SIZE) + 1);
    }
  });

  it("works on signed links too", async () => {
    const res = await h.client.createDownloadLink({ fileId: big.id }, { headers });
    const { bytes, range } = await drain({
      file: { case: "link", value: linkOf(res) },
      range: { suffixLength: 3n },
    });
    expect(range).toEqual({ offset: BigInt(big.data.byteLength - 3), length: 3n });
    expect(bytes.equals(big.data.subarray(-3))).toBe(true);
  });

  it("ends with OUT_OF_RANGE after the metadata when no byte of the range is in the file", async () => {
    const size = big.data.byteLength;
    for (const range of [
      { offset: BigInt(size) },
      { offset: BigInt(size) + 5n, length: 1n },
      { offset: 1n << 62n },
    ]) {
      const { kinds, error } = await failedDrain({ file: { case: "fileId", value: big.id }, range });
      // The metadata first, so the caller learns the length (HTTP's `Content-Range: bytes */<length>`).
      expect(kinds).toEqual(["info"]);
      expect(error.code).toBe(Code.OutOfRange);
      expect(error.rawMessage).toBe(`range: no byte of it lies within the file's ${size} bytes`);
    }
    const empty = await h.client.uploadFile({ name: "empty.txt", data: Buffer.alloc(0) }, { headers });
    const whole = await drain({ file: { case: "fileId", value: empty.file?.id ?? 0 } });
    expect(whole.contentLength).toBe(0n);
    expect(whole.bytes.byteLength).toBe(0);
    for (const range of [{}, { suffixLength: 1n }]) {
      const { error } = await failedDrain({ file: { case: "fileId", value: empty.file?.id ?? 0 }, range });
      expect(error.code).toBe(Code.OutOfRange);
    }
  });

  it("refuses ranges of a bad shape", async () => {
    const cases: Array<[{ offset?: bigint; length?: bigint; suffixLength?: bigint }, string]> = [
      [{ offset: -1n }, "range.offset: must not be negative"],
      [{ length: -1n }, "range.length: must not be negative"],
      [{ suffixLength: -1n }, "range.suffix_length: must not be negative"],
      [{ offset: 1n, suffixLength: 5n }, "range.suffix_length: cannot be combined with offset or length"],
      [{ length: 1n, suffixLength: 5n }, "range.suffix_length: cannot be combined with offset or length"],
    ];
    for (const [range, message] of cases) {
      const error = await rejectionOf(drain({ file: { case: "fileId", value: big.id }, range }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toBe(message);
    }
  });

  it("checks access before the range: a caller who may not see the file learns nothing of its length", async () => {
    const stranger = await h.headersOf("endUserOther");
    const { kinds, error } = await failedDrain(
      { file: { case: "fileId", value: big.id }, range: { offset: BigInt(big.data.byteLength) } },
      stranger,
    );
    expect(kinds).toEqual([]);
    expect(error.code).toBe(Code.NotFound);
  });

  it("still ends in DATA_LOSS when a range meets damaged chunks", async () => {
    // The middle chunk cut short: the layout no longer adds up.
    const short = await damagedCopy(big.data, 21, (id) =>
      run(
        h.em(),
        "UPDATE `ost_file_chunk` SET `filedata` = LEFT(`filedata`, 1000) WHERE `file_id` = ? AND `chunk_id` = 1",
        [id],
      ),
    );
    const cut = await failedDrain({
      file: { case: "fileId", value: short },
      range: { offset: BigInt(CHUNK_SIZE + 10), length: 10n },
    });
    expect(cut.error.code).toBe(Code.DataLoss);
    // The whole file: the stream ends in DATA_LOSS instead of ending short.
    expect((await failedDrain({ file: { case: "fileId", value: short } })).error.code).toBe(Code.DataLoss);
  });
});

describe("files osTicket's legacy XML API stored decoded twice (FACTS §2.4)", () => {
  it("are served as stored, with their stored length, and a warning naming the file", async () => {
    // <file encoding="base64">SGVsbG8=</file>: size 5 recorded, the 3 twice-decoded bytes stored, the way the
    // ticket service stores legacy XML attachments (UploadFile with legacy_size).
    const stored = Buffer.from([0x1d, 0xe9, 0x65]);
    const up = await h.client.uploadFile(
      { name: "hello.txt", type: "text/plain", data: stored, legacySize: 5n },
      { headers },
    );
    const id = up.file?.id ?? 0;
    expect(up.file?.size).toBe(5n);
    const res = await drain({ file: { case: "fileId", value: id } });
    expect(res.info?.size).toBe(5n);
    expect(res.contentLength).toBe(3n);
    expect(res.bytes.equals(stored)).toBe(true);
    const warning = logs.entries().find((e) => e.level === "warn" && e.fileId === id);
    expect(warning).toMatchObject({ size: 5, storedBytes: 3 });
    expect(String(warning?.msg)).toContain(
      `file ${id} was stored by osTicket's legacy XML API decoded twice`,
    );
    // Ranges refer to the bytes stored.
    const tail = await drain({ file: { case: "fileId", value: id }, range: { suffixLength: 1n } });
    expect(tail.range).toEqual({ offset: 2n, length: 1n });
    expect(tail.bytes.equals(stored.subarray(2))).toBe(true);
    const past = await failedDrain({ file: { case: "fileId", value: id }, range: { offset: 3n } });
    expect(past.error.code).toBe(Code.OutOfRange);
  });

  it("are served across chunks, whole and by range", async () => {
    // A once-decoded text of N base64 characters leaves 3N/4 bytes: two chunks stored, three promised.
    const stored = bytesOf(CHUNK_SIZE + 4321, 31);
    const legacySize = Math.ceil((stored.byteLength * 4) / 3);
    const up = await h.client.uploadFile(
      { name: "scan.bin", data: stored, legacySize: BigInt(legacySize) },
      { headers },
    );
    const id = up.file?.id ?? 0;
    const whole = await drain({ file: { case: "fileId", value: id } });
    expect(whole.contentLength).toBe(BigInt(stored.byteLength));
    expect(whole.bytes.equals(stored)).toBe(true);
    const part = await drain({
      file: { case: "fileId", value: id },
      range: { offset: BigInt(CHUNK_SIZE + 1), length: 100n },
    });
    expect(part.bytes.equals(stored.subarray(CHUNK_SIZE + 1, CHUNK_SIZE + 101))).toBe(true);
  });

  it("are told apart from damage: bytes missing from an intact file are still DATA_LOSS", async () => {
    // The last chunk of a three-chunk file gone: fewer bytes than its size, as a double decode leaves, but
    // they do not hash to its signature.
    const missing = await damagedCopy(big.data, 22, (id) =>
      run(h.em(), "DELETE FROM `ost_file_chunk` WHERE `file_id` = ? AND `chunk_id` = 2", [id]),
    );
    const gone = await failedDrain({ file: { case: "fileId", value: missing } });
    // Refused before the metadata: nothing is announced that cannot be served.
    expect(gone.kinds).toEqual([]);
    expect(gone.error.code).toBe(Code.DataLoss);
    expect(gone.error.rawMessage).toBe(
      `file ${missing} is damaged: its chunks hold ${2 * CHUNK_SIZE} bytes, its size is ${big.data.byteLength}`,
    );
    // A double-decoded file whose stored bytes changed afterwards.
    const stored = Buffer.from("twice decoded bytes");
    const up = await h.client.uploadFile(
      { name: "x.txt", data: stored, legacySize: BigInt(Math.ceil((stored.byteLength * 4) / 3)) },
      { headers },
    );
    await run(h.em(), "UPDATE `ost_file_chunk` SET `filedata` = 'twice decoded BYTES' WHERE `file_id` = ?", [
      up.file?.id,
    ]);
    expect((await failedDrain({ file: { case: "fileId", value: up.file?.id ?? 0 } })).error.code).toBe(
      Code.DataLoss,
    );
    // And a file written osTicket's way whose stored bytes match its signature, but are more than its size.
    const more = Buffer.from("more bytes than recorded");
    const { insertId } = await run(
      h.em(),
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'more.txt', `key` = 'morek', `ft` = 'T', `signature` = ?, `created` = NOW(), `size` = 4, `bk` = 'D'",
      [fileSignature(digestOf(more))],
    );
    await run(h.em(), "INSERT INTO `ost_file_chunk` SET `file_id` = ?, `chunk_id` = 0, `filedata` = ?", [
      insertId,
      more,
    ]);
    expect((await failedDrain({ file: { case: "fileId", value: insertId } })).error.code).toBe(Code.DataLoss);
  });
});

describe("GetFileInfo", () => {
  it("returns the file's metadata and refuses unknown or invalid ids", async () => {
    const res = await h.client.getFileInfo({ fileId: big.id }, { headers });
    expect(res.file).toMatchObject({ id: big.id, key: big.key, purpose: "T", backend: "D" });
    expect((await rejectionOf(h.client.getFileInfo({ fileId: 999_999 }, { headers }))).code).toBe(
      Code.NotFound,
    );
    expect((await rejectionOf(h.client.getFileInfo({ fileId: 0 }, { headers }))).code).toBe(
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
      const expired = await rejectionOf(drain({ file: { case: "link", value: link } }));
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
      const error = await rejectionOf(drain({ file: { case: "link", value: forged } }));
      expect(error.code).toBe(Code.PermissionDenied);
      expect(error.rawMessage).toBe("the download link is not valid");
    }
    // Genuinely signed, but for a key no file has.
    const { expiresAt, signature } = h.signer.signLink({
      key: "no-such-key",
      ttlSeconds: 60,
      disposition: "inline",
    });
    const gone = await rejectionOf(
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
      const error = await rejectionOf(h.client.createDownloadLink({ fileId: big.id, ttl }, { headers }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toBe("ttl: must be between 1 second and 24 hours");
    }
    const longest = await h.client.createDownloadLink(
      { fileId: big.id, ttl: { seconds: 86_400n } },
      { headers },
    );
    expect(Number(longest.expiresAt?.seconds)).toBe(Math.floor(h.now() / 1000) + 86_400);
    expect((await rejectionOf(h.client.createDownloadLink({ fileId: 999_999 }, { headers }))).code).toBe(
      Code.NotFound,
    );
    const { insertId: legacy } = await run(
      h.em(),
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'old.txt', `key` = 'legacy2', `ft` = 'T', `signature` = 'x', `created` = NOW(), `size` = 3, `bk` = '6'",
    );
    expect((await rejectionOf(h.client.createDownloadLink({ fileId: legacy }, { headers }))).code).toBe(
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
