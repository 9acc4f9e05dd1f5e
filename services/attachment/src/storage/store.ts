import { FileTooLargeError, FileTypeNotAllowedError, InvalidArgumentError } from "./errors.ts";
import { sanitizeFileName } from "./filename.ts";
import { CHUNK_SIZE, FILE_COLUMNS, type FileInfo, fileInfoFromRow, getFileInfo } from "./files.ts";
import { ContentHasher, digestOf, type FileDigest, fileKey, fileSignature } from "./identity.ts";
import { type FileTypeRule, isFileTypeAllowed } from "./limits.ts";
import { assertTypeMatchesContent, detectType, parseDeclaredType } from "./sniff.ts";
import { type Db, run, runBinary, selectRow } from "./sql.ts";

/** `ost_file.ft`: T attachment, L logo, B backdrop. */
export type FilePurpose = "T" | "L" | "B";

export type FileSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array;

export interface StoreFileInput {
  /** File name as given; sanitised before it is stored. */
  name: string;
  /** MIME type as given ("" when unknown: the sniffed type, else application/octet-stream, is stored). */
  declaredType: string;
  /**
   * The bytes. A stream is consumed once, piece by piece; do not reuse a yielded buffer for later pieces.
   * Pass a Uint8Array when the whole file is in memory anyway.
   */
  source: FileSource;
  /** Largest accepted size in bytes (inclusive, as osTicket's `size > limit` check); see getMaxFileSize. */
  maxBytes: number;
  /** Accepted types in osTicket's terms (the upload field's rule); absent = any type. */
  allowedTypes?: FileTypeRule;
  /** Default `T` (attachment). */
  purpose?: FilePurpose;
  /**
   * The size to record (and dedupe by) instead of the number of bytes stored, for osTicket's legacy XML
   * base64 attachments, which it decodes twice and records with the once-decoded length (FACTS §2.4). The
   * limit applies to it, as osTicket checks that length.
   */
  recordedSize?: number;
  /**
   * false: always write a new row, even when identical bytes are stored already. AttachmentFile::create
   * looks for a duplicate only when it is given the file's size; files it gets without one (the raw mail
   * attached to an undecodable e-mail, an oversized body moved to a file) get a row of their own.
   */
  deduplicate?: boolean;
  /**
   * false: keep the declared type even where the content's signature contradicts it (osTicket's legacy
   * API checks no content). Default true: a contradiction is refused (FileTypeMismatchError).
   */
  checkContent?: boolean;
  signal?: AbortSignal;
}

export interface StoredFile extends FileInfo {
  /** True when identical bytes were already stored and that row was returned instead of a new one. */
  deduplicated: boolean;
}

/**
 * Stores a file the way osTicket does (FACTS §1.7): an `ost_file` row (type lower-cased, name, key,
 * ft, signature, created NOW(), size), its bytes in 500 KiB `ost_file_chunk` rows numbered from 0, then
 * `bk = 'D'`. Identical bytes (same signature and size) reuse the existing row instead, unless
`deduplicate` is false.
 *
 * Runs in `em`'s transaction (as a savepoint when one is open, else in its own transaction): on any error
 * — too large, wrong type, a failing source, an abort — nothing it wrote remains.
 *
 * Memory stays at about two chunks: a file that fits in one chunk is hashed before anything is written and
 * follows osTicket's exact statement order (dedupe lookup first). A larger file is written chunk by chunk
 * under a provisional row (empty signature, which no stored content has), one chunk INSERT (a prepared
 * statement, binary parameter) running while the next chunk arrives, and once its signature is known
 * either completed or, when the bytes already exist, deleted in favour of the existing row.
 */
