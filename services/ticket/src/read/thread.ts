/**
 * Thread entries as the contract describes them: one query for the entries, one round trip for their files
 * (and the bodies osTicket moved into files).
 */
import { create } from "@bufbuild/protobuf";
import type { BatchRead, EntityManager, Statement } from "@ostmesh/db";
import { longBodies, longBodyFiles, query, queryBatch, runBatchRead } from "@ostmesh/db";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import {
  AttachmentSummarySchema,
  type ThreadEntry,
  ThreadEntrySchema,
  type ThreadEntryType,
} from "@ostmesh/proto/gen/osticket/ticket/v1/ticket_pb.js";
import { entryTypeColumn, entryTypeOf, formatOf, sourceOf } from "../mapping.ts";
import { isRecord, marks, num, parseJson, type Row, str, strOrNull, timestamp } from "../rows.ts";

/** ost_thread_entry.flags bit HIDDEN (an entry replaced by an edit). */
export const ENTRY_HIDDEN = 0x004;

const ENTRY_COLUMNS =
  "e.id, e.pid, e.thread_id, e.staff_id, e.user_id, e.type, e.flags, e.poster, e.editor, e.editor_type," +
  " e.source, e.title, e.body, e.format, e.ip_address, e.recipients," +
  " UNIX_TIMESTAMP(e.created) AS created, UNIX_TIMESTAMP(e.updated) AS updated," +
  " s.username AS staff_username, ue.address AS user_email," +
  " es.firstname AS editor_firstname, es.lastname AS editor_lastname, es.username AS editor_username," +
  " eu.name AS editor_user_name";

const ENTRY_JOINS =
  " LEFT JOIN ost_staff s ON s.staff_id = e.staff_id" +
  " LEFT JOIN ost_user u ON u.id = e.user_id LEFT JOIN ost_user_email ue ON ue.id = u.default_email_id" +
  " LEFT JOIN ost_staff es ON e.editor_type = 'S' AND es.staff_id = e.editor" +
  " LEFT JOIN ost_user eu ON e.editor_type = 'U' AND eu.id = e.editor";

export interface EntryQuery {
  readonly threadId: number;
  /** Entry types to return; empty = all. */
  readonly types: readonly ThreadEntryType[];
  readonly includeHidden: boolean;
  /** Only entries after this one in the thread's order (keyset). */
  readonly after: EntryPosition | undefined;
  readonly limit: number;
}

/** Where an entry stands in its thread's order: its group, its creation time as stored, its id. */
export interface EntryPosition {
  readonly group: number;
  readonly created: string;
  readonly id: number;
}

/**
 * The group of an entry in the order osTicket shows a thread (ThreadEntry::sortEntries). Only a ticket's own
 * thread ('T') whose ticket merged with separate threads (flag SEPARATE_THREADS without COMBINE_THREADS)
 * has more than one: its own entries first, then the entries a merge moved in, child thread by child
 * thread, the highest child thread id first (the `thread` of the entry's ost_thread_entry_merge data).
 * Everything else is one group.
 */
const ENTRY_GROUP =
  "IF(mode.separate = 1, COALESCE(4294967296 - NULLIF((SELECT CAST(JSON_VALUE(mg.data, '$.thread') AS UNSIGNED)" +
  " FROM ost_thread_entry_merge mg WHERE mg.thread_entry_id = e.id ORDER BY mg.id LIMIT 1), 0), 0), 0)";

const THREAD_MODE =
  " JOIN (SELECT IF(th.object_type = 'T' AND (t.flags & 3) = 2, 1, 0) AS separate FROM ost_thread th" +
  " LEFT JOIN ost_ticket t ON t.ticket_id = th.object_id WHERE th.id = ?) mode";

/**
 * One page of a thread's entries in the order osTicket's staff panel and client portal show them: by
 * creation time, then id (ThreadEntry's default ordering, so an edited entry keeps its original's place),
 * a separate-threads merge parent's children's entries after its own (ENTRY_GROUP).
 */
