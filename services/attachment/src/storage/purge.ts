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
 * the minimum age, with their chunks — osTicket's cron rule (FACTS §1.7). Logos and backdrops are kept.
 * Each batch rechecks the rule while deleting, so a file attached meanwhile is never removed. Returns the
 * number of files deleted.
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
    if (rows.length === 0) return deleted;
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
      deleted += affectedRows;
    });
    if (rows.length < batchSize) return deleted;
  }
}
