import { Code, ConnectError } from "@connectrpc/connect";
import type { EntityManager } from "@ostmesh/db";
import { query } from "@ostmesh/db";
import { num, str } from "@ostmesh/kit/auth/index.ts";
import { decodePageToken, pageOf, pageSize } from "../paging.ts";
import { stripAstral } from "./forms.ts";

/**
 * What the end-user and organization directories share: listing by name with word search and keyset
 * paging, field-mask validation, name clean-up and ordering rows as asked. Each directory keeps its own
 * tables, columns and rules; only the shape of the work is here.
 */

/** The words of a search query (split on whitespace). */
export function searchWords(text: string): string[] {
  return text.trim().split(/\s+/).filter(Boolean);
}

/** Escapes LIKE's wildcards and its escape character, so a word matches as typed. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The AND-ed conditions of a WHERE clause with their parameters, in order. */
export class Conditions {
  readonly sql: string[] = [];
  readonly params: unknown[] = [];

  add(condition: string, ...params: unknown[]): this {
    this.sql.push(condition);
    this.params.push(...params);
    return this;
  }

  /** One condition per word; every `?` in `condition` takes the word as a LIKE "contains" pattern. */
  containsEveryWord(words: readonly string[], condition: string): this {
    const marks = condition.split("?").length - 1;
    for (const word of words) {
      const like = `%${escapeLike(word)}%`;
      this.add(condition, ...Array.from({ length: marks }, () => like));
    }
    return this;
  }
}

/**
 * One page of a table listed by name, then id (`<alias>.name`, `<alias>.id`), under `conditions`; the page
 * token carries the last name and id and is tied to `filters`.
 */
export async function pageByName(
  em: EntityManager,
  from: { table: string; alias: string },
  conditions: Conditions,
  filters: unknown,
  request: { pageSize: number; pageToken: string },
): Promise<{ ids: number[]; nextPageToken: string }> {
  const size = pageSize(request.pageSize);
  const after = decodePageToken(request.pageToken, filters);
  const a = from.alias;
  const where = [...conditions.sql];
  const params = [...conditions.params];
  if (after) {
    const [name, id] = after;
    if (typeof name !== "string" || typeof id !== "number")
      throw new ConnectError("page_token is invalid for this request", Code.InvalidArgument);
    where.push(`(${a}.name > ? OR (${a}.name = ? AND ${a}.id > ?))`);
    params.push(name, name, id);
  }
  const rows = await query(
    em,
    `SELECT ${a}.id, ${a}.name FROM ${from.table} ${a}${where.length ? ` WHERE ${where.join(" AND ")}` : ""}` +
      ` ORDER BY ${a}.name, ${a}.id LIMIT ?`,
    [...params, size + 1],
  );
  const page = pageOf(rows, size, filters, (r) => [str(r.name), num(r.id)]);
  return { ids: page.items.map((r) => num(r.id)), nextPageToken: page.nextPageToken };
}

/** The known paths of an update mask, each once, in the order given; INVALID_ARGUMENT for none or an unknown one. */
export function maskPaths<P extends string>(known: readonly P[], paths: readonly string[]): P[] {
  if (paths.length === 0)
    throw new ConnectError("update_mask must name at least one field", Code.InvalidArgument);
  const out: P[] = [];
  for (const path of paths) {
    const match = known.find((p) => p === path);
    if (!match) throw new ConnectError(`update_mask: unknown path "${path}"`, Code.InvalidArgument);
    if (!out.includes(match)) out.push(match);
  }
  return out;
}

/** osTicket's clean-up of a user's or organization's name: tags removed, whitespace collapsed. */
export function cleanName(raw: string): string {
  return stripAstral(raw)
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** The objects of `ids` in that order, skipping the ids that have none. */
export function inOrderOf<T>(ids: readonly number[], byId: ReadonlyMap<number, T>): T[] {
  return ids.flatMap((id) => {
    const item = byId.get(id);
    return item === undefined ? [] : [item];
  });
}