export async function listEntries(
  em: EntityManager,
  q: EntryQuery,
): Promise<{ entry: ThreadEntry; position: EntryPosition }[]> {
  const where = ["e.thread_id = ?"];
  const params: unknown[] = [q.threadId, q.threadId];
  if (q.after) {
    where.push(
      `(${ENTRY_GROUP} > ? OR (${ENTRY_GROUP} = ? AND (e.created > ? OR (e.created = ? AND e.id > ?))))`,
    );
    params.push(q.after.group, q.after.group, q.after.created, q.after.created, q.after.id);
  }
  if (q.types.length > 0) {
    const letters = q.types.map(entryTypeColumn).filter((t): t is string => t !== undefined);
    if (letters.length === 0) return [];
    where.push(`e.type IN (${marks(letters.length)})`);
    params.push(...letters);
  }
  if (!q.includeHidden) where.push(`(e.flags & ${ENTRY_HIDDEN}) = 0`);
  const rows = await query(
    em,
    `SELECT ${ENTRY_COLUMNS}, ${ENTRY_GROUP} AS entry_group, CAST(e.created AS CHAR) AS created_at` +
      ` FROM ost_thread_entry e${THREAD_MODE}${ENTRY_JOINS} WHERE ${where.join(" AND ")}` +
      " ORDER BY entry_group, e.created, e.id LIMIT ?",
    [...params, q.limit],
  );
  const entries = await withAttachments(em, rows.map(entryOf));
  return entries.map((entry, i) => {
    const row = rows[i] ?? {};
    return {
      entry,
      position: { group: num(row, "entry_group"), created: str(row, "created_at"), id: entry.id },
    };
  });
}

/** Entries by id (e.g. the one an action just posted); the map holds those that exist. */
export async function loadEntries(
  em: EntityManager,
  ids: readonly number[],
): Promise<Map<number, ThreadEntry>> {
  return runBatchRead(em, entriesRead(ids));
}

/** loadEntries as statements for one round trip (with others): the entries and their attachments. */
export function entriesRead(ids: readonly number[]): BatchRead<Map<number, ThreadEntry>> {
  const unique = [...new Set(ids.filter((id) => id > 0))];
  if (unique.length === 0) return { statements: [], read: () => new Map() };
  return {
    statements: [
      {
        sql: `SELECT ${ENTRY_COLUMNS} FROM ost_thread_entry e${ENTRY_JOINS} WHERE e.id IN (${marks(unique.length)})`,
        params: unique,
      },
      attachmentsOf(unique),
      longBodyFiles(unique),
    ],
    read([rows = [], files = [], bodyChunks = []]) {
      const entries = applyBodyFiles(applyAttachments(rows.map(entryOf), files), bodyChunks);
      return new Map(entries.map((e) => [e.id, e]));
    },
  };
}

function entryOf(r: Row): ThreadEntry {
  const staffId = num(r, "staff_id");
  const userId = num(r, "user_id");
  const poster = str(r, "poster");
  const author = staffId
    ? { kind: PrincipalKind.AGENT, id: staffId, displayName: poster, username: str(r, "staff_username") }
    : userId
      ? { kind: PrincipalKind.END_USER, id: userId, displayName: poster, username: str(r, "user_email") }
      : { kind: PrincipalKind.SYSTEM, id: 0, displayName: poster || "SYSTEM", username: "SYSTEM" };
  const editorId = num(r, "editor");
  const editorType = str(r, "editor_type");
  const editor =
    editorId && editorType === "S"
      ? {
          kind: PrincipalKind.AGENT,
          id: editorId,
          displayName: `${str(r, "editor_firstname")} ${str(r, "editor_lastname")}`.trim(),
          username: str(r, "editor_username"),
        }
      : editorId && editorType === "U"
        ? {
            kind: PrincipalKind.END_USER,
            id: editorId,
            displayName: str(r, "editor_user_name"),
            username: "",
          }
        : undefined;
  const body = strOrNull(r, "body");
  return create(ThreadEntrySchema, {
    id: num(r, "id"),
    pid: num(r, "pid"),
    threadId: num(r, "thread_id"),
    type: entryTypeOf(str(r, "type")),
    poster,
    staffId,
    userId,
    title: str(r, "title"),
    body: body ?? "",
    format: formatOf(str(r, "format")),
    source: sourceOf(str(r, "source")),
    flags: num(r, "flags"),
    ipAddress: str(r, "ip_address"),
    createdAt: timestamp(r, "created"),
    updatedAt: timestamp(r, "updated"),
    author,
    editor,
    // Bodies of 65,000+ characters live in an attached text file; the column is then NULL or empty, and
    // applyBodyFiles reads the body back from the file.
    bodyInAttachment: body === null || body === "",
    recipients: recipientsOf(strOrNull(r, "recipients")),
  });
}

