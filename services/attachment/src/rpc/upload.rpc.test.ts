import { createHash } from "node:crypto";
import { Code, type ConnectError } from "@connectrpc/connect";
import { rejectionOf } from "@ostmesh/kit/testing/harness.ts";
import type { UploadFileStreamRequest } from "@ostmesh/proto/gen/osticket/attachment/v1/attachment_service_pb.js";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHUNK_SIZE } from "../storage/index.ts";
import { run } from "../storage/sql.ts";
import { countRows, PNG_BYTES, windowsExecutable } from "../storage/testing.ts";
import { type AttachmentHarness, attachmentHarness, bytesOf, randomName } from "../testing/harness.ts";

let h: AttachmentHarness;
let headers: Headers;
const LIMIT = 3 * CHUNK_SIZE;

beforeAll(async () => {
  h = await attachmentHarness("attrpcup");
  headers = await h.serviceHeaders();
  await h.setMaxFileSize(LIMIT);
});

afterAll(async () => {
  await h?.close();
});

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

async function downloaded(fileId: number): Promise<{ hash: string; size: number; infoFirst: boolean }> {
  const hash = createHash("sha256");
  let size = 0;
  let index = 0;
  let infoFirst = false;
  for await (const res of h.client.downloadFile({ file: { case: "fileId", value: fileId } }, { headers })) {
    if (index === 0) infoFirst = res.part.case === "info";
    else if (res.part.case === "chunk") {
      hash.update(res.part.value);
      size += res.part.value.byteLength;
    } else throw new Error(`message ${index} is not a chunk`);
    index++;
  }
  return { hash: hash.digest("hex"), size, infoFirst };
}

async function* streamOf(
  metadata: { name: string; type?: string; size: number },
  data: Uint8Array,
  options: { pieceSize?: number; idempotencyKey?: string } = {},
): AsyncGenerator<UploadFileStreamRequest> {
  const piece = options.pieceSize ?? 64 * 1024;
  yield {
    $typeName: "osticket.attachment.v1.UploadFileStreamRequest",
    idempotencyKey: options.idempotencyKey ?? "",
    part: {
      case: "metadata",
      value: {
        $typeName: "osticket.attachment.v1.UploadMetadata",
        name: metadata.name,
        type: metadata.type ?? "",
        size: BigInt(metadata.size),
      },
    },
  };
  for (let offset = 0; offset < data.byteLength; offset += piece) {
    yield {
      $typeName: "osticket.attachment.v1.UploadFileStreamRequest",
      idempotencyKey: "",
      part: { case: "chunk", value: data.subarray(offset, offset + piece) },
    };
  }
}

function chunkMessage(bytes: Uint8Array): UploadFileStreamRequest {
  return {
    $typeName: "osticket.attachment.v1.UploadFileStreamRequest",
    idempotencyKey: "",
    part: { case: "chunk", value: bytes },
  };
}

function violation(error: ConnectError) {
  return error.findDetails(ValidationErrorsSchema)[0]?.violations[0];
}

/** Files and chunks in the database, to prove a refused upload wrote nothing. */
async function fileRows(): Promise<[number, number]> {
  return [await countRows(h.em(), "ost_file"), await countRows(h.em(), "ost_file_chunk")];
}

