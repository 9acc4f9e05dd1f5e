import type { EntityManager } from "@mikro-orm/mysql";
import { executePrepared, queryPrepared } from "@ostmesh/db";

/**
 * Raw SQL through the caller's EntityManager: inside its transaction when it has one, so file rows, chunks
 * and attachment links commit or roll back with the caller's other writes.
 */
export type Db = EntityManager;

export type Row = Record<string, unknown>;

export async function selectRows(
  em: Db,
  sql: string,
  params: unknown[] = [],
  signal?: AbortSignal,
): Promise<Row[]> {
  return em.execute<Row[]>(sql, params, { method: "all", ...(signal ? { signal } : {}) });
}

export async function selectRow(
  em: Db,
  sql: string,
  params: unknown[] = [],
  signal?: AbortSignal,
): Promise<Row | undefined> {
  const rows = await selectRows(em, sql, params, signal);
  return rows[0];
}

export interface RunResult {
  affectedRows: number;
  insertId: number;
}

export async function run(
  em: Db,
  sql: string,
  params: unknown[] = [],
  signal?: AbortSignal,
): Promise<RunResult> {
  const res = await em.execute<{ affectedRows?: number; insertId?: number }>(sql, params, {
    method: "run",
    ...(signal ? { signal } : {}),
  });
  return { affectedRows: Number(res.affectedRows ?? 0), insertId: Number(res.insertId ?? 0) };
}

/**
 * Statements that carry or return file bytes: server-side prepared (binary protocol) on `em`'s connection
 * and transaction, so a 500 KiB chunk travels as 500 KiB instead of a hex literal twice its size that the
 * server must parse.
 */
export async function runBinary(
  em: Db,
  sql: string,
  params: unknown[],
  signal?: AbortSignal,
): Promise<RunResult> {
  return executePrepared(em, sql, params, signal ? { signal } : {});
}

export async function selectBinaryRow(
  em: Db,
  sql: string,
  params: unknown[],
  signal?: AbortSignal,
): Promise<Row | undefined> {
  const rows = await queryPrepared(em, sql, params, signal ? { signal } : {});
  return rows[0];
}

export function int(value: unknown, column: string): number {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new Error(`column ${column}: expected an integer, got ${String(value)}`);
  return n;
}

export function text(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
  return String(value);
}

export function nullableText(value: unknown): string | null {
  return value === null || value === undefined ? null : text(value);
}

export function bytes(value: unknown, column: string): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new Error(`column ${column}: expected binary data, got ${typeof value}`);
}
