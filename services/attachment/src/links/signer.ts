import { createHmac, timingSafeEqual } from "node:crypto";
import { ExpiredDownloadLinkError, MalformedDownloadLinkError, TamperedDownloadLinkError } from "./errors.ts";

/**
 * Signed, expiring download links. A token is `<payload>.<mac>`, both URL-safe base64 without padding:
 * the payload names the file (id and key), the expiry (unix seconds) and optionally the disposition; the
 * mac is HMAC-SHA256 over a domain tag and the payload. Verification accepts the current secret and any
 * previous one, so secrets rotate without breaking links already handed out.
 */

export type Disposition = "inline" | "attachment";

export interface DownloadLinkClaims {
  fileId: number;
  /** `ost_file.key` at signing time: a link dies when the file it named is replaced. */
  key: string;
  /** Unix seconds; the link is refused from this second on. */
  expiresAt: number;
  disposition: Disposition | null;
}

export interface SignDownloadLinkInput {
  fileId: number;
  key: string;
  /** Either an absolute expiry (unix seconds) or a lifetime from now. */
  expiresAt?: number;
  ttlSeconds?: number;
  disposition?: Disposition;
}

export interface DownloadLinkSignerOptions {
  /** At least 32 bytes. */
  secret: string | Uint8Array;
  /** Secrets rotated out that still verify (not sign). */
  previousSecrets?: ReadonlyArray<string | Uint8Array>;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

export const MIN_SECRET_BYTES = 32;
const VERSION = "1";
const DOMAIN = "ostmesh.attachment.download-link";
const MAC_BYTES = 32;

export class DownloadLinkSigner {
  readonly #current: Buffer;
  readonly #all: readonly Buffer[];
  readonly #now: () => number;

  constructor(options: DownloadLinkSignerOptions) {
    this.#current = secretBytes(options.secret, "secret");
    this.#all = [
      this.#current,
      ...(options.previousSecrets ?? []).map((s, i) => secretBytes(s, `previousSecrets[${i}]`)),
    ];
    this.#now = options.now ?? Date.now;
  }

  sign(input: SignDownloadLinkInput): string {
    if (!Number.isSafeInteger(input.fileId) || input.fileId <= 0)
      throw new RangeError("fileId must be a positive integer");
    if (input.key === "" || input.key.length > 86 || /[\n\r]/.test(input.key))
      throw new RangeError("key is not a file key");
    const expiresAt = this.#expiry(input);
    const disposition = input.disposition ?? null;
    if (disposition !== null && disposition !== "inline" && disposition !== "attachment") {
      throw new RangeError("disposition must be inline or attachment");
    }
    const payload = [VERSION, String(input.fileId), input.key, String(expiresAt), disposition ?? ""].join(
      "\n",
    );
    const encoded = Buffer.from(payload, "utf8").toString("base64url");
    return `${encoded}.${mac(this.#current, encoded).toString("base64url")}`;
  }

