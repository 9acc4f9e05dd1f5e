import {
  type Db,
  type FileContent,
  FileNotFoundError,
  getFileInfo,
  openFileContent,
} from "../storage/index.ts";
import type { DownloadLinkClaims, DownloadLinkSigner } from "./signer.ts";

/**
 * Verifies a download token and opens the file it names. A file whose key changed since signing counts as
 * gone (FileNotFoundError), like a deleted one.
 */
export async function openDownloadLink(
  em: Db,
  signer: DownloadLinkSigner,
  token: string,
): Promise<{ claims: DownloadLinkClaims; content: FileContent }> {
  const claims = signer.verify(token);
  const info = await getFileInfo(em, claims.fileId);
  if (info.key !== claims.key) throw new FileNotFoundError({ id: claims.fileId });
  return { claims, content: openFileContent(em, info) };
}
