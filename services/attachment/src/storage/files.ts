import {
  CorruptFileError,
  FileNotFoundError,
  InvalidArgumentError,
  InvalidRangeError,
  UnsupportedBackendError,
} from "./errors.ts";
import { ContentHasher, fileSignature } from "./identity.ts";
import {
  bytes,
  type Db,
  int,
  nullableText,
  type Row,
  selectBinaryRow,
  selectRow,
  selectRows,
  text,
} from "./sql.ts";

/** osTicket's database backend cuts files into chunks of 500 KiB (`include/class.file.php`). */
export const CHUNK_SIZE = 512_000;

/** A row of `ost_file`. */
export interface FileInfo {
  id: number;
  /** `ft`: `T` attachment, `L` logo, `B` backdrop. */
  purpose: string;
  /** `bk`: `D` database chunks; other backends (`6` legacy filesystem, plugins) cannot be read here. */
  backend: string;
  /** MIME type, lower-cased. */
  type: string;
  size: number;
  /** Public download key (32 chars for files osTicket 1.8+ or ostmesh stored). */
  key: string;
  /** Content hash: 16 chars of sha1 + 16 of md5, URL-safe base64. */
  signature: string;
  name: string;
  attrs: string | null;
  /** `created`, DB server local time, `YYYY-MM-DD HH:MM:SS`. */
  created: string;
  /** `created` as Unix seconds (converted by the server in its own zone); null for a zero date. */
  createdAt: number | null;
}

export const FILE_COLUMNS =
  "f.`id`, f.`ft`, f.`bk`, f.`type`, f.`size`, f.`key`, f.`signature`, f.`name`, f.`attrs`, f.`created`," +
  " UNIX_TIMESTAMP(f.`created`) AS `created_unix`";

export function fileInfoFromRow(row: Row): FileInfo {
  return {
    id: int(row.id, "ost_file.id"),
    purpose: text(row.ft),
    backend: text(row.bk),
    type: text(row.type),
    size: int(row.size, "ost_file.size"),
    key: text(row.key),
    signature: text(row.signature),
    name: text(row.name),
    attrs: nullableText(row.attrs),
    created: text(row.created),
    createdAt: unixSeconds(row.created_unix),
  };
}

