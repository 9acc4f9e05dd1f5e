import {
  CorruptFileError,
  FileNotFoundError,
  InvalidArgumentError,
  InvalidRangeError,
  UnsupportedBackendError,
} from "./errors.ts";
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

/**
 * A stored file's metadata and readers of its bytes. Each reader fetches one chunk per query (a prepared
 * statement: the bytes arrive as they are stored), the next while the caller handles the current one, so
 * at most two chunks (1000 KiB) are in memory at a time; readers run their queries through `em` when iterated, so
 * iterate them while `em` (and its transaction, if any) is still open.
 */
export interface FileContent {
  info: FileInfo;
  /**
   * The whole file, chunk by chunk in `chunk_id` order. Throws CorruptFileError at the end when the chunks
   * hold a different number of bytes than `info.size`.
   */
  chunks(options?: ReadOptions): AsyncGenerator<Buffer, void, undefined>;
  /** Bytes `[start, end)` (end exclusive; `0 ≤ start ≤ end ≤ size`), fetching only the chunks covering them. */
  range(start: number, end: number, options?: ReadOptions): AsyncGenerator<Buffer, void, undefined>;
}

/** Opens a file for reading; FileNotFoundError / UnsupportedBackendError before any byte is read. */
export async function readFile(em: Db, fileId: number): Promise<FileContent> {
  const info = await getFileInfo(em, fileId);
  return openFileContent(em, info);
}

export function openFileContent(em: Db, info: FileInfo): FileContent {
  if (info.backend !== "D") throw new UnsupportedBackendError(info.id, info.backend);
  return {
    info,
    chunks: (options = {}) => readChunks(em, info, options.signal),
    range: (start, end, options = {}) => {
      if (
        !Number.isSafeInteger(start) ||
        !Number.isSafeInteger(end) ||
        start < 0 ||
        start > end ||
        end > info.size
      ) {
        throw new InvalidRangeError(start, end, info.size);
      }
      return readRange(em, info, start, end, options.signal);
    },
  };
}

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
