/**
 * Thread entry bodies osTicket keeps in files. ThreadEntry::create moves a body of 65,000 characters or
 * more out of `ost_thread_entry.body` (left empty) into an inline `text/html` (or `text/plain`) file
 * attached to the entry, and ThreadEntry::getBody reads it back from there. Every reader of entries (the
 * ticket service's reads, the notification service's e-mails) rebuilds such bodies with these two.
 */
import type { Row, Statement } from "./sql.ts";

/**
 * The files an entry's body is read from when its column is empty (NULL or ''): the entry's inline
 * `text/html` and `text/plain` files, in attachment order, with their bytes chunk by chunk (only files in
 * the database, `bk` 'D', have bytes here).
 */
export function longBodyFiles(entryIds: readonly number[]): Statement {
  const marks = entryIds.map(() => "?").join(", ");
  return {
    sql:
      "SELECT a.object_id, a.file_id, f.bk, f.size, c.filedata FROM ost_attachment a" +
      " JOIN ost_thread_entry e ON e.id = a.object_id AND (e.body IS NULL OR e.body = '')" +
      " JOIN ost_file f ON f.id = a.file_id AND f.type IN ('text/html', 'text/plain')" +
      " LEFT JOIN ost_file_chunk c ON f.bk = 'D' AND c.file_id = f.id" +
      ` WHERE a.type = 'H' AND a.inline = 1 AND a.object_id IN (${marks || "NULL"})` +
      " ORDER BY a.id, c.chunk_id",
    params: [...entryIds],
  };
}

/**
 * The bodies `longBodyFiles`' rows hold, by entry id: each entry's files one after the other. An entry with
 * a file outside the database, or whose chunks do not add up to its size, has none (its body cannot be
 * read here).
 */
export function longBodies(rows: readonly Row[]): Map<number, string> {
  const files = new Map<number, Map<number, { readable: boolean; size: number; parts: Buffer[] }>>();
  for (const row of rows) {
    const entryId = Number(row.object_id);
    const byFile = files.get(entryId) ?? new Map();
    files.set(entryId, byFile);
    const fileId = Number(row.file_id);
    const file = byFile.get(fileId) ?? { readable: row.bk === "D", size: Number(row.size), parts: [] };
    byFile.set(fileId, file);
    const data = row.filedata;
    if (Buffer.isBuffer(data)) file.parts.push(data);
    else if (typeof data === "string") file.parts.push(Buffer.from(data, "utf8"));
  }
  const bodies = new Map<number, string>();
  for (const [entryId, byFile] of files) {
    const contents: Buffer[] = [];
    for (const file of byFile.values()) {
      const data = Buffer.concat(file.parts);
      if (!file.readable || data.length !== file.size) {
        contents.length = 0;
        break;
      }
      contents.push(data);
    }
    if (contents.length) bodies.set(entryId, Buffer.concat(contents).toString("utf8"));
  }
  return bodies;
}