function unixSeconds(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = Math.floor(Number(text(value)));
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

export async function findFile(em: Db, fileId: number): Promise<FileInfo | null> {
  assertId(fileId, "fileId");
  const row = await selectRow(em, `SELECT ${FILE_COLUMNS} FROM \`ost_file\` f WHERE f.\`id\` = ?`, [fileId]);
  return row ? fileInfoFromRow(row) : null;
}

/** File metadata by id; FileNotFoundError when there is no such file. */
export async function getFileInfo(em: Db, fileId: number): Promise<FileInfo> {
  const info = await findFile(em, fileId);
  if (!info) throw new FileNotFoundError({ id: fileId });
  return info;
}

/** File metadata by its public download key (compared case-insensitively, as the column's collation does). */
export async function getFileInfoByKey(em: Db, key: string): Promise<FileInfo> {
  if (key === "" || key.length > 86) throw new FileNotFoundError({ key });
  const row = await selectRow(
    em,
    `SELECT ${FILE_COLUMNS} FROM \`ost_file\` f WHERE f.\`key\` = ? ORDER BY f.\`id\` LIMIT 1`,
    [key],
  );
  if (!row) throw new FileNotFoundError({ key });
  return fileInfoFromRow(row);
}

/**
 * File metadata by the exact download key a link carries. The column compares case-insensitively, so two
 * keys differing only in case would match each other; only a byte-exact match counts here.
 */
export async function getFileInfoByExactKey(em: Db, key: string): Promise<FileInfo> {
  if (key === "" || key.length > 86) throw new FileNotFoundError({ key });
  const rows = await selectRows(
    em,
    `SELECT ${FILE_COLUMNS} FROM \`ost_file\` f WHERE f.\`key\` = ? ORDER BY f.\`id\` LIMIT 10`,
    [key],
  );
  const exact = rows.map(fileInfoFromRow).find((info) => info.key === key);
  if (!exact) throw new FileNotFoundError({ key });
  return exact;
}

export interface ReadOptions {
  signal?: AbortSignal;
}

/** How many bytes a file's download streams. */
export interface ContentLength {
  /** Bytes its chunks hold, which a download streams and ranges refer to. */
  length: number;
  /**
   * A file osTicket's legacy XML API stored decoded twice (FACTS §2.4): `size` is the once-decoded length
   * while the chunks hold the twice-decoded bytes — fewer of them, and the ones its signature was made of.
   */
  doubleDecoded: boolean;
}

/**
 * The length of a stored file's content, settled before any byte is sent so that a download can announce it.
 * One query for osTicket's layout (chunks 0…n-1, all 500 KiB but the last, together `size` bytes: the
 * middle chunks are checked as they are read); any other layout is measured. Chunks holding fewer bytes
 * than `size` are served as they are when they still hash to the file's signature, which osTicket computes
 * over the bytes it stores: that is the legacy XML double decode, not damage. Anything else (missing or
 * truncated chunks, more bytes than `size`) is CorruptFileError.
 */
export async function measureContent(
  em: Db,
  info: FileInfo,
  options: ReadOptions = {},
): Promise<ContentLength> {
  if (info.backend !== "D") throw new UnsupportedBackendError(info.id, info.backend);
  const { signal } = options;
  const layout = await selectRow(
    em,
    "SELECT COUNT(*) AS `chunks`, MIN(`chunk_id`) AS `first_id`, MAX(`chunk_id`) AS `last_id`," +
      " (SELECT LENGTH(c.`filedata`) FROM `ost_file_chunk` c WHERE c.`file_id` = ? ORDER BY c.`chunk_id` DESC LIMIT 1) AS `last_length`" +
      " FROM `ost_file_chunk` WHERE `file_id` = ?",
    [info.id, info.id],
    signal,
  );
  const chunks = layout ? int(layout.chunks, "chunks") : 0;
  if (chunks === 0) {
    if (info.size === 0) return { length: 0, doubleDecoded: false };
  } else if (
    int(layout?.first_id, "first_id") === 0 &&
    int(layout?.last_id, "last_id") === chunks - 1 &&
    (chunks - 1) * CHUNK_SIZE + int(layout?.last_length, "last_length") === info.size
  ) {
    return { length: info.size, doubleDecoded: false };
  }
  const measured = await selectRow(
    em,
    "SELECT COALESCE(SUM(LENGTH(`filedata`)), 0) AS `total` FROM `ost_file_chunk` WHERE `file_id` = ?",
    [info.id],
    signal,
  );
  const total = measured ? int(measured.total, "total") : 0;
  if (total === info.size) return { length: total, doubleDecoded: false };
  // Base64 decoding yields at most 3 bytes per 4 characters: more than that cannot be a double decode.
  if (total < info.size && total <= Math.floor((info.size * 3) / 4)) {
    const hasher = new ContentHasher();
    for await (const chunk of scanChunks(em, info.id, signal)) hasher.update(chunk);
    if (hasher.size === total && fileSignature(hasher.digest()) === info.signature)
      return { length: total, doubleDecoded: true };
  }
  throw new CorruptFileError(info.id, `its chunks hold ${total} bytes, its size is ${info.size}`);
}

/** Every chunk of a file in `chunk_id` order, unchecked, one query each. */
async function* scanChunks(em: Db, fileId: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  for (let chunkId = -1; ; ) {
    const row = await selectBinaryRow(
      em,
      "SELECT `chunk_id`, `filedata` FROM `ost_file_chunk` WHERE `file_id` = ? AND `chunk_id` > ? ORDER BY `chunk_id` LIMIT 1",
      [fileId, chunkId],
      signal,
    );
    if (!row) return;
    chunkId = int(row.chunk_id, "ost_file_chunk.chunk_id");
    yield bytes(row.filedata, "ost_file_chunk.filedata");
  }
}

/**
 * A stored file's metadata and readers of its bytes. Each reader fetches one chunk per query (a prepared
 * statement: the bytes arrive as they are stored), the next while the caller handles the current one, so
 * at most two chunks (1000 KiB) are in memory at a time; readers run their queries through `em` when iterated, so
 * iterate them while `em` (and its transaction, if any) is still open.
 */
export interface FileContent {
  info: FileInfo;
  /** The bytes the content holds: `info.size`, unless the file was opened with a measured length. */
  length: number;
  /**
   * The whole file, chunk by chunk in `chunk_id` order. Throws CorruptFileError at the end when the chunks
   * hold a different number of bytes than `length`.
   */
  chunks(options?: ReadOptions): AsyncGenerator<Buffer, void, undefined>;
  /**
   * Bytes `[start, end)` (end exclusive; `0 ≤ start ≤ end ≤ length`), fetching only the chunks covering them
   * (InvalidRangeError otherwise, before any query).
   */
  range(start: number, end: number, options?: ReadOptions): AsyncGenerator<Buffer, void, undefined>;
}

/** Opens a file for reading; FileNotFoundError / UnsupportedBackendError before any byte is read. */
export async function readFile(em: Db, fileId: number): Promise<FileContent> {
  const info = await getFileInfo(em, fileId);
  return openFileContent(em, info);
}

/**
 * Readers of a file's bytes; `length` (from measureContent) is what they hold, `info.size` when not given.
 * UnsupportedBackendError for files outside the database.
 */
export function openFileContent(em: Db, info: FileInfo, length: number = info.size): FileContent {
  if (info.backend !== "D") throw new UnsupportedBackendError(info.id, info.backend);
  const content = { ...info, size: length };
  return {
    info,
    length,
    chunks: (options = {}) => readChunks(em, content, options.signal),
    range: (start, end, options = {}) => {
      if (
        !Number.isSafeInteger(start) ||
        !Number.isSafeInteger(end) ||
        start < 0 ||
        start > end ||
        end > length
      ) {
        throw new InvalidRangeError(start, end, length);
      }
      return readRange(em, content, start, end, options.signal);
    },
  };
}

/** The readers below take `info.size` as the length of the content they read. */
async function* readChunks(
  em: Db,
  info: FileInfo,
  signal?: AbortSignal,
): AsyncGenerator<Buffer, void, undefined> {
  // By cursor rather than by expected id, so a gap in chunk ids (never written by osTicket) is no end.
  const fetchAfter = (chunkId: number) => {
    const fetching = selectBinaryRow(
      em,
      "SELECT `chunk_id`, `filedata` FROM `ost_file_chunk` WHERE `file_id` = ? AND `chunk_id` > ? ORDER BY `chunk_id` LIMIT 1",
      [info.id, chunkId],
      signal,
    );
    // It may fail (an abort) while the consumer still holds the previous chunk: that failure surfaces when
    // the consumer asks for the next chunk, and is never an unhandled rejection meanwhile.
    fetching.catch(() => undefined);
    return fetching;
  };
  let total = 0;
  // The next chunk is fetched while the consumer handles the current one (at most two chunks in memory).
  let next = fetchAfter(-1);
  try {
    for (;;) {
      const row = await next;
      if (!row) break;
      const chunkId = int(row.chunk_id, "ost_file_chunk.chunk_id");
      const data = bytes(row.filedata, "ost_file_chunk.filedata");
      total += data.byteLength;
      if (total > info.size)
        throw new CorruptFileError(info.id, `its chunks hold more than its size of ${info.size} bytes`);
      next = fetchAfter(chunkId);
      if (data.byteLength > 0) yield data;
    }
  } finally {
    // A consumer that stops early (or an error) leaves no query running on `em` behind it.
    await next.catch(() => undefined);
  }
  if (total !== info.size) {
    throw new CorruptFileError(info.id, `its chunks hold ${total} bytes, its size is ${info.size}`);
  }
}

async function* readRange(
  em: Db,
  info: FileInfo,
  start: number,
  end: number,
  signal?: AbortSignal,
): AsyncGenerator<Buffer, void, undefined> {
  if (start === end) return;
  const lastChunkOfFile = Math.floor((info.size - 1) / CHUNK_SIZE);
  let position = start;
  // Fast path: osTicket's layout, chunk n holding bytes [n*CHUNK_SIZE, (n+1)*CHUNK_SIZE). Each chunk's
  // length is checked, and any other layout falls back to reading the actual chunk lengths.
  for (let index = Math.floor(start / CHUNK_SIZE); position < end; index++) {
    const chunkStart = index * CHUNK_SIZE;
    const from = position - chunkStart;
    const to = Math.min(end, chunkStart + CHUNK_SIZE) - chunkStart;
    const row = await selectBinaryRow(
      em,
      "SELECT SUBSTRING(`filedata`, ?, ?) AS `part`, LENGTH(`filedata`) AS `length` FROM `ost_file_chunk` WHERE `file_id` = ? AND `chunk_id` = ?",
      [from + 1, to - from, info.id, index],
      signal,
    );
    const expectedLength = index < lastChunkOfFile ? CHUNK_SIZE : info.size - chunkStart;
    if (!row || int(row.length, "length") !== expectedLength) {
      yield* readRangeByLayout(em, info, position, end, signal);
      return;
    }
    const part = bytes(row.part, "part");
    yield part;
    position += part.byteLength;
  }
}

async function* readRangeByLayout(
  em: Db,
  info: FileInfo,
  start: number,
  end: number,
  signal?: AbortSignal,
): AsyncGenerator<Buffer, void, undefined> {
  const layout = await selectRows(
    em,
    "SELECT `chunk_id`, LENGTH(`filedata`) AS `length` FROM `ost_file_chunk` WHERE `file_id` = ? ORDER BY `chunk_id`",
    [info.id],
    signal,
  );
  // Bytes at shifted positions are no answer: a layout that does not add up to the content is damage.
  const total = layout.reduce((sum, chunk) => sum + int(chunk.length, "length"), 0);
  if (total !== info.size)
    throw new CorruptFileError(info.id, `its chunks hold ${total} bytes, its size is ${info.size}`);
  let position = start;
  let chunkStart = 0;
  for (const chunk of layout) {
    const length = int(chunk.length, "length");
    const chunkEnd = chunkStart + length;
    if (chunkEnd > position && chunkStart < end) {
      const from = position - chunkStart;
      const to = Math.min(end, chunkEnd) - chunkStart;
      const row = await selectBinaryRow(
        em,
        "SELECT SUBSTRING(`filedata`, ?, ?) AS `part` FROM `ost_file_chunk` WHERE `file_id` = ? AND `chunk_id` = ?",
        [from + 1, to - from, info.id, int(chunk.chunk_id, "chunk_id")],
        signal,
      );
      const part = row ? bytes(row.part, "part") : Buffer.alloc(0);
      if (part.byteLength !== to - from) break;
      yield part;
      position += part.byteLength;
    }
    if (position >= end) return;
    chunkStart = chunkEnd;
  }
  throw new CorruptFileError(info.id, `its chunks end before byte ${end} of its size of ${info.size} bytes`);
}

export function assertId(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new InvalidArgumentError(`${what} must be a positive integer`);
}
