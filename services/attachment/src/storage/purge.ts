import { InvalidArgumentError } from "./errors.ts";
import { type Db, int, run, selectRows } from "./sql.ts";

/** osTicket's cron keeps unattached files for a day: API files are stored before the ticket is validated. */
export const ORPHAN_MIN_AGE_SECONDS = 86_400;

export interface PurgeOrphanFilesOptions {
  /** Only files created more than this many seconds ago (default one day, osTicket's rule). */
  minAgeSeconds?: number;
  /** Files deleted per statement batch (default 100). */
  batchSize?: number;
  signal?: AbortSignal;
}

/**
 * Deletes attachment files (`ft = 'T'`) that no `ost_attachment` row references and that are older than
 * the minimum age, with their chunks and their uploaders (ostmesh_upload) — osTicket's cron rule
 * (FACTS §1.7). Logos and backdrops are kept. Each batch rechecks the rule while deleting, so a file attached
 * meanwhile is never removed. Uploader rows of files that are gone anyway (osTicket's own cron deletes
 * orphans without knowing ostmesh_upload) are swept at the end. Returns the number of files deleted.
 */
export async function purgeOrphanFiles(em: Db, options: PurgeOrphanFilesOptions = {}): Promise<number> {
  const minAge = options.minAgeSeconds ?? ORPHAN_MIN_AGE_SECONDS;
  const batchSize = options.batchSize ?? 100;
  if (!Number.isSafeInteger(minAge) || minAge < 0)
    throw new InvalidArgumentError("minAgeSeconds must be a non-negative integer");
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new InvalidArgumentError("batchSize must be a positive integer");
  const { signal } = options;
  let deleted = 0;
  let afterId = 0;
  for (;;) {
    signal?.throwIfAborted();
    const rows = await selectRows(
      em,
      "SELECT f.`id` FROM `ost_file` f LEFT JOIN `ost_attachment` a ON a.`file_id` = f.`id`" +
        " WHERE a.`id` IS NULL AND f.`ft` = 'T' AND f.`created` < NOW() - INTERVAL ? SECOND AND f.`id` > ?" +
        ` ORDER BY f.\`id\` LIMIT ${batchSize}`,
      [minAge, afterId],
      signal,
    );
    if (rows.length === 0) break;
    const ids = rows.map((row) => int(row.id, "ost_file.id"));
    afterId = ids[ids.length - 1] ?? afterId;
    await em.transactional(async (tx) => {
      const marks = ids.map(() => "?").join(", ");
      // The rule again, under row locks: a file attached since the SELECT above stays.
      const { affectedRows } = await run(
        tx,
        `DELETE f FROM \`ost_file\` f LEFT JOIN \`ost_attachment\` a ON a.\`file_id\` = f.\`id\`` +
          ` WHERE f.\`id\` IN (${marks}) AND a.\`id\` IS NULL AND f.\`ft\` = 'T'`,
        ids,
        signal,
      );
      // Chunks of files no longer present (deleted just now); a still-present file keeps its chunks.
      await run(
        tx,
        `DELETE c FROM \`ost_file_chunk\` c LEFT JOIN \`ost_file\` f ON f.\`id\` = c.\`file_id\`` +
          ` WHERE c.\`file_id\` IN (${marks}) AND f.\`id\` IS NULL`,
        ids,
        signal,
      );
      // Likewise the uploaders of the files deleted just now.
      await run(
        tx,
        `DELETE u FROM \`ostmesh_upload\` u LEFT JOIN \`ost_file\` f ON f.\`id\` = u.\`file_id\`` +
          ` WHERE u.\`file_id\` IN (${marks}) AND f.\`id\` IS NULL`,
        ids,
        signal,
      );
      deleted += affectedRows;
    });
    if (rows.length < batchSize) break;
  }
  await sweepUploaders(em, batchSize, signal);
  return deleted;
}

/**
 * Deletes ostmesh_upload rows whose file is gone (osTicket's own cron deletes orphans without knowing the
 * table), found by a plain read and deleted by key in batches, so uploads are never blocked for long.
 * Returns the number of rows deleted.
 */
async function sweepUploaders(em: Db, batchSize: number, signal?: AbortSignal): Promise<number> {
  let swept = 0;
  let afterId = 0;
  for (;;) {
    signal?.throwIfAborted();
    const rows = await selectRows(
      em,
      "SELECT DISTINCT u.`file_id` FROM `ostmesh_upload` u LEFT JOIN `ost_file` f ON f.`id` = u.`file_id`" +
        ` WHERE f.\`id\` IS NULL AND u.\`file_id\` > ? ORDER BY u.\`file_id\` LIMIT ${batchSize}`,
      [afterId],
      signal,
    );
    if (rows.length === 0) return swept;
    const ids = rows.map((row) => int(row.file_id, "ostmesh_upload.file_id"));
    afterId = ids[ids.length - 1] ?? afterId;
    const { affectedRows } = await run(
      em,
      `DELETE u FROM \`ostmesh_upload\` u LEFT JOIN \`ost_file\` f ON f.\`id\` = u.\`file_id\`` +
        ` WHERE u.\`file_id\` IN (${ids.map(() => "?").join(", ")}) AND f.\`id\` IS NULL`,
      ids,
      signal,
    );
    swept += affectedRows;
    if (rows.length < batchSize) return swept;
  }
}
