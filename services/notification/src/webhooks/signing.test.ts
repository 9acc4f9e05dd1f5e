import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  generateSecret,
  normalizeSecret,
  ostmeshSignatureHeader,
  secretKey,
  signatureHeader,
  verifyStandardWebhook,
} from "./signing.ts";

describe("Standard Webhooks signing", () => {
  // The example of the Standard Webhooks specification (msg id, timestamp, body, secret, signature).
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  const timestamp = 1614265330;
  const body = '{"test": 2432232314}';

  it("signs like the specification's example", () => {
    expect(signatureHeader([secret], id, timestamp, body)).toBe(
      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    );
    expect(
      verifyStandardWebhook(
        secret,
        { id, timestamp: String(timestamp), signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" },
        body,
        {
          nowSeconds: timestamp,
        },
      ),
    ).toEqual({ ok: true });
  });

  it("sends one signature per valid secret and each verifies; a tampered body, stale time or other secret does not", () => {
    const newer = generateSecret();
    const header = signatureHeader([newer, secret], id, timestamp, body);
    expect(header.split(" ")).toHaveLength(2);
    for (const s of [newer, secret])
      expect(
        verifyStandardWebhook(s, { id, timestamp: String(timestamp), signature: header }, body, {
          nowSeconds: timestamp,
        }),
      ).toEqual({
        ok: true,
      });
    const headers = { id, timestamp: String(timestamp), signature: header };
    expect(verifyStandardWebhook(secret, headers, `${body} `, { nowSeconds: timestamp }).ok).toBe(false);
    expect(verifyStandardWebhook(secret, headers, body, { nowSeconds: timestamp + 301 })).toEqual({
      ok: false,
      reason: "stale timestamp",
    });
    expect(verifyStandardWebhook(generateSecret(), headers, body, { nowSeconds: timestamp }).ok).toBe(false);
  });

  it("also writes the contract's Ostmesh-Signature (t=<ts>,v1=<hex HMAC of t.body> per secret)", () => {
    const header = ostmeshSignatureHeader([secret], timestamp, body);
    const expected = createHmac("sha256", secretKey(secret)).update(`${timestamp}.${body}`).digest("hex");
    expect(header).toBe(`t=${timestamp},v1=${expected}`);
  });

  it("accepts whsec_ secrets of 24+ bytes and plain secrets of 32+ characters, nothing shorter", () => {
    expect(generateSecret()).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(normalizeSecret(secret)).toBe(secret);
    expect(normalizeSecret("whsec_c2hvcnQ=")).toBeUndefined();
    expect(normalizeSecret("whsec_not base64!")).toBeUndefined();
    const plain = "a-plain-secret-of-thirty-two-chars!!";
    expect(secretKey(normalizeSecret(plain) ?? "").toString("utf8")).toBe(plain);
    expect(normalizeSecret("too short")).toBeUndefined();
    expect(normalizeSecret("thirty two characters with spaces")).toBeUndefined();
  });
});
