import { Code, ConnectError } from "@connectrpc/connect";

/** The paging convention of every List RPC (osticket.common.v1): default 50, at most 200. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export function pageSize(requested: number): number {
  if (!Number.isInteger(requested) || requested < 0)
    throw new ConnectError("page_size: must not be negative", Code.InvalidArgument);
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(requested, MAX_PAGE_SIZE);
}

export interface AttachmentCursor {
  entryId: number;
  attachmentId: number;
}

/**
 * Page tokens: the position after the last attachment of the page, bound to the listing it came from
 * (`target`, e.g. "ticket:5"). Opaque to clients; a token of another listing is INVALID_ARGUMENT. They
 * need no signature: a forged position only skips within the same, access-checked listing.
 */
export function encodePageToken(target: string, cursor: AttachmentCursor): string {
  return Buffer.from(JSON.stringify({ v: 1, t: target, e: cursor.entryId, a: cursor.attachmentId })).toString(
    "base64url",
  );
}

export function decodePageToken(target: string, token: string): AttachmentCursor | undefined {
  if (token === "") return undefined;
  const invalid = () => new ConnectError("page_token: not a token of this listing", Code.InvalidArgument);
  if (token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== "object" || parsed === null) throw invalid();
  const v: unknown = Reflect.get(parsed, "v");
  const t: unknown = Reflect.get(parsed, "t");
  const e: unknown = Reflect.get(parsed, "e");
  const a: unknown = Reflect.get(parsed, "a");
  if (v !== 1 || t !== target || !isId(e) || !isId(a)) throw invalid();
  return { entryId: e, attachmentId: a };
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}
