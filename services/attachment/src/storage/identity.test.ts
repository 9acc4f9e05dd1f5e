import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ContentHasher, digestOf, fileKey, fileSignature, urlSafeBase64 } from "./identity.ts";

// The file osTicket stored in traces/api-create-ticket.full.log (ost_file id 9).
const TRACE_BYTES = Buffer.from("unique trace attachment 7f3a");
const TRACE_SIGNATURE = "u6OHcuadwdVvM755JAcFvj2DzAGATWKE";
const TRACE_KEY = "-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs";

describe("file identity", () => {
  it("reproduces the signature osTicket wrote for the trace's attachment", () => {
    expect(TRACE_BYTES.byteLength).toBe(28);
    expect(fileSignature(digestOf(TRACE_BYTES))).toBe(TRACE_SIGNATURE);
  });

  it("builds the key from a 5-char seed prefix and the 27-char sha1 of the content", () => {
    const key = fileKey(digestOf(TRACE_BYTES));
    expect(key).toHaveLength(32);
    expect(key.slice(5)).toBe(TRACE_KEY.slice(5));
    expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it("derives the prefix as sha1 of the seed, like osTicket's microtime() seed", () => {
    const seed = "0.52147300 1795677687";
    const expectedPrefix = createHash("sha1").update(seed).digest("base64url").slice(0, 5);
    expect(fileKey(digestOf(TRACE_BYTES), seed)).toBe(expectedPrefix + TRACE_KEY.slice(5));
  });

  it("gives different keys to two stores of the same bytes (unpredictable prefix)", () => {
    const digest = digestOf(TRACE_BYTES);
    const keys = new Set(Array.from({ length: 20 }, () => fileKey(digest)));
    expect(keys.size).toBeGreaterThan(15);
  });

  it("hashes incrementally to the same digest as in one piece", () => {
    const data = Buffer.alloc(1_300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    const hasher = new ContentHasher();
    for (let offset = 0; offset < data.length; offset += 65_537)
      hasher.update(data.subarray(offset, offset + 65_537));
    const streamed = hasher.digest();
    const whole = digestOf(data);
    expect(streamed.size).toBe(1_300_000);
    expect(streamed.sha1.equals(whole.sha1)).toBe(true);
    expect(fileSignature(streamed)).toBe(fileSignature(whole));
    expect(() => hasher.update(data)).toThrow(/after digest/);
  });

  it("uses URL-safe base64 without padding", () => {
    expect(urlSafeBase64(Uint8Array.from([0xfb, 0xff, 0xfe]))).toBe("-__-");
    expect(urlSafeBase64(Uint8Array.from([0xff]))).toBe("_w");
  });
});