describe("bytes in = bytes out over the real RPC", () => {
  const sizes = [0, 1, 1000, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 77];
  for (const size of sizes) {
    it(`${size} bytes, unary and streamed`, async () => {
      const unaryData = bytesOf(size, size + 1);
      const unary = await h.client.uploadFile(
        { name: randomName("u"), type: "application/octet-stream", data: unaryData },
        { headers },
      );
      expect(unary.deduplicated).toBe(false);
      expect(Number(unary.file?.size)).toBe(size);
      expect(await downloaded(unary.file?.id ?? 0)).toEqual({
        hash: sha256(unaryData),
        size,
        infoFirst: true,
      });

      const streamData = bytesOf(size, size + 2);
      const streamed = await h.client.uploadFileStream(
        streamOf({ name: randomName("s"), type: "application/octet-stream", size }, streamData, {
          pieceSize: 100_003,
        }),
        { headers },
      );
      expect(Number(streamed.file?.size)).toBe(size);
      expect(await downloaded(streamed.file?.id ?? 0)).toEqual({
        hash: sha256(streamData),
        size,
        infoFirst: true,
      });
      const chunks = await countRows(h.em(), "ost_file_chunk", "`file_id` = ?", [streamed.file?.id]);
      expect(chunks).toBe(Math.ceil(size / CHUNK_SIZE));
    });
  }

  it("returns osTicket's metadata: sanitised name, lower-cased type, key, signature, created time", async () => {
    const before = Math.floor(Date.now() / 1000) - 60;
    const res = await h.client.uploadFile(
      { name: "../../etc/\u202Egpj.exe", type: "Image/PNG", data: PNG_BYTES },
      { headers },
    );
    expect(res.file).toMatchObject({ name: "gpj.exe", type: "image/png", purpose: "T", backend: "D" });
    expect(res.file?.key).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(res.file?.signature).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(Number(res.file?.createdAt?.seconds)).toBeGreaterThan(before);
  });

  it("reuses identical bytes (dedupe by signature and size), unary and streamed", async () => {
    const data = bytesOf(CHUNK_SIZE + 5, 4242);
    const first = await h.client.uploadFile({ name: "a.bin", data }, { headers });
    const again = await h.client.uploadFile({ name: "b.bin", data }, { headers });
    const streamed = await h.client.uploadFileStream(
      streamOf({ name: "c.bin", size: data.byteLength }, data),
      {
        headers,
      },
    );
    expect(first.deduplicated).toBe(false);
    expect(again).toMatchObject({ deduplicated: true, file: { id: first.file?.id, name: "a.bin" } });
    expect(streamed).toMatchObject({ deduplicated: true, file: { id: first.file?.id } });
    expect(await countRows(h.em(), "ost_file_chunk", "`file_id` = ?", [first.file?.id])).toBe(2);
  });

  it("records the legacy size of osTicket's XML base64 attachments", async () => {
    const res = await h.client.uploadFile(
      { name: "hello.txt", type: "text/plain", data: Buffer.from([0x1d, 0xe9, 0x65]), legacySize: 5n },
      { headers },
    );
    expect(Number(res.file?.size)).toBe(5);
  });
});

describe("uploaders are recorded with the file (ostmesh_upload)", () => {
  async function uploaders(fileId: number | undefined): Promise<string[]> {
    const rows = await h
      .em()
      .execute(
        "SELECT u.`principal_kind` k, u.`principal_id` i, u.`file_key` = f.`key` AS same_key FROM `ostmesh_upload` u" +
          " JOIN `ost_file` f ON f.`id` = u.`file_id` WHERE u.`file_id` = ? ORDER BY k, i",
        [fileId ?? 0],
      );
    return rows.map((r) => `${r.k}:${r.i}${Number(r.same_key) === 1 ? "" : " (other key)"}`);
  }

  it("records every uploader of the same bytes once, unary and streamed, retries included", async () => {
    const data = bytesOf(200, 777);
    const owner = await h.headersOf("endUserOwner");
    const agent = await h.headersOf("agentViewOnly");
    const key = await h.headersOf("apiKeyWithScope");
    const first = await h.client.uploadFile({ name: "mine.txt", data }, { headers: owner });
    expect(await uploaders(first.file?.id)).toEqual([`user:${h.world.users.owner}`]);
    // The same bytes again: the same ost_file row, and each new uploader recorded on it.
    const byAgent = await h.client.uploadFileStream(
      streamOf({ name: "a.txt", size: data.byteLength }, data),
      {
        headers: agent,
      },
    );
    const byKey = await h.client.uploadFile({ name: "k.txt", data }, { headers: key });
    const again = await h.client.uploadFile({ name: "mine.txt", data }, { headers: owner });
    for (const res of [byAgent, byKey, again])
      expect(res).toMatchObject({ deduplicated: true, file: { id: first.file?.id } });
    const idempotencyKey = randomName("up");
    for (let i = 0; i < 2; i++)
      await h.client.uploadFileStream(
        streamOf({ name: "s.txt", size: data.byteLength }, data, { idempotencyKey }),
        {
          headers: owner,
        },
      );
    expect(await uploaders(first.file?.id)).toEqual(
      [
        `agent:${h.world.staff.viewOnly}`,
        `apikey:ostmesh:${h.world.apiKeys.withScope.id}`,
        `user:${h.world.users.owner}`,
      ].sort(),
    );
    // A service's upload is recorded as the service.
    const bySvc = await h.client.uploadFile({ name: "svc.txt", data: bytesOf(50, 778) }, { headers });
    expect(await uploaders(bySvc.file?.id)).toEqual(["service:0"]);
  });

  it("records nothing for a refused upload", async () => {
    const before = await countRows(h.em(), "ostmesh_upload");
    const owner = await h.headersOf("endUserOwner");
    const error = await rejectionOf(
      h.client.uploadFile({ name: "big.bin", data: bytesOf(LIMIT + 1) }, { headers: owner }),
    );
    expect(error.code).toBe(Code.ResourceExhausted);
    const liar = await rejectionOf(
      h.client.uploadFileStream(streamOf({ name: "liar.bin", size: 10 }, bytesOf(20, 5)), { headers: owner }),
    );
    expect(liar.code).toBe(Code.InvalidArgument);
    expect(await countRows(h.em(), "ostmesh_upload")).toBe(before);
  });
});

