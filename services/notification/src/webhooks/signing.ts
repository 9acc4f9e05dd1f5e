import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): headers `webhook-id`, `webhook-timestamp`
 * (unix seconds) and `webhook-signature` = space-separated `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`,
 * one per valid secret (both during a rotation's overlap, newest first). Secrets are `whsec_<base64 key>`.
 */

const PREFIX = "whsec_";
/** Shortest key accepted for a secret given as `whsec_...` (Standard Webhooks asks for 24 to 64 bytes). */
const MIN_KEY_BYTES = 24;
/** Shortest plain secret a caller may choose (the contract's rule). */
export const MIN_SECRET_CHARS = 32;

/** A new random secret: 32 bytes of key. */
export function generateSecret(): string {
  return `${PREFIX}${randomBytes(32).toString("base64")}`;
}

/**
 * The stored form of a caller-chosen secret: `whsec_<base64>` as given (its key must be 24+ bytes), or any
 * other string of 32+ characters, whose UTF-8 bytes become the key. Undefined when it is not acceptable.
 */
export function normalizeSecret(secret: string): string | undefined {
  if (secret.startsWith(PREFIX)) {
    const encoded = secret.slice(PREFIX.length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return undefined;
    return Buffer.from(encoded, "base64").byteLength >= MIN_KEY_BYTES ? secret : undefined;
  }
  if (secret.length < MIN_SECRET_CHARS || /\s/.test(secret)) return undefined;
  return `${PREFIX}${Buffer.from(secret, "utf8").toString("base64")}`;
}

export function secretKey(secret: string): Buffer {
  return secret.startsWith(PREFIX)
    ? Buffer.from(secret.slice(PREFIX.length), "base64")
    : Buffer.from(secret, "utf8");
}

/** Last four characters, to tell secrets apart in listings. */
export function secretHint(secret: string): string {
  return secret.slice(-4);
}

function hmac(secret: string, content: string): Buffer {
  return createHmac("sha256", secretKey(secret)).update(content, "utf8").digest();
}

/** The `webhook-signature` value for the given secrets (newest first). */
export function signatureHeader(
  secrets: readonly string[],
  webhookId: string,
  timestampSeconds: number,
  body: string,
): string {
  const content = `${webhookId}.${timestampSeconds}.${body}`;
  return secrets.map((s) => `v1,${hmac(s, content).toString("base64")}`).join(" ");
}

/**
 * The contract's own header (notification_service.proto): `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>">`, one `v1=` per valid secret, newest first.
 */
export function ostmeshSignatureHeader(
  secrets: readonly string[],
  timestampSeconds: number,
  body: string,
): string {
  const content = `${timestampSeconds}.${body}`;
  return [`t=${timestampSeconds}`, ...secrets.map((s) => `v1=${hmac(s, content).toString("hex")}`)].join(",");
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * What a receiver does: checks the timestamp is within `toleranceSeconds` of now and that one of the
 * `v1,` signatures matches, in constant time.
 */
export function verifyStandardWebhook(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  options: { nowSeconds?: number; toleranceSeconds?: number } = {},
): VerifyResult {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp)) return { ok: false, reason: "bad timestamp" };
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? 300))
    return { ok: false, reason: "stale timestamp" };
  const expected = hmac(secret, `${headers.id}.${timestamp}.${body}`);
  for (const part of headers.signature.split(" ")) {
    const [version, value] = part.split(",", 2);
    if (version !== "v1" || !value) continue;
    const given = Buffer.from(value, "base64");
    if (given.byteLength === expected.byteLength && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: "no matching signature" };
}
