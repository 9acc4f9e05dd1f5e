import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CorruptFileError,
  FileNotFoundError,
  InvalidArgumentError,
  InvalidRangeError,
  UnsupportedBackendError,
} from "./errors.ts";
import {
  CHUNK_SIZE,
  findFile,
  getFileInfo,
  getFileInfoByKey,
  measureContent,
  openFileContent,
  readFile,
} from "./files.ts";
import { digestOf, fileSignature } from "./identity.ts";
import { run } from "./sql.ts";
import { storeFile } from "./store.ts";
import { collect, openScratchStore, type ScratchStore, sha256 } from "./testing.ts";

let store: ScratchStore;
let bigId: number;
let big: Buffer;

beforeAll(async () => {
  store = await openScratchStore("attfiles");
  big = randomBytes(3 * CHUNK_SIZE + 12_345);
  bigId = (
    await storeFile(store.em(), { name: "big.bin", declaredType: "", source: big, maxBytes: 10_000_000 })
  ).id;
});

afterAll(async () => {
  await store?.close();
});

describe("files osTicket wrote", () => {
  it("reads the trace's attachment back after replaying osTicket's INSERTs", async () => {
    const em = store.em();
    // traces/api-create-ticket.full.log lines 30-32, verbatim (the chunk INSERT names no chunk_id: 0 under sql_mode '').
    const { insertId: id } = await run(
      em,
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'trace.txt', `key` = '-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs', `ft` = 'T', `signature` = 'u6OHcuadwdVvM755JAcFvj2DzAGATWKE', `created` = NOW(), `size` = 28",
    );
    await run(
      em,
      `INSERT INTO \`ost_file_chunk\` SET \`file_id\` = ${id}, \`filedata\` = 'unique trace attachment 7f3a'`,
    );
    await run(em, `UPDATE \`ost_file\` SET \`bk\` = 'D' WHERE \`ost_file\`.\`id\` = ${id} LIMIT 1`);

    const content = await readFile(store.em(), id);
    expect(content.info).toMatchObject({
      id,
      purpose: "T",
      backend: "D",
      type: "text/plain",
      size: 28,
      key: "-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs",
      signature: "u6OHcuadwdVvM755JAcFvj2DzAGATWKE",
      name: "trace.txt",
      attrs: null,
    });
    expect((await collect(content.chunks())).toString()).toBe("unique trace attachment 7f3a");
    expect((await collect(content.range(7, 12))).toString()).toBe("trace");

    // Lookups by key, as a download URL carries it.
    expect((await getFileInfoByKey(store.em(), "-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs")).id).toBe(id);
    // And storing the same bytes again dedupes onto osTicket's row, keeping its key (FACTS §6.9).
    const again = await storeFile(store.em(), {
      name: "trace.txt",
      declaredType: "text/plain",
      source: Buffer.from("unique trace attachment 7f3a"),
      maxBytes: 100,
    });
    expect(again).toMatchObject({ id, key: "-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs", deduplicated: true });
  });

  it("reads the fresh install's files, whose content matches their stored signature", async () => {
    for (const id of [1, 2]) {
      const content = await readFile(store.em(), id);
      const data = await collect(content.chunks());
      expect(data.byteLength).toBe(content.info.size);
      expect(fileSignature(digestOf(data))).toBe(content.info.signature);
    }
    const text = await readFile(store.em(), 2);
    expect(text.info).toMatchObject({ name: "osTicket.txt", type: "text/plain", size: 24 });
  });

  it("reads a two-chunk file written osTicket's way (700,000 bytes)", async () => {
    const em = store.em();
    const data = randomBytes(700_000);
    const signature = fileSignature(digestOf(data));
    const { insertId } = await run(
      em,
      "INSERT INTO `ost_file` SET `type` = 'application/pdf', `name` = 'x.pdf', `key` = 'abcdeKEY', `ft` = 'T', `signature` = ?, `created` = NOW(), `size` = 700000",
      [signature],
    );
    await run(em, "INSERT INTO `ost_file_chunk` SET `file_id` = ?, `chunk_id` = 0, `filedata` = ?", [
      insertId,
      data.subarray(0, CHUNK_SIZE),
    ]);
    await run(em, "INSERT INTO `ost_file_chunk` SET `file_id` = ?, `chunk_id` = 1, `filedata` = ?", [
      insertId,
      data.subarray(CHUNK_SIZE),
    ]);
    await run(em, "UPDATE `ost_file` SET `bk` = 'D' WHERE `id` = ? LIMIT 1", [insertId]);
    const content = await readFile(store.em(), insertId);
    expect(sha256(await collect(content.chunks()))).toBe(sha256(data));
    expect(sha256(await collect(content.range(511_990, 512_010)))).toBe(
      sha256(data.subarray(511_990, 512_010)),
    );
  });
});

