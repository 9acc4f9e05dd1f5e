import { createHash, randomBytes } from "node:crypto";
import { createOrm, type Orm } from "@ostmesh/db";
import { createScratchDatabase, type ScratchDatabase } from "@ostmesh/db/testing/scratch.ts";
import type { Db } from "./sql.ts";
import { int, selectRow } from "./sql.ts";

/** Test support: a scratch clone of the fresh osTicket install with an ORM on it. */
export interface ScratchStore {
  db: ScratchDatabase;
  orm: Orm;
  /** A fresh EntityManager fork (one per use case, as in a request). */
  em(): Db;
  close(): Promise<void>;
}

export async function openScratchStore(
  label: string,
  /** Receives each query's log line (SQL without parameter values). */
  options: { logger?: (line: string) => void } = {},
): Promise<ScratchStore> {
  const db = await createScratchDatabase({ label });
  const orm = await createOrm({
    url: db.url,
    entities: [],
    pool: { max: 4 },
    ...(options.logger ? { debug: ["query"], logger: options.logger } : {}),
    extra: { discovery: { warnWhenNoEntities: false } },
  });
  return {
    db,
    orm,
    em: () => orm.em.fork(),
    async close() {
      await orm.close(true);
      await db.drop();
    },
  };
}

export async function countRows(em: Db, table: string, where = "1", params: unknown[] = []): Promise<number> {
  const row = await selectRow(em, `SELECT COUNT(*) AS n FROM \`${table}\` WHERE ${where}`, params);
  return int(row?.n, "COUNT(*)");
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export async function sha256Of(source: AsyncIterable<Uint8Array>): Promise<{ hash: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const piece of source) {
    hash.update(piece);
    size += piece.byteLength;
  }
  return { hash: hash.digest("hex"), size };
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of source) parts.push(Buffer.from(piece));
  return Buffer.concat(parts);
}

/** Yields `data` in pieces of `pieceSize` bytes (views, no copies). */
export async function* piecesOf(data: Uint8Array, pieceSize: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.byteLength; offset += pieceSize) {
    yield data.subarray(offset, Math.min(offset + pieceSize, data.byteLength));
  }
}

/** `size` random bytes, generated piece by piece; `onPiece` sees every piece (e.g. to hash the input). */
export async function* randomStream(
  size: number,
  pieceSize: number,
  onPiece?: (piece: Uint8Array) => void,
): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < size; sent += pieceSize) {
    const piece = randomBytes(Math.min(pieceSize, size - sent));
    onPiece?.(piece);
    yield piece;
  }
}

/** A 1x1 PNG. */
export const PNG_BYTES = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082",
  "hex",
);

/** The start of a Windows PE executable: MZ header pointing at a PE signature. */
export function windowsExecutable(): Buffer {
  const exe = Buffer.alloc(1024);
  exe.write("MZ", 0, "latin1");
  exe.writeUInt32LE(0x80, 0x3c);
  exe.write("PE\0\0", 0x80, "latin1");
  exe.writeUInt16LE(0x14c, 0x84);
  return exe;
}
