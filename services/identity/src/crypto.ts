import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";

/**
 * The identity service's secrets at rest, all derived from one key-encryption key (KEK): AES-256-GCM for
 * private signing keys and stored idempotent replies (which contain tokens), HMAC-SHA256 for values that
 * must be compared but never reversed (request fingerprints that include passwords or refresh tokens).
 * Subkeys are separated with HKDF so one purpose's output never serves another.
 */
export class SecretBox {
  readonly #encryptionKey: Buffer;
  readonly #macKey: Buffer;
  /** Whether the KEK came from configuration (false: generated for this process only). */
  readonly persistent: boolean;

  constructor(kek: Buffer | undefined) {
    this.persistent = kek !== undefined;
    const root = kek ?? randomBytes(32);
    if (root.length !== 32) throw new Error("the key-encryption key must be 32 bytes");
    this.#encryptionKey = Buffer.from(hkdfSync("sha256", root, "", "ostmesh identity encryption v1", 32));
    this.#macKey = Buffer.from(hkdfSync("sha256", root, "", "ostmesh identity mac v1", 32));
  }

  /** `v1.<iv>.<tag>.<ciphertext>` (base64url); `context` is bound as additional data (e.g. the kid). */
  seal(plaintext: Uint8Array, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#encryptionKey, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return ["v1", iv, cipher.getAuthTag(), body]
      .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
      .join(".");
  }

  /** The plaintext of `seal(…, context)`; throws when the box was sealed with another key or context. */
  open(sealed: string, context: string): Buffer {
    const [version, iv, tag, body, extra] = sealed.split(".");
    if (version !== "v1" || !iv || !tag || body === undefined || extra !== undefined)
      throw new Error("not a sealed value");
    const decipher = createDecipheriv("aes-256-gcm", this.#encryptionKey, Buffer.from(iv, "base64url"));
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]);
  }

  /** Hex HMAC-SHA256 of `data` under the MAC subkey. */
  mac(...parts: (string | Uint8Array)[]): string {
    const h = createHmac("sha256", this.#macKey);
    for (const part of parts) {
      const bytes = typeof part === "string" ? Buffer.from(part, "utf8") : part;
      // Length-prefix every part so ("ab","c") and ("a","bc") differ.
      h.update(Buffer.from(String(bytes.length).padStart(10, "0")));
      h.update(bytes);
    }
    return h.digest("hex");
  }
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A random opaque token: 32 bytes, base64url (43 characters). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}
