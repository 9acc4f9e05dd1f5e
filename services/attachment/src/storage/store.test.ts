import { randomBytes } from "node:crypto";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FileTooLargeError,
  FileTypeMismatchError,
  FileTypeNotAllowedError,
  InvalidArgumentError,
  InvalidFileTypeError,
} from "./errors.ts";
import { CHUNK_SIZE, readFile } from "./files.ts";
import { digestOf, fileSignature } from "./identity.ts";
import { run, selectRows } from "./sql.ts";
import { storeFile } from "./store.ts";
import {
  collect,
  countRows,
  openScratchStore,
  PNG_BYTES,
  piecesOf,
  type ScratchStore,
  sha256,
  sha256Of,
  windowsExecutable,
} from "./testing.ts";

let store: ScratchStore;
const queries: string[] = [];
let capturing = false;

beforeAll(async () => {
  store = await openScratchStore("attstore", {
    logger: (line) => {
      if (capturing) queries.push(line);
    },
  });
});

afterAll(async () => {
  await store?.close();
});

async function fileAndChunkCounts(): Promise<{ files: number; chunks: number }> {
  const em = store.em();
  return { files: await countRows(em, "ost_file"), chunks: await countRows(em, "ost_file_chunk") };
}

const MB = 1_000_000;

describe("storeFile round trips", () => {
  // 0 B, 1 B, one byte short of a chunk, exactly a chunk, one byte over, 1.3 MB, ~5 MB
  const sizes = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 1_300_000, 5_000_123];

  for (const size of sizes) {
    it(`stores and reads back ${size} bytes intact in 500 KiB chunks`, async () => {
      const data = randomBytes(size);
      const stored = await storeFile(store.em(), {
        name: `blob-${size}.bin`,
        declaredType: "application/octet-stream",
        source: piecesOf(data, 64 * 1024 + 3),
        maxBytes: 10 * MB,
      });
      expect(stored).toMatchObject({
        size,
        deduplicated: false,
        backend: "D",
        purpose: "T",
        type: "application/octet-stream",
        name: `blob-${size}.bin`,
        signature: fileSignature(digestOf(data)),
      });
      expect(stored.key.slice(5)).toBe(digestOf(data).sha1.toString("base64url"));
      expect(stored.created).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

      const chunks = await selectRows(
        store.em(),
        "SELECT chunk_id, LENGTH(filedata) AS len FROM ost_file_chunk WHERE file_id = ? ORDER BY chunk_id",
        [stored.id],
      );
      const expectedChunks = Math.ceil(size / CHUNK_SIZE);
      expect(chunks.map((c) => Number(c.chunk_id))).toEqual([...Array(expectedChunks).keys()]);
      chunks.forEach((c, i) => {
        expect(Number(c.len)).toBe(i < expectedChunks - 1 ? CHUNK_SIZE : size - i * CHUNK_SIZE);
      });

      const content = await readFile(store.em(), stored.id);
      const back = await sha256Of(content.chunks());
      expect(back).toEqual({ hash: sha256(data), size });
    });
  }

  it("accepts a Uint8Array and a sync iterable as the source", async () => {
    const data = randomBytes(700_000);
    const a = await storeFile(store.em(), { name: "a.bin", declaredType: "", source: data, maxBytes: MB });
    expect(sha256(await collect((await readFile(store.em(), a.id)).chunks()))).toBe(sha256(data));
    const other = randomBytes(1000);
    const b = await storeFile(store.em(), {
      name: "b.bin",
      declaredType: "",
      source: [other.subarray(0, 10), new Uint8Array(0), other.subarray(10)],
      maxBytes: MB,
    });
    expect(b.size).toBe(1000);
    expect(b.type).toBe("application/octet-stream");
  });
});