describe("refused uploads leave nothing behind", () => {
  it("refuses a unary file over max_file_size with the limit in the message and osTicket's wording", async () => {
    const before = await fileRows();
    const error = await rejectionOf(
      h.client.uploadFile({ name: "big.bin", data: bytesOf(LIMIT + 1) }, { headers }),
    );
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.rawMessage).toBe(`data: the file is larger than the limit of ${LIMIT} bytes`);
    expect(violation(error)).toMatchObject({ field: "data", description: "File size is too large" });
    // A file of exactly the limit is accepted (osTicket: size > limit fails).
    await h.client.uploadFile({ name: "max.bin", data: bytesOf(LIMIT, 9) }, { headers });
    const after = await fileRows();
    expect(after).toEqual([before[0] + 1, before[1] + 3]);
  });

  it("refuses a stream declared over the limit before any byte, and one that sends more than declared", async () => {
    const before = await fileRows();
    let pulled = 0;
    async function* counted() {
      for await (const message of streamOf({ name: "huge.bin", size: LIMIT + 1 }, bytesOf(LIMIT + 1))) {
        if (message.part.case === "chunk") pulled += message.part.value.byteLength;
        yield message;
      }
    }
    const declared = await rejectionOf(h.client.uploadFileStream(counted(), { headers }));
    expect(declared.code).toBe(Code.ResourceExhausted);
    expect(declared.rawMessage).toContain(`limit of ${LIMIT} bytes`);
    // At most what the transport had in flight was read, far from the whole file.
    expect(pulled).toBeLessThan(LIMIT);

    const overflow = await rejectionOf(
      h.client.uploadFileStream(streamOf({ name: "liar.bin", size: 10 }, bytesOf(CHUNK_SIZE + 10)), {
        headers,
      }),
    );
    expect(overflow.code).toBe(Code.InvalidArgument);
    expect(violation(overflow)?.field).toBe("chunk");

    const short = await rejectionOf(
      h.client.uploadFileStream(
        streamOf({ name: "short.bin", size: 2 * CHUNK_SIZE }, bytesOf(CHUNK_SIZE + 10)),
        {
          headers,
        },
      ),
    );
    expect(short.code).toBe(Code.InvalidArgument);
    expect(short.rawMessage).toBe(
      `metadata.size: ${2 * CHUNK_SIZE} bytes were declared but ${CHUNK_SIZE + 10} arrived`,
    );
    expect(await fileRows()).toEqual(before);
  });

  it("refuses a unary message above the unary cap with a pointer to the stream", async () => {
    await h.setMaxFileSize(64 * 1024 * 1024);
    try {
      const error = await rejectionOf(
        h.client.uploadFile({ name: "unary.bin", data: Buffer.alloc(8 * 1024 * 1024 + 1) }, { headers }),
      );
      expect(error.code).toBe(Code.ResourceExhausted);
      expect(error.rawMessage).toContain("UploadFileStream");
    } finally {
      await h.setMaxFileSize(LIMIT);
    }
  });

  it("refuses a declared type the content contradicts, and a malformed type", async () => {
    const before = await fileRows();
    const mismatch = await rejectionOf(
      h.client.uploadFile({ name: "cat.png", type: "image/png", data: windowsExecutable() }, { headers }),
    );
    expect(mismatch.code).toBe(Code.InvalidArgument);
    expect(violation(mismatch)).toMatchObject({ field: "type", description: "File type is not allowed" });
    const streamed = await rejectionOf(
      h.client.uploadFileStream(
        streamOf({ name: "cat.png", type: "image/png", size: 1024 }, windowsExecutable()),
        { headers },
      ),
    );
    expect(streamed.code).toBe(Code.InvalidArgument);
    expect(violation(streamed)?.field).toBe("metadata.type");
    const malformed = await rejectionOf(
      h.client.uploadFile({ name: "x.txt", type: "not a type", data: Buffer.from("x") }, { headers }),
    );
    expect(malformed.code).toBe(Code.InvalidArgument);
    expect(violation(malformed)?.field).toBe("type");
    expect(await fileRows()).toEqual(before);
  });

  it("keeps a contradicted declared type for legacy uploads (keep_declared_type), still refusing malformed types", async () => {
    const before = await fileRows();
    const png = Buffer.concat([PNG_BYTES, Buffer.from("kept declared type")]);
    const kept = await h.client.uploadFile(
      { name: "scan.png", type: "text/plain", data: png, keepDeclaredType: true },
      { headers },
    );
    expect(kept.file).toMatchObject({ name: "scan.png", type: "text/plain", size: BigInt(png.length) });
    const [files, chunks] = before;
    expect(await fileRows()).toEqual([files + 1, chunks + 1]);
    const malformed = await rejectionOf(
      h.client.uploadFile(
        { name: "x.txt", type: "pdf", data: Buffer.from("x"), keepDeclaredType: true },
        { headers },
      ),
    );
    expect(malformed.code).toBe(Code.InvalidArgument);
    expect(violation(malformed)?.field).toBe("type");
    expect(await fileRows()).toEqual([files + 1, chunks + 1]);
  });

  it("refuses types the message field does not allow", async () => {
    const field =
      "(SELECT id FROM (SELECT ff.id FROM ost_form_field ff JOIN ost_form f ON f.id = ff.form_id WHERE f.type = 'T' AND ff.name = 'message') x)";
    await run(
      h.em(),
      `UPDATE ost_form_field SET configuration = '{"extensions": ".pdf, .txt"}' WHERE id = ${field}`,
    );
    try {
      const before = await fileRows();
      const error = await rejectionOf(
        h.client.uploadFile(
          { name: "tool.exe", type: "application/octet-stream", data: Buffer.from("MZ..") },
          { headers },
        ),
      );
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("tool.exe");
      expect(violation(error)).toMatchObject({ field: "name", description: "File type is not allowed" });
      const streamed = await rejectionOf(
        h.client.uploadFileStream(streamOf({ name: "tool.exe", size: 4 }, Buffer.from("MZ..")), { headers }),
      );
      expect(violation(streamed)?.field).toBe("metadata.name");
      expect(await fileRows()).toEqual(before);
      await h.client.uploadFile(
        { name: "notes.txt", type: "text/plain", data: Buffer.from("fine") },
        { headers },
      );
    } finally {
      await run(h.em(), `UPDATE ost_form_field SET configuration = NULL WHERE id = ${field}`);
    }
  });

  it("refuses uploads while attachments are disabled in the help desk", async () => {
    // A fresh install has no such row (osTicket then allows attachments); an admin's "off" adds it.
    await run(
      h.em(),
      "INSERT INTO ost_config SET namespace = 'core', `key` = 'allow_attachments', value = '0'",
    );
    try {
      const before = await fileRows();
      const error = await rejectionOf(
        h.client.uploadFile({ name: "a.txt", data: Buffer.from("a") }, { headers }),
      );
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.rawMessage).toContain("attachments are disabled");
      const streamed = await rejectionOf(
        h.client.uploadFileStream(streamOf({ name: "a.txt", size: 1 }, Buffer.from("a")), { headers }),
      );
      expect(streamed.code).toBe(Code.FailedPrecondition);
      expect(await fileRows()).toEqual(before);
    } finally {
      await run(h.em(), "DELETE FROM ost_config WHERE namespace = 'core' AND `key` = 'allow_attachments'");
    }
  });

  it("refuses malformed requests, naming the field", async () => {
    // Each call starts only when its turn comes, so no refusal is left unobserved meanwhile.
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => h.client.uploadFile({ name: " ", data: Buffer.from("x") }, { headers }), "name"],
      [
        () => h.client.uploadFile({ name: "x", data: Buffer.from("x"), legacySize: -1n }, { headers }),
        "legacy_size",
      ],
      [
        () =>
          h.client.uploadFile(
            { name: "x", data: Buffer.from("x"), idempotencyKey: "k".repeat(129) },
            { headers },
          ),
        "idempotency_key",
      ],
      [
        () => h.client.uploadFileStream(streamOf({ name: "", size: 1 }, Buffer.from("x")), { headers }),
        "metadata.name",
      ],
      [
        () => h.client.uploadFileStream(streamOf({ name: "x", size: -1 }, Buffer.alloc(0)), { headers }),
        "metadata.size",
      ],
    ];
    for (const [call, field] of cases) {
      const error = await rejectionOf(call());
      expect(error.code, field).toBe(Code.InvalidArgument);
      expect(violation(error)?.field, field).toBe(field);
    }
  });

  it("refuses streams that break the message order", async () => {
    const before = await fileRows();
    async function* empty(): AsyncGenerator<UploadFileStreamRequest> {}
    async function* chunkFirst() {
      yield chunkMessage(Buffer.from("abc"));
    }
    async function* metadataTwice() {
      const opening = streamOf({ name: "twice.txt", size: 3 }, Buffer.alloc(0));
      for await (const m of opening) yield m;
      for await (const m of streamOf({ name: "again.txt", size: 3 }, Buffer.alloc(0))) yield m;
    }
    async function* emptyPart() {
      for await (const m of streamOf({ name: "gap.txt", size: 3 }, Buffer.alloc(0))) yield m;
      yield {
        $typeName: "osticket.attachment.v1.UploadFileStreamRequest" as const,
        idempotencyKey: "",
        part: { case: undefined },
      };
    }
    const expectations: Array<[AsyncIterable<UploadFileStreamRequest>, string]> = [
      [empty(), "metadata: the stream is empty; its first message must carry metadata"],
      [chunkFirst(), "metadata: the first message of the stream must carry metadata"],
      [metadataTwice(), "metadata: metadata may only be sent in the first message"],
      [emptyPart(), "chunk: every message after the first must carry a chunk"],
    ];
    for (const [stream, message] of expectations) {
      const error = await rejectionOf(h.client.uploadFileStream(stream, { headers }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toBe(message);
    }
    expect(await fileRows()).toEqual(before);
  });
});