function recipientsOf(text: string | null): { to: string[]; cc: string[] } | undefined {
  const parsed = parseJson(text);
  if (!isRecord(parsed)) return undefined;
  const list = (value: unknown): string[] => {
    if (!Array.isArray(value) && !isRecord(value)) return [];
    return Object.values(value).flatMap((v) => {
      if (typeof v === "string") return [v];
      if (isRecord(v)) {
        const address =
          typeof v.email === "string" ? v.email : typeof v.address === "string" ? v.address : "";
        const name = typeof v.name === "string" ? v.name : "";
        if (!address) return [];
        return [name ? `${name} <${address}>` : address];
      }
      return [];
    });
  };
  return { to: list(parsed.to), cc: list(parsed.cc) };
}

async function withAttachments(em: EntityManager, entries: ThreadEntry[]): Promise<ThreadEntry[]> {
  if (entries.length === 0) return entries;
  const ids = entries.map((e) => e.id);
  const [files = [], bodyChunks = []] = await queryBatch(em, [attachmentsOf(ids), longBodyFiles(ids)]);
  return applyBodyFiles(applyAttachments(entries, files), bodyChunks);
}

/** Sets the bodies osTicket keeps in files (`longBodyFiles`' rows) on their entries. */
function applyBodyFiles(entries: ThreadEntry[], chunks: readonly Row[]): ThreadEntry[] {
  const bodies = longBodies(chunks);
  for (const entry of entries) {
    const body = bodies.get(entry.id);
    if (body !== undefined) entry.body = body;
  }
  return entries;
}

/** The attachments of thread entries, by entry id. */
function attachmentsOf(entryIds: readonly number[]): Statement {
  return {
    sql:
      "SELECT a.id, a.object_id, a.file_id, a.name, a.inline, f.name AS file_name, f.type, f.size" +
      " FROM ost_attachment a LEFT JOIN ost_file f ON f.id = a.file_id" +
      ` WHERE a.type = 'H' AND a.object_id IN (${marks(entryIds.length)}) ORDER BY a.id`,
    params: entryIds,
  };
}

function applyAttachments(entries: ThreadEntry[], files: readonly Row[]): ThreadEntry[] {
  const byId = new Map(entries.map((e) => [e.id, e]));
  const withFiles = new Set<number>();
  for (const f of files) {
    const entry = byId.get(num(f, "object_id"));
    if (!entry) continue;
    withFiles.add(entry.id);
    entry.attachments.push(
      create(AttachmentSummarySchema, {
        attachmentId: num(f, "id"),
        fileId: num(f, "file_id"),
        name: str(f, "name") || str(f, "file_name"),
        type: str(f, "type"),
        size: BigInt(Math.trunc(num(f, "size"))),
        inline: num(f, "inline") !== 0,
      }),
    );
  }
  for (const entry of entries) if (!withFiles.has(entry.id)) entry.bodyInAttachment = false;
  return entries;
}
