export {
  DownloadLinkError,
  type DownloadLinkErrorCode,
  ExpiredDownloadLinkError,
  MalformedDownloadLinkError,
  TamperedDownloadLinkError,
} from "./errors.ts";
export { openDownloadLink } from "./open.ts";
export {
  type Disposition,
  type DownloadLinkClaims,
  DownloadLinkSigner,
  type DownloadLinkSignerOptions,
  downloadLinkSignerFromEnv,
  MIN_SECRET_BYTES,
  type SignDownloadLinkInput,
} from "./signer.ts";