describe("idempotency keys", () => {
  it("replays a unary upload's first answer and refuses the key for another request", async () => {
    const key = randomName("key");
    const data = bytesOf(2000, 77);
    const first = await h.client.uploadFile({ idempotencyKey: key, name: "i.bin", data }, { headers });
    const retry = await h.client.uploadFile({ idempotencyKey: key, name: "i.bin", data }, { headers });
    // Without the key the same bytes would dedupe (deduplicated: true); the retry repeats the first answer.
    expect(retry).toEqual(first);
    expect(retry.deduplicated).toBe(false);
    const conflict = await rejectionOf(
      h.client.uploadFile({ idempotencyKey: key, name: "other.bin", data }, { headers }),
    );
    expect(conflict.code).toBe(Code.FailedPrecondition);
    // Keys belong to their caller: another caller's same key is a fresh request.
    const other = await h.client.uploadFile(
      { idempotencyKey: key, name: "i.bin", data },
      { headers: await h.headersOf("agentWithAccess") },
    );
    expect(other.deduplicated).toBe(true);
  });

  it("replays a streamed upload's first answer, leaving no rows from the retry", async () => {
    const key = randomName("skey");
    const data = bytesOf(CHUNK_SIZE * 2 + 3, 99);
    const meta = { name: "s.bin", size: data.byteLength };
    const first = await h.client.uploadFileStream(streamOf(meta, data, { idempotencyKey: key }), { headers });
    // The first file is gone meanwhile: a retry must still answer as the first call did and store nothing.
    await run(h.em(), "DELETE FROM ost_file_chunk WHERE file_id = ?", [first.file?.id]);
    await run(h.em(), "DELETE FROM ost_file WHERE id = ?", [first.file?.id]);
    const before = await fileRows();
    const retry = await h.client.uploadFileStream(streamOf(meta, data, { idempotencyKey: key }), { headers });
    expect(retry).toEqual(first);
    expect(await fileRows()).toEqual(before);
    const changed = await rejectionOf(
      h.client.uploadFileStream(streamOf(meta, bytesOf(data.byteLength, 100), { idempotencyKey: key }), {
        headers,
      }),
    );
    expect(changed.code).toBe(Code.FailedPrecondition);
    expect(await fileRows()).toEqual(before);
  });
});