  /** The claims of a genuine, unexpired token; otherwise a Malformed/Tampered/ExpiredDownloadLinkError. */
  verify(token: string): DownloadLinkClaims {
    const parts = token.split(".");
    const [encoded, givenMac] = parts;
    if (
      parts.length !== 2 ||
      !encoded ||
      !givenMac ||
      !BASE64URL.test(encoded) ||
      !BASE64URL.test(givenMac)
    ) {
      throw new MalformedDownloadLinkError("expected <payload>.<signature>");
    }
    const given = Buffer.from(givenMac, "base64url");
    if (given.byteLength !== MAC_BYTES)
      throw new MalformedDownloadLinkError("signature has the wrong length");
    // Every secret is tried, whatever matched, so timing does not tell which one did.
    let genuine = false;
    for (const secret of this.#all) genuine = timingSafeEqual(mac(secret, encoded), given) || genuine;
    if (!genuine) throw new TamperedDownloadLinkError();

    const claims = parsePayload(Buffer.from(encoded, "base64url").toString("utf8"));
    if (Math.floor(this.#now() / 1000) >= claims.expiresAt)
      throw new ExpiredDownloadLinkError(claims.expiresAt);
    return claims;
  }

  /**
   * The signature of a link whose parts travel separately, as the gateway's public URL carries them:
   * `/files/<key>?expires=<unix>&disposition=<inline|attachment>&signature=<signature>`. The MAC covers
   * the key, the expiry and the disposition (under its own domain tag, so it never verifies as a token).
   */
  signLink(input: Omit<SignDownloadLinkInput, "fileId" | "disposition"> & { disposition: Disposition }): {
    expiresAt: number;
    signature: string;
  } {
    checkKey(input.key);
    checkDisposition(input.disposition);
    const expiresAt = this.#expiry(input);
    const signature = linkMac(this.#current, input.key, expiresAt, input.disposition).toString("base64url");
    return { expiresAt, signature };
  }

  /**
   * Checks the parts of a link made by signLink: Malformed (not a signature of ours), Tampered (any part
   * changed, or an unknown secret) — both before the expiry is looked at — then Expired.
   */
  verifyLink(link: { key: string; expiresAt: number; disposition: Disposition; signature: string }): void {
    if (!BASE64URL.test(link.signature)) throw new MalformedDownloadLinkError("signature is not base64url");
    const given = Buffer.from(link.signature, "base64url");
    if (given.byteLength !== MAC_BYTES)
      throw new MalformedDownloadLinkError("signature has the wrong length");
    if (!Number.isSafeInteger(link.expiresAt) || link.expiresAt <= 0)
      throw new MalformedDownloadLinkError("expires is not unix seconds");
    if (link.key === "" || link.key.length > 86 || /[\n\r]/.test(link.key))
      throw new MalformedDownloadLinkError("key is not a file key");
    if (link.disposition !== "inline" && link.disposition !== "attachment")
      throw new MalformedDownloadLinkError("disposition must be inline or attachment");
    let genuine = false;
    for (const secret of this.#all) {
      genuine =
        timingSafeEqual(linkMac(secret, link.key, link.expiresAt, link.disposition), given) || genuine;
    }
    if (!genuine) throw new TamperedDownloadLinkError();
    if (Math.floor(this.#now() / 1000) >= link.expiresAt) throw new ExpiredDownloadLinkError(link.expiresAt);
  }

  #expiry(input: Pick<SignDownloadLinkInput, "expiresAt" | "ttlSeconds">): number {
    if (input.expiresAt !== undefined && input.ttlSeconds !== undefined) {
      throw new RangeError("give expiresAt or ttlSeconds, not both");
    }
    if (input.expiresAt !== undefined) {
      if (!Number.isSafeInteger(input.expiresAt) || input.expiresAt <= 0)
        throw new RangeError("expiresAt must be unix seconds");
      return input.expiresAt;
    }
    const ttl = input.ttlSeconds;
    if (ttl === undefined || !Number.isSafeInteger(ttl) || ttl <= 0) {
      throw new RangeError("ttlSeconds must be a positive integer");
    }
    return Math.floor(this.#now() / 1000) + ttl;
  }
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

const LINK_DOMAIN = "ostmesh.attachment.download-link.parts";

function linkMac(secret: Buffer, key: string, expiresAt: number, disposition: Disposition): Buffer {
  return createHmac("sha256", secret)
    .update(LINK_DOMAIN)
    .update("\n")
    .update([VERSION, key, String(expiresAt), disposition].join("\n"))
    .digest();
}

function checkKey(key: string): void {
  if (key === "" || key.length > 86 || /[\n\r]/.test(key)) throw new RangeError("key is not a file key");
}

function checkDisposition(disposition: unknown): void {
  if (disposition !== "inline" && disposition !== "attachment")
    throw new RangeError("disposition must be inline or attachment");
}

function mac(secret: Buffer, encodedPayload: string): Buffer {
  return createHmac("sha256", secret).update(DOMAIN).update("\n").update(encodedPayload).digest();
}

function secretBytes(secret: string | Uint8Array, what: string): Buffer {
  const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret);
  if (bytes.byteLength < MIN_SECRET_BYTES)
    throw new RangeError(`${what} must be at least ${MIN_SECRET_BYTES} bytes`);
  return bytes;
}

function parsePayload(payload: string): DownloadLinkClaims {
  // Only reached for payloads this service signed, so a bad shape means a bug or a leaked secret.
  const fields = payload.split("\n");
  const [version, fileId, key, expiresAt, disposition] = fields;
  if (fields.length !== 5 || version !== VERSION || fileId === undefined || key === undefined) {
    throw new MalformedDownloadLinkError("unknown payload version");
  }
  const id = Number(fileId);
  const expiry = Number(expiresAt);
  if (!Number.isSafeInteger(id) || id <= 0 || !Number.isSafeInteger(expiry)) {
    throw new MalformedDownloadLinkError("bad payload fields");
  }
  if (disposition !== "" && disposition !== "inline" && disposition !== "attachment") {
    throw new MalformedDownloadLinkError("bad disposition");
  }
  return { fileId: id, key, expiresAt: expiry, disposition: disposition === "" ? null : disposition };
}

/**
 * A signer from the environment: ATTACHMENT_LINK_SECRET (required, ≥32 bytes) and
 * ATTACHMENT_LINK_PREVIOUS_SECRETS (optional, comma-separated, still accepted while links signed with
 * them may be in use).
 */
export function downloadLinkSignerFromEnv(env: NodeJS.ProcessEnv = process.env): DownloadLinkSigner {
  const secret = env.ATTACHMENT_LINK_SECRET;
  if (!secret) throw new Error("ATTACHMENT_LINK_SECRET is not set");
  const previousSecrets = (env.ATTACHMENT_LINK_PREVIOUS_SECRETS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return new DownloadLinkSigner({ secret, previousSecrets });
}
