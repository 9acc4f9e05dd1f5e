export type DownloadLinkErrorCode = "link_malformed" | "link_tampered" | "link_expired";

/** A download link that must not be honoured. `code` tells why; the message never echoes the secret. */
export abstract class DownloadLinkError extends Error {
  abstract readonly code: DownloadLinkErrorCode;
}

/** Not a token this service issues (wrong shape, encoding or version). */
export class MalformedDownloadLinkError extends DownloadLinkError {
  override readonly code = "link_malformed";
  constructor(detail: string) {
    super(`download link is malformed: ${detail}`);
    this.name = "MalformedDownloadLinkError";
  }
}

/** Well-formed, but its signature matches neither the current nor a previous secret. */
export class TamperedDownloadLinkError extends DownloadLinkError {
  override readonly code = "link_tampered";
  constructor() {
    super("download link signature does not match");
    this.name = "TamperedDownloadLinkError";
  }
}

/** Genuine, but past its expiry. */
export class ExpiredDownloadLinkError extends DownloadLinkError {
  override readonly code = "link_expired";
  /** Unix seconds. */
  readonly expiresAt: number;
  constructor(expiresAt: number) {
    super(`download link expired at ${new Date(expiresAt * 1000).toISOString()}`);
    this.name = "ExpiredDownloadLinkError";
    this.expiresAt = expiresAt;
  }
}