describe("chunk reads", () => {
  it("leave the caller's transaction idle and usable when the consumer stops early", async () => {
    const committed = await store.em().transactional(async (em) => {
      const content = await readFile(em, bigId);
      for await (const chunk of content.chunks()) {
        expect(chunk.byteLength).toBe(CHUNK_SIZE);
        break; // the next chunk was being fetched meanwhile
      }
      const info = await getFileInfo(em, bigId);
      // A full read in the same transaction still sees every byte.
      expect(sha256(await collect((await readFile(em, bigId)).chunks()))).toBe(sha256(big));
      return info.id;
    });
    expect(committed).toBe(bigId);
  });
});

describe("chunk reads, aborted", () => {
  it("report an abort on the next read, never as an unhandled rejection while the consumer holds a chunk", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const controller = new AbortController();
      const chunks = (await readFile(store.em(), bigId)).chunks({ signal: controller.signal });
      const first = await chunks.next();
      expect(first.value?.byteLength).toBe(CHUNK_SIZE);
      // The consumer is busy with the first chunk (as a stream writer waiting for its client) when the
      // request is cancelled: the prefetch of the second fails meanwhile.
      controller.abort(new Error("client went away"));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(unhandled).toEqual([]);
      await expect(chunks.next()).rejects.toThrow("client went away");
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("range reads", () => {
  const cases: Array<[string, number, number]> = [
    ["the first byte", 0, 1],
    ["within the first chunk", 100, 5_000],
    ["the last byte of a chunk", CHUNK_SIZE - 1, CHUNK_SIZE],
    ["the first byte of the second chunk", CHUNK_SIZE, CHUNK_SIZE + 1],
    ["across one boundary", CHUNK_SIZE - 10, CHUNK_SIZE + 10],
    ["across three boundaries", 10, 3 * CHUNK_SIZE + 10],
    ["exactly the third chunk", 2 * CHUNK_SIZE, 3 * CHUNK_SIZE],
    ["the tail", 3 * CHUNK_SIZE + 12_000, 3 * CHUNK_SIZE + 12_345],
    ["everything", 0, 3 * CHUNK_SIZE + 12_345],
  ];
  for (const [what, start, end] of cases) {
    it(`returns ${what} [${start}, ${end})`, async () => {
      const content = await readFile(store.em(), bigId);
      const parts = [];
      for await (const part of content.range(start, end)) parts.push(part);
      const got = Buffer.concat(parts);
      expect(got.byteLength).toBe(end - start);
      expect(got.equals(big.subarray(start, end))).toBe(true);
      // Only the chunks covering the range are fetched, each trimmed to the range.
      expect(parts.length).toBe(Math.floor((end - 1) / CHUNK_SIZE) - Math.floor(start / CHUNK_SIZE) + 1);
    });
  }

  it("returns nothing for an empty range", async () => {
    const content = await readFile(store.em(), bigId);
    expect((await collect(content.range(5, 5))).byteLength).toBe(0);
  });

  it("refuses ranges outside the file", async () => {
    const content = await readFile(store.em(), bigId);
    const size = content.info.size;
    for (const [start, end] of [
      [-1, 5],
      [10, 5],
      [0, size + 1],
      [0.5, 3],
      [0, Number.NaN],
    ] as const) {
      expect(() => content.range(start, end), `${start}-${end}`).toThrow(InvalidRangeError);
    }
  });

  it("falls back to the real chunk layout when chunks are not 500 KiB", async () => {
    const em = store.em();
    const data = randomBytes(1000);
    const { insertId } = await run(
      em,
      "INSERT INTO `ost_file` SET `type` = 'application/octet-stream', `name` = 'odd.bin', `key` = 'oddkey', `ft` = 'T', `signature` = 'x', `created` = NOW(), `size` = 1000, `bk` = 'D'",
    );
    // An uneven layout with a gap in the ids: 300 + 200 + 500 bytes as chunks 0, 1, 3.
    for (const [chunkId, from, to] of [
      [0, 0, 300],
      [1, 300, 500],
      [3, 500, 1000],
    ] as const) {
      await run(em, "INSERT INTO `ost_file_chunk` SET `file_id` = ?, `chunk_id` = ?, `filedata` = ?", [
        insertId,
        chunkId,
        data.subarray(from, to),
      ]);
    }
    const content = await readFile(store.em(), insertId);
    expect((await collect(content.chunks())).equals(data)).toBe(true);
    expect((await collect(content.range(250, 750))).equals(data.subarray(250, 750))).toBe(true);
    expect((await collect(content.range(0, 1000))).equals(data)).toBe(true);
    expect((await collect(content.range(999, 1000))).equals(data.subarray(999))).toBe(true);
  });
});

describe("errors", () => {
  it("reports an unknown file as not found, by id and by key", async () => {
    await expect(readFile(store.em(), 987_654)).rejects.toThrow(FileNotFoundError);
    await expect(getFileInfo(store.em(), 987_654)).rejects.toMatchObject({
      code: "file_not_found",
      lookup: { id: 987_654 },
    });
    expect(await findFile(store.em(), 987_654)).toBeNull();
    await expect(getFileInfoByKey(store.em(), "no-such-key")).rejects.toMatchObject({
      lookup: { key: "no-such-key" },
    });
    await expect(getFileInfoByKey(store.em(), "")).rejects.toThrow(FileNotFoundError);
    await expect(readFile(store.em(), 0)).rejects.toThrow(InvalidArgumentError);
  });

  it("refuses files held by another storage backend", async () => {
    const { insertId } = await run(
      store.em(),
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'old.txt', `key` = 'k6', `ft` = 'T', `signature` = 's6', `created` = NOW(), `size` = 3, `bk` = '6', `attrs` = '/var/attachments/x'",
    );
    const error = await readFile(store.em(), insertId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedBackendError);
    expect(error).toMatchObject({ backend: "6", fileId: insertId });
  });

  it("reports chunks that do not match the recorded size", async () => {
    const em = store.em();
    // Size 5, three bytes stored, as osTicket's XML double base64 decode leaves (FACTS §2.4) — but with a
    // signature the bytes do not have: damage (measureContent below tells a genuine one apart).
    const { insertId: short } = await run(
      em,
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'x.txt', `key` = 'kx', `ft` = 'T', `signature` = 'sx', `created` = NOW(), `size` = 5, `bk` = 'D'",
    );
    await run(em, "INSERT INTO `ost_file_chunk` SET `file_id` = ?, `chunk_id` = 0, `filedata` = ?", [
      short,
      Buffer.from([0x1d, 0xe9, 0x65]),
    ]);
    const content = await readFile(store.em(), short);
    const seen: Buffer[] = [];
    const error = await (async () => {
      for await (const part of content.chunks()) seen.push(part);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptFileError);
    expect(Buffer.concat(seen)).toEqual(Buffer.from([0x1d, 0xe9, 0x65]));
    await expect(collect(content.range(0, 5))).rejects.toThrow(CorruptFileError);
    // Chunks that do not add up to the size place no byte reliably: no range of them is served either.
    await expect(collect(content.range(0, 3))).rejects.toThrow(CorruptFileError);

    const { insertId: long } = await run(
      em,
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'y.txt', `key` = 'ky', `ft` = 'T', `signature` = 'sy', `created` = NOW(), `size` = 2, `bk` = 'D'",
    );
    await run(em, "INSERT INTO `ost_file_chunk` SET `file_id` = ?, `chunk_id` = 0, `filedata` = 'abc'", [
      long,
    ]);
    await expect(collect((await readFile(store.em(), long)).chunks())).rejects.toThrow(CorruptFileError);
  });
});

describe("measureContent", () => {
  async function fileWith(size: number, signature: string, chunks: Buffer[]): Promise<number> {
    const em = store.em();
    const { insertId } = await run(
      em,
      "INSERT INTO `ost_file` SET `type` = 'text/plain', `name` = 'm.txt', `key` = ?, `ft` = 'T', `signature` = ?, `created` = NOW(), `size` = ?, `bk` = 'D'",
      [`m${randomBytes(6).toString("hex")}`, signature, size],
    );
    for (const [chunkId, data] of chunks.entries()) {
      await run(em, "INSERT INTO `ost_file_chunk` SET `file_id` = ?, `chunk_id` = ?, `filedata` = ?", [
        insertId,
        chunkId,
        data,
      ]);
    }
    return insertId;
  }
  const measure = async (id: number) => measureContent(store.em(), await getFileInfo(store.em(), id));

  it("takes the recorded size of a file in osTicket's layout, and measures any other complete layout", async () => {
    expect(await measure(bigId)).toEqual({ length: big.byteLength, doubleDecoded: false });
    const uneven = await fileWith(1000, "x", [randomBytes(300), randomBytes(700)]);
    expect(await measure(uneven)).toEqual({ length: 1000, doubleDecoded: false });
    expect(await measure(await fileWith(0, "x", []))).toEqual({ length: 0, doubleDecoded: false });
  });

  it("serves the stored length of a double-decoded file, whose stored bytes hash to its signature", async () => {
    const stored = Buffer.from([0x1d, 0xe9, 0x65]);
    const genuine = await fileWith(5, fileSignature(digestOf(stored)), [stored]);
    expect(await measure(genuine)).toEqual({ length: 3, doubleDecoded: true });
    const content = openFileContent(store.em(), await getFileInfo(store.em(), genuine), 3);
    expect(await collect(content.chunks())).toEqual(stored);
    expect(await collect(content.range(1, 3))).toEqual(stored.subarray(1));
  });

  it("reports damage: bytes missing, bytes changed, bytes too many", async () => {
    const data = randomBytes(2 * CHUNK_SIZE + 10);
    const signature = fileSignature(digestOf(data));
    const missingLast = await fileWith(data.byteLength, signature, [
      data.subarray(0, CHUNK_SIZE),
      data.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE),
    ]);
    await expect(measure(missingLast)).rejects.toThrow(CorruptFileError);
    const stored = Buffer.from([0x1d, 0xe9, 0x65]);
    await expect(measure(await fileWith(5, "sx", [stored]))).rejects.toThrow(CorruptFileError);
    await expect(measure(await fileWith(2, fileSignature(digestOf(stored)), [stored]))).rejects.toThrow(
      CorruptFileError,
    );
    // More than 3/4 of the size stored cannot come from a base64 decode, whatever the signature says.
    const seven = Buffer.from("7 bytes");
    await expect(measure(await fileWith(9, fileSignature(digestOf(seven)), [seven]))).rejects.toThrow(
      "its chunks hold 7 bytes, its size is 9",
    );
  });
});