export async function storeFile(em: Db, input: StoreFileInput): Promise<StoredFile> {
  const { maxBytes, signal } = input;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new InvalidArgumentError("maxBytes must be a non-negative integer");
  }
  const purpose = input.purpose ?? "T";
  if (purpose !== "T" && purpose !== "L" && purpose !== "B") {
    throw new InvalidArgumentError("purpose must be T, L or B");
  }
  const recordedSize = input.recordedSize;
  if (recordedSize !== undefined) {
    if (!Number.isSafeInteger(recordedSize) || recordedSize < 0) {
      throw new InvalidArgumentError("recordedSize must be a non-negative integer");
    }
    if (recordedSize > maxBytes) throw new FileTooLargeError(maxBytes);
  }
  const declared = parseDeclaredType(input.declaredType);
  // osTicket checks the declared type and the name before it looks at the bytes.
  if (
    input.allowedTypes &&
    !isFileTypeAllowed(input.allowedTypes, sanitizeFileName(input.name), declared.stored)
  ) {
    throw new FileTypeNotAllowedError(sanitizeFileName(input.name), declared.stored);
  }
  signal?.throwIfAborted();

  const source = new LimitedSource(input.source, maxBytes, signal);
  try {
    // Read ahead up to one chunk (plus one piece) before writing anything: enough to sniff the type, and
    // the whole file when it is small.
    const pending = new ChunkBuffer();
    let ended = false;
    while (pending.size <= CHUNK_SIZE) {
      const piece = await source.next();
      if (!piece) {
        ended = true;
        break;
      }
      pending.push(piece);
    }
    const first = pending.take(Math.min(pending.size, CHUNK_SIZE));
    const detected = await detectType(first);
    if (input.checkContent !== false) assertTypeMatchesContent(declared, detected);
    const file = {
      name: sanitizeFileName(input.name, detected?.ext),
      type: declared.stored || detected?.mime || "application/octet-stream",
      purpose,
      recordedSize,
      deduplicate: input.deduplicate ?? true,
    };

    return await em.transactional(async (tx) => {
      if (ended) return storeWhole(tx, file, first, signal);
      return storeStreamed(tx, file, first, pending, source, signal);
    });
  } finally {
    await source.close();
  }
}

interface NewFile {
  name: string;
  type: string;
  purpose: FilePurpose;
  recordedSize: number | undefined;
  deduplicate: boolean;
}

async function storeWhole(tx: Db, file: NewFile, data: Buffer, signal?: AbortSignal): Promise<StoredFile> {
  const digest = digestOf(data);
  const signature = fileSignature(digest);
  const size = file.recordedSize ?? digest.size;
  const existing = file.deduplicate ? await findStoredDuplicate(tx, signature, size, 0, signal) : null;
  if (existing) return { ...existing, deduplicated: true };

  const id = await insertFileRow(tx, file, fileKey(digest), signature, size, signal);
  if (data.byteLength > 0) await insertChunk(tx, id, 0, data, signal);
  await run(tx, "UPDATE `ost_file` SET `bk` = 'D' WHERE `id` = ? LIMIT 1", [id], signal);
  return { ...(await getFileInfo(tx, id)), deduplicated: false };
}

async function storeStreamed(
  tx: Db,
  file: NewFile,
  first: Buffer,
  pending: ChunkBuffer,
  source: LimitedSource,
  signal?: AbortSignal,
): Promise<StoredFile> {
  const id = await insertFileRow(tx, file, "", "", 0, signal);
  const hasher = new ContentHasher();
  let chunkId = 0;
  // One chunk INSERT runs while the next chunk is being received and hashed: the database and the source
  // work at the same time, and memory stays at about two chunks.
  let inFlight: Promise<void> = Promise.resolve();
  const write = async (chunk: Buffer) => {
    hasher.update(chunk);
    const next = chunkId++;
    await inFlight;
    inFlight = insertChunk(tx, id, next, chunk, signal);
    // Observed below (awaited before the next write and at the end); never left unhandled meanwhile.
    inFlight.catch(() => undefined);
  };

  try {
    await write(first);
    for (;;) {
      while (pending.size >= CHUNK_SIZE) await write(pending.take(CHUNK_SIZE));
      const piece = await source.next();
      if (!piece) break;
      pending.push(piece);
    }
    if (pending.size > 0) await write(pending.take(pending.size));
    await inFlight;
  } catch (error) {
    // The transaction rolls back only once no INSERT of ours is running on its connection.
    await inFlight.catch(() => undefined);
    throw error;
  }

  const digest: FileDigest = hasher.digest();
  const signature = fileSignature(digest);
  const size = file.recordedSize ?? digest.size;
  const existing = file.deduplicate ? await findStoredDuplicate(tx, signature, size, id, signal) : null;
  if (existing) {
    await run(tx, "DELETE FROM `ost_file_chunk` WHERE `file_id` = ?", [id], signal);
    await run(tx, "DELETE FROM `ost_file` WHERE `id` = ? LIMIT 1", [id], signal);
    return { ...existing, deduplicated: true };
  }
  await run(
    tx,
    "UPDATE `ost_file` SET `key` = ?, `signature` = ?, `size` = ?, `bk` = 'D' WHERE `id` = ? LIMIT 1",
    [fileKey(digest), signature, size, id],
    signal,
  );
  return { ...(await getFileInfo(tx, id)), deduplicated: false };
}