describe("storeFile, osTicket compatibility", () => {
  it("writes the trace's attachment with osTicket's values and statement order", async () => {
    capturing = true;
    const stored = await storeFile(store.em(), {
      name: "trace.txt",
      declaredType: "text/plain",
      source: Buffer.from("unique trace attachment 7f3a"),
      maxBytes: 1_048_576,
    });
    capturing = false;
    expect(stored).toMatchObject({
      type: "text/plain",
      name: "trace.txt",
      size: 28,
      signature: "u6OHcuadwdVvM755JAcFvj2DzAGATWKE",
      purpose: "T",
      backend: "D",
      attrs: null,
    });
    expect(stored.key.slice(5)).toBe("u6OHcuadwdVvM755vKJBRwX0iCs");
    const statements = queries
      .map((line) => stripVTControlCharacters(line).replace(/^\[query\] /, ""))
      .map((sql) =>
        sql
          .match(/^(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b.*?`(ost_\w+)`/)
          ?.slice(1, 3)
          .join(" "),
      )
      .filter((s): s is string => s !== undefined);
    // FACTS §1.7: dedupe lookup, INSERT ost_file, INSERT ost_file_chunk, UPDATE ost_file SET bk='D'.
    expect(statements).toEqual([
      "SELECT ost_file",
      "INSERT INTO ost_file",
      "INSERT INTO ost_file_chunk",
      "UPDATE ost_file",
      "SELECT ost_file",
    ]);
    expect(queries.some((q) => /UPDATE `ost_file` SET `bk` = 'D'/.test(q))).toBe(true);
  });

  it("lower-cases the declared type, sanitises the name and stores the sniffed type when none is declared", async () => {
    const a = await storeFile(store.em(), {
      name: "C:\\tmp\\Photo\u0000.PNG",
      declaredType: "IMAGE/PNG",
      source: PNG_BYTES,
      maxBytes: MB,
    });
    expect(a).toMatchObject({ type: "image/png", name: "Photo.PNG" });
    const b = await storeFile(store.em(), {
      name: "",
      declaredType: "",
      source: Buffer.concat([PNG_BYTES, Buffer.from("x")]),
      maxBytes: MB,
    });
    expect(b).toMatchObject({ type: "image/png", name: "file.png" });
  });

  it("stores logos and backdrops with their purpose", async () => {
    const logo = await storeFile(store.em(), {
      name: "logo.png",
      declaredType: "image/png",
      source: Buffer.concat([PNG_BYTES, Buffer.from("logo")]),
      maxBytes: MB,
      purpose: "L",
    });
    expect(logo.purpose).toBe("L");
  });
});

describe("dedupe", () => {
  it("returns the existing file for identical small content and writes nothing", async () => {
    const data = randomBytes(4096);
    const first = await storeFile(store.em(), {
      name: "notes.txt",
      declaredType: "",
      source: data,
      maxBytes: MB,
    });
    const before = await fileAndChunkCounts();
    const second = await storeFile(store.em(), {
      name: "copy.txt",
      declaredType: "",
      source: piecesOf(data, 100),
      maxBytes: MB,
    });
    expect(second).toMatchObject({ id: first.id, key: first.key, name: "notes.txt", deduplicated: true });
    expect(await fileAndChunkCounts()).toEqual(before);
  });

  it("returns the existing file for identical multi-chunk content and removes the provisional rows", async () => {
    const data = randomBytes(1_300_000);
    const first = await storeFile(store.em(), {
      name: "big.bin",
      declaredType: "",
      source: piecesOf(data, 100_000),
      maxBytes: 2 * MB,
    });
    const before = await fileAndChunkCounts();
    const second = await storeFile(store.em(), {
      name: "big-again.bin",
      declaredType: "",
      source: piecesOf(data, 77_777),
      maxBytes: 2 * MB,
    });
    expect(second).toMatchObject({ id: first.id, key: first.key, deduplicated: true });
    expect(await fileAndChunkCounts()).toEqual(before);
    // The AUTO_INCREMENT moved (a provisional row existed), but no row with an empty signature remains.
    expect(await countRows(store.em(), "ost_file", "signature = ''")).toBe(0);
  });

  it("does not dedupe same-signature files of another size", async () => {
    const data = randomBytes(2000);
    const first = await storeFile(store.em(), {
      name: "s.bin",
      declaredType: "",
      source: data,
      maxBytes: MB,
    });
    // A row osTicket could hold: same signature, different recorded size (e.g. the XML double decode).
    await run(store.em(), "UPDATE ost_file SET size = 1999 WHERE id = ?", [first.id]);
    const second = await storeFile(store.em(), {
      name: "s.bin",
      declaredType: "",
      source: data,
      maxBytes: MB,
    });
    expect(second.id).not.toBe(first.id);
    expect(second.deduplicated).toBe(false);
  });

  for (const [label, size] of [
    ["one chunk", 3000],
    ["several chunks", 1_100_000],
  ] as const) {
    it(`deduplicate: false writes a row of its own for bytes already stored (${label}), as osTicket does for a file given without its size`, async () => {
      const data = randomBytes(size);
      const first = await storeFile(store.em(), {
        name: "raw.eml",
        declaredType: "message/rfc822",
        source: data,
        maxBytes: 2 * MB,
      });
      const before = await fileAndChunkCounts();
      const second = await storeFile(store.em(), {
        name: "raw.eml",
        declaredType: "message/rfc822",
        source: piecesOf(data, 90_000),
        maxBytes: 2 * MB,
        deduplicate: false,
      });
      expect(second.id).not.toBe(first.id);
      expect(second.deduplicated).toBe(false);
      const chunks = Math.ceil(size / CHUNK_SIZE);
      expect(await fileAndChunkCounts()).toEqual({ files: before.files + 1, chunks: before.chunks + chunks });
      // The row the first store wrote (AttachmentFile::create: signature of the bytes, size, ft, type, name,
      // bk 'D', no attrs) under a new id and a key of its own (a fresh 5-character prefix, the same hash).
      const rows = await selectRows(
        store.em(),
        "SELECT id, ft, bk, type, size, `key`, signature, name, attrs FROM ost_file WHERE id IN (?, ?) ORDER BY id",
        [first.id, second.id],
      );
      expect(rows).toHaveLength(2);
      const [a, b] = rows;
      expect({ ...b, id: 0, key: "" }).toEqual({ ...a, id: 0, key: "" });
      expect(String(b?.key).slice(5)).toBe(String(a?.key).slice(5));
      expect(b?.key).toHaveLength(32);
      expect(b).toMatchObject({
        ft: "T",
        bk: "D",
        type: "message/rfc822",
        size,
        name: "raw.eml",
        attrs: null,
      });
      expect(Buffer.compare(await collect((await readFile(store.em(), second.id)).chunks()), data)).toBe(0);
    });
  }
});

describe("limits and rejections leave nothing behind", () => {
  it("rejects an oversize stream as soon as the limit is passed", async () => {
    const before = await fileAndChunkCounts();
    let pulled = 0;
    let finished = false;
    async function* source() {
      try {
        for (let i = 0; i < 100; i++) {
          pulled++;
          yield randomBytes(100_000);
        }
      } finally {
        finished = true;
      }
    }
    const error = await storeFile(store.em(), {
      name: "huge.bin",
      declaredType: "",
      source: source(),
      maxBytes: 1_048_576,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileTooLargeError);
    expect(error).toMatchObject({ maxBytes: 1_048_576, osTicketMessage: "File size is too large" });
    // 11 pieces of 100 kB pass 1 MiB: the 12th was never asked for, and the source was closed.
    expect(pulled).toBe(11);
    expect(finished).toBe(true);
    expect(await fileAndChunkCounts()).toEqual(before);
  });

  it("accepts a file of exactly maxBytes and rejects one byte more", async () => {
    const data = randomBytes(600_000);
    const ok = await storeFile(store.em(), { name: "x", declaredType: "", source: data, maxBytes: 600_000 });
    expect(ok.size).toBe(600_000);
    const before = await fileAndChunkCounts();
    await expect(
      storeFile(store.em(), {
        name: "x",
        declaredType: "",
        source: Buffer.concat([data, Buffer.from("!")]),
        maxBytes: 600_000,
      }),
    ).rejects.toThrow(FileTooLargeError);
    expect(await fileAndChunkCounts()).toEqual(before);
  });

  it("rejects a Windows executable declared as image/png", async () => {
    const before = await fileAndChunkCounts();
    const error = await storeFile(store.em(), {
      name: "cat.png",
      declaredType: "image/png",
      source: piecesOf(windowsExecutable(), 100),
      maxBytes: MB,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileTypeMismatchError);
    expect(error).toMatchObject({ code: "file_type_mismatch", osTicketMessage: "File type is not allowed" });
    expect(String(error)).toMatch(
      /declared type image\/png does not match the content, which is application\/x-msdownload/,
    );
    expect(await fileAndChunkCounts()).toEqual(before);
  });

  it("rejects types the upload rule does not allow, before reading the source", async () => {
    let pulled = false;
    async function* source() {
      pulled = true;
      yield PNG_BYTES;
    }
    const error = await storeFile(store.em(), {
      name: "tool.exe",
      declaredType: "application/x-msdownload",
      source: source(),
      maxBytes: MB,
      allowedTypes: { mimeTypes: ["image/png"], extensions: [".png", ".pdf"] },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileTypeNotAllowedError);
    expect(error).toMatchObject({ osTicketMessage: "File type is not allowed" });
    expect(pulled).toBe(false);
    const allowed = await storeFile(store.em(), {
      name: "pic.png",
      declaredType: "image/png",
      source: Buffer.concat([PNG_BYTES, Buffer.from("allowed")]),
      maxBytes: MB,
      allowedTypes: { mimeTypes: [], extensions: [".png"] },
    });
    expect(allowed.deduplicated).toBe(false);
  });

  it("rejects bad arguments", async () => {
    const em = store.em();
    const base = { name: "a", declaredType: "", source: Buffer.from("a") };
    await expect(storeFile(em, { ...base, maxBytes: -1 })).rejects.toMatchObject({
      code: "invalid_argument",
      osTicketMessage: "Unable to save file",
    });
    await expect(storeFile(em, { ...base, maxBytes: 1.5 })).rejects.toThrow(InvalidArgumentError);
    await expect(storeFile(em, { ...base, maxBytes: 10, declaredType: "not a type" })).rejects.toThrow(
      InvalidFileTypeError,
    );
    await expect(
      // @ts-expect-error: a purpose osTicket does not know
      storeFile(em, { ...base, maxBytes: 10, purpose: "X" }),
    ).rejects.toThrow(InvalidArgumentError);
    async function* strings() {
      yield "text is not bytes";
    }
    await expect(
      // @ts-expect-error: a source of strings
      storeFile(em, { ...base, maxBytes: 100, source: strings() }),
    ).rejects.toThrow(InvalidArgumentError);
    // @ts-expect-error: not a source at all
    await expect(storeFile(em, { ...base, maxBytes: 100, source: 42 })).rejects.toThrow(InvalidArgumentError);
  });

  it("leaves nothing when the source fails mid-stream", async () => {
    const before = await fileAndChunkCounts();
    async function* failing() {
      yield randomBytes(CHUNK_SIZE);
      yield randomBytes(CHUNK_SIZE);
      throw new Error("client went away");
    }
    await expect(
      storeFile(store.em(), { name: "f", declaredType: "", source: failing(), maxBytes: 10 * MB }),
    ).rejects.toThrow("client went away");
    expect(await fileAndChunkCounts()).toEqual(before);
  });

  it("stops when the signal aborts", async () => {
    const before = await fileAndChunkCounts();
    const controller = new AbortController();
    async function* slow() {
      yield randomBytes(CHUNK_SIZE + 10);
      controller.abort(new Error("request cancelled"));
      yield randomBytes(CHUNK_SIZE);
    }
    await expect(
      storeFile(store.em(), {
        name: "f",
        declaredType: "",
        source: slow(),
        maxBytes: 10 * MB,
        signal: controller.signal,
      }),
    ).rejects.toThrow("request cancelled");
    expect(await fileAndChunkCounts()).toEqual(before);
  });
});

describe("transactions", () => {
  it("writes in the caller's transaction: a caller rollback removes the file", async () => {
    const before = await fileAndChunkCounts();
    const data = randomBytes(CHUNK_SIZE * 2 + 5);
    await expect(
      store.em().transactional(async (tx) => {
        const stored = await storeFile(tx, {
          name: "t",
          declaredType: "",
          source: piecesOf(data, 65536),
          maxBytes: 2 * MB,
        });
        expect(await countRows(tx, "ost_file_chunk", "file_id = ?", [stored.id])).toBe(3);
        // Another connection does not see the uncommitted rows.
        expect(await countRows(store.em(), "ost_file", "id = ?", [stored.id])).toBe(0);
        throw new Error("caller fails later");
      }),
    ).rejects.toThrow("caller fails later");
    expect(await fileAndChunkCounts()).toEqual(before);
  });

  it("a failed store inside the caller's transaction leaves the caller's other writes intact", async () => {
    const marker = `marker-${randomBytes(4).toString("hex")}`;
    await store.em().transactional(async (tx) => {
      await run(tx, "INSERT INTO ost_config SET namespace = 'ostmesh.test', `key` = ?, value = '1'", [
        marker,
      ]);
      await expect(
        storeFile(tx, {
          name: "big",
          declaredType: "",
          source: piecesOf(randomBytes(3 * CHUNK_SIZE), 70_000),
          maxBytes: 2 * CHUNK_SIZE,
        }),
      ).rejects.toThrow(FileTooLargeError);
      const ok = await storeFile(tx, {
        name: "ok",
        declaredType: "",
        source: randomBytes(10),
        maxBytes: 100,
      });
      expect(ok.size).toBe(10);
    });
    expect(await countRows(store.em(), "ost_config", "`key` = ?", [marker])).toBe(1);
  });
});
