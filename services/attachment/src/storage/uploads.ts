import { InvalidArgumentError } from "./errors.ts";
import { assertId } from "./files.ts";
import { type Db, run } from "./sql.ts";

/** Who uploaded a file, as ostmesh_upload names them (see the auth module's uploaderOf). */
export interface UploaderRecord {
  /** `agent`, `user`, `apikey:osticket`, `apikey:ostmesh`, `service` or `system`. */
  kind: string;
  /** ost_staff.staff_id, ost_user.id or the key's id; 0 for services and the system. */
  id: number;
  /** The token id (or key id) the upload came with; kept for audits only. */
  credentialId?: string;
}

const MAX_KIND_LENGTH = 16;
const MAX_CREDENTIAL_LENGTH = 128;

/**
 * Records that `uploader` stored the file `fileId` (whose ost_file.key is `fileKey`): until the file is
 * attached to something, only its uploaders (and services) may link it. Call it in the upload's own
 * transaction, so the row commits or rolls back with the file. A deduplicated upload adds its uploader to
 * the existing file; the same uploader again refreshes its row (and its key, should the row have outlived
 * an earlier file of the same id).
 */
export async function recordUploader(
  em: Db,
  fileId: number,
  fileKey: string,
  uploader: UploaderRecord,
  signal?: AbortSignal,
): Promise<void> {
  assertId(fileId, "fileId");
  if (uploader.kind === "" || uploader.kind.length > MAX_KIND_LENGTH)
    throw new InvalidArgumentError(`uploader kind must be 1 to ${MAX_KIND_LENGTH} characters`);
  if (!Number.isSafeInteger(uploader.id) || uploader.id < 0)
    throw new InvalidArgumentError("uploader id must be a non-negative integer");
  await run(
    em,
    "INSERT INTO `ostmesh_upload` (`file_id`, `principal_kind`, `principal_id`, `file_key`, `credential_id`)" +
      " VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE `file_key` = VALUES(`file_key`)," +
      " `credential_id` = VALUES(`credential_id`), `created_at` = CURRENT_TIMESTAMP(6)",
    [
      fileId,
      uploader.kind,
      uploader.id,
      fileKey,
      (uploader.credentialId ?? "").slice(0, MAX_CREDENTIAL_LENGTH),
    ],
    signal,
  );
}
