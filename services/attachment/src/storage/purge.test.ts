import { randomBytes } from "node:crypto";
import { runMigrations } from "@ostmesh/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachToEntry } from "./attach.ts";
import { InvalidArgumentError } from "./errors.ts";
import { findFile } from "./files.ts";
import { purgeOrphanFiles } from "./purge.ts";
import { run } from "./sql.ts";
import { type FilePurpose, storeFile } from "./store.ts";
import { countRows, openScratchStore, type ScratchStore } from "./testing.ts";
import { recordUploader } from "./uploads.ts";

let store: ScratchStore;

beforeAll(async () => {
  store = await openScratchStore("attpurge");
  // ostmesh_upload
  await runMigrations(store.orm);
});

afterAll(async () => {
  await store?.close();
});

async function fileAged(hours: number, purpose: FilePurpose = "T", size = 100): Promise<number> {
  const file = await storeFile(store.em(), {
    name: "f.bin",
    declaredType: "",
    source: randomBytes(size),
    maxBytes: 2_000_000,
    purpose,
  });
  await recordUploader(store.em(), file.id, file.key, { kind: "user", id: 7 });
  await recordUploader(store.em(), file.id, file.key, { kind: "agent", id: 7 });
  await run(store.em(), "UPDATE `ost_file` SET `created` = NOW() - INTERVAL ? HOUR WHERE `id` = ?", [
    hours,
    file.id,
  ]);
  return file.id;
}

describe("purgeOrphanFiles", () => {
  it("deletes unattached attachment files older than a day with their chunks, as osTicket's cron does", async () => {
    const orphanOld = await fileAged(25, "T", 700_000);
    const orphanYoung = await fileAged(23);
    const attachedOld = await fileAged(48);
    const logo = await fileAged(48, "L");
    const { insertId: entryId } = await run(
      store.em(),
      "INSERT INTO `ost_thread_entry` SET `created` = NOW(), `type` = 'M', `thread_id` = 1, `poster` = 'P', `body` = 'b'",
    );
    await attachToEntry(store.em(), { entryId, fileId: attachedOld, inline: false });
    // osTicket's own files of the fresh install (logos/backdrops or attached) are never touched.
    const before = await countRows(store.em(), "ost_file");

    const deleted = await purgeOrphanFiles(store.em(), { batchSize: 2 });
    expect(deleted).toBeGreaterThanOrEqual(1);
    expect(await findFile(store.em(), orphanOld)).toBeNull();
    expect(await countRows(store.em(), "ost_file_chunk", "`file_id` = ?", [orphanOld])).toBe(0);
    for (const kept of [orphanYoung, attachedOld, logo])
      expect(await findFile(store.em(), kept)).not.toBeNull();
    expect(await countRows(store.em(), "ost_file_chunk", "`file_id` = ?", [attachedOld])).toBe(1);
    expect(await countRows(store.em(), "ost_file")).toBe(before - deleted);
    // The purged file's uploaders go with it; files still stored keep theirs.
    expect(await countRows(store.em(), "ostmesh_upload", "`file_id` = ?", [orphanOld])).toBe(0);
    for (const kept of [orphanYoung, attachedOld, logo])
      expect(await countRows(store.em(), "ostmesh_upload", "`file_id` = ?", [kept])).toBe(2);

    // A shorter minimum age takes the younger orphan too; nothing is left to purge after that.
    expect(await purgeOrphanFiles(store.em(), { minAgeSeconds: 3600 })).toBe(1);
    expect(await findFile(store.em(), orphanYoung)).toBeNull();
    expect(await countRows(store.em(), "ostmesh_upload", "`file_id` = ?", [orphanYoung])).toBe(0);
    expect(await purgeOrphanFiles(store.em(), { minAgeSeconds: 3600 })).toBe(0);
  });

  it("sweeps uploaders of files deleted behind its back (osTicket's own cron), in batches", async () => {
    const gone = [await fileAged(1), await fileAged(1), await fileAged(1)];
    const kept = await fileAged(1);
    for (const id of gone) await run(store.em(), "DELETE FROM `ost_file` WHERE `id` = ?", [id]);
    expect(await countRows(store.em(), "ostmesh_upload", "`file_id` IN (?, ?, ?)", gone)).toBe(6);
    expect(await purgeOrphanFiles(store.em(), { batchSize: 2 })).toBe(0);
    expect(await countRows(store.em(), "ostmesh_upload", "`file_id` IN (?, ?, ?)", gone)).toBe(0);
    expect(await countRows(store.em(), "ostmesh_upload", "`file_id` = ?", [kept])).toBe(2);
  });

  it("records each uploader of a file once, refreshing the key of a row that outlived an earlier file", async () => {
    const fileId = await fileAged(0);
    const [file] = await store.em().execute("SELECT `key` FROM `ost_file` WHERE `id` = ?", [fileId]);
    await run(store.em(), "UPDATE `ostmesh_upload` SET `file_key` = 'stale' WHERE `file_id` = ?", [fileId]);
    await recordUploader(store.em(), fileId, String(file?.key), {
      kind: "user",
      id: 7,
      credentialId: "jti-1",
    });
    const rows = await store
      .em()
      .execute(
        "SELECT `principal_kind` k, `principal_id` i, `file_key` fk, `credential_id` c FROM `ostmesh_upload`" +
          " WHERE `file_id` = ? ORDER BY `principal_kind`",
        [fileId],
      );
    expect(rows.map((r) => `${r.k}:${r.i} ${r.fk === file?.key ? "key" : r.fk} ${r.c}`)).toEqual([
      "agent:7 stale ",
      "user:7 key jti-1",
    ]);
    await expect(recordUploader(store.em(), fileId, "k", { kind: "", id: 1 })).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it("refuses bad options and stops on an aborted signal", async () => {
    await expect(purgeOrphanFiles(store.em(), { minAgeSeconds: -1 })).rejects.toThrow(InvalidArgumentError);
    await expect(purgeOrphanFiles(store.em(), { batchSize: 0 })).rejects.toThrow(InvalidArgumentError);
    const orphan = await fileAged(30);
    await expect(purgeOrphanFiles(store.em(), { signal: AbortSignal.abort() })).rejects.toThrow();
    expect(await findFile(store.em(), orphan)).not.toBeNull();
  });
});
