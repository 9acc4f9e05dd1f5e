import { createHash, type Hash, randomBytes } from "node:crypto";

/**
 * osTicket's file identity (FACTS §1.7): both values are URL-safe base64 (`+`→`-`, `/`→`_`, no `=`) of
 * binary digests of the stored bytes.
 * - `signature` = first 16 chars of b64(sha1(data)) + first 16 chars of b64(md5(data)): the content hash
 *   used for dedupe (with the size).
 * - `key` = first 5 chars of b64(sha1(<time-based seed>)) + b64(sha1(data)) (27 chars): the public
 *   download key, 32 chars. Its prefix makes it unguessable from the content alone.
 */

export function urlSafeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

export interface FileDigest {
  /** Bytes hashed. */
  size: number;
  sha1: Buffer;
  md5: Buffer;
}

/** sha1 and md5 of a byte stream, fed piece by piece. */
export class ContentHasher {
  #sha1: Hash = createHash("sha1");
  #md5: Hash = createHash("md5");
  #size = 0;
  #digest: FileDigest | undefined;

  update(bytes: Uint8Array): void {
    if (this.#digest) throw new Error("ContentHasher: update() after digest()");
    this.#sha1.update(bytes);
    this.#md5.update(bytes);
    this.#size += bytes.byteLength;
  }

  get size(): number {
    return this.#size;
  }

  digest(): FileDigest {
    this.#digest ??= { size: this.#size, sha1: this.#sha1.digest(), md5: this.#md5.digest() };
    return this.#digest;
  }
}

export function fileSignature(digest: Pick<FileDigest, "sha1" | "md5">): string {
  return urlSafeBase64(digest.sha1).slice(0, 16) + urlSafeBase64(digest.md5).slice(0, 16);
}

/**
 * osTicket seeds the prefix with PHP's `microtime()` string ("0.12345600 1700000000"); the same shape is
 * used here, with random bytes added so the prefix cannot be predicted from the upload time.
 */
export function fileKey(digest: Pick<FileDigest, "sha1">, seed: string = defaultKeySeed()): string {
  const prefix = urlSafeBase64(createHash("sha1").update(seed).digest()).slice(0, 5);
  return (prefix + urlSafeBase64(digest.sha1)).slice(0, 32);
}

function defaultKeySeed(): string {
  const nowMs = performance.timeOrigin + performance.now();
  const seconds = Math.floor(nowMs / 1000);
  const fraction = ((nowMs % 1000) / 1000).toFixed(8);
  return `${fraction} ${seconds} ${randomBytes(16).toString("hex")}`;
}

/** Hashes bytes already in memory. */
export function digestOf(bytes: Uint8Array): FileDigest {
  const hasher = new ContentHasher();
  hasher.update(bytes);
  return hasher.digest();
}