/** osTicket's dedupe rule: any file with the same signature and size (FACTS §1.7). */
async function findStoredDuplicate(
  tx: Db,
  signature: string,
  size: number,
  exceptId: number,
  signal?: AbortSignal,
): Promise<FileInfo | null> {
  const row = await selectRow(
    tx,
    `SELECT ${FILE_COLUMNS} FROM \`ost_file\` f WHERE f.\`signature\` = ? AND f.\`size\` = ? AND f.\`id\` <> ? ORDER BY f.\`id\` LIMIT 1`,
    [signature, size, exceptId],
    signal,
  );
  return row ? fileInfoFromRow(row) : null;
}

async function insertFileRow(
  tx: Db,
  file: NewFile,
  key: string,
  signature: string,
  size: number,
  signal?: AbortSignal,
): Promise<number> {
  const { insertId } = await run(
    tx,
    "INSERT INTO `ost_file` SET `type` = ?, `name` = ?, `key` = ?, `ft` = ?, `signature` = ?, `created` = NOW(), `size` = ?",
    [file.type, file.name, key, file.purpose, signature, size],
    signal,
  );
  if (!insertId) throw new Error("INSERT INTO ost_file returned no id");
  return insertId;
}

async function insertChunk(tx: Db, fileId: number, chunkId: number, data: Buffer, signal?: AbortSignal) {
  await runBinary(
    tx,
    "INSERT INTO `ost_file_chunk` SET `file_id` = ?, `chunk_id` = ?, `filedata` = ?",
    [fileId, chunkId, data],
    signal,
  );
}

/** Pulls pieces from the source, refusing as soon as more than `maxBytes` arrived. */
class LimitedSource {
  readonly #maxBytes: number;
  readonly #signal: AbortSignal | undefined;
  #iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;
  #whole: Uint8Array | undefined;
  #received = 0;
  #done = false;

  constructor(source: FileSource, maxBytes: number, signal?: AbortSignal) {
    this.#maxBytes = maxBytes;
    this.#signal = signal;
    if (source instanceof Uint8Array) {
      this.#whole = source;
    } else if (isAsyncIterable(source)) {
      this.#iterator = source[Symbol.asyncIterator]();
    } else if (isIterable(source)) {
      this.#iterator = source[Symbol.iterator]();
    } else {
      throw new InvalidArgumentError("source must be a Uint8Array or an (async) iterable of Uint8Array");
    }
  }

  /** The next non-empty piece, or undefined at the end. */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      this.#signal?.throwIfAborted();
      if (this.#done) return undefined;
      let piece: unknown;
      if (this.#whole) {
        piece = this.#whole;
        this.#whole = undefined;
        this.#done = true;
      } else if (this.#iterator) {
        const result = await this.#iterator.next();
        if (result.done) {
          this.#done = true;
          return undefined;
        }
        piece = result.value;
      } else {
        this.#done = true;
        return undefined;
      }
      if (!(piece instanceof Uint8Array)) {
        throw new InvalidArgumentError(`source yielded ${typeof piece}, expected Uint8Array`);
      }
      this.#received += piece.byteLength;
      if (this.#received > this.#maxBytes) throw new FileTooLargeError(this.#maxBytes);
      if (piece.byteLength > 0) return piece;
    }
  }

  /** Lets a stream that was not read to its end release its resources. */
  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await this.#iterator?.return?.();
    } catch {
      // The source's own cleanup failing changes nothing about the outcome of the store.
    }
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.iterator in value;
}

/** Pieces of arbitrary size in, exact-size chunks out. */
class ChunkBuffer {
  #parts: Uint8Array[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(piece: Uint8Array): void {
    this.#parts.push(piece);
    this.#size += piece.byteLength;
  }

  /** Removes and returns the first `n` bytes (n ≤ size). */
  take(n: number): Buffer {
    const head = this.#parts[0];
    if (head && head.byteLength >= n) {
      // One piece covers it: a view, no copy.
      const out = Buffer.from(head.buffer, head.byteOffset, n);
      if (head.byteLength === n) this.#parts.shift();
      else this.#parts[0] = head.subarray(n);
      this.#size -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const part = this.#parts[0];
      if (!part) throw new Error("ChunkBuffer.take: not enough bytes");
      const use = Math.min(part.byteLength, n - filled);
      out.set(part.subarray(0, use), filled);
      filled += use;
      if (use === part.byteLength) this.#parts.shift();
      else this.#parts[0] = part.subarray(use);
    }
    this.#size -= n;
    return out;
  }
}
