import { describe, expect, it } from "vitest";
import { ExpiredDownloadLinkError, MalformedDownloadLinkError, TamperedDownloadLinkError } from "./errors.ts";
import { DownloadLinkSigner, downloadLinkSignerFromEnv } from "./signer.ts";

const SECRET = "s".repeat(32);
const OLD_SECRET = "o".repeat(40);
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

function signerAt(nowMs: number, options: { secret?: string; previous?: string[] } = {}) {
  return new DownloadLinkSigner({
    secret: options.secret ?? SECRET,
    previousSecrets: options.previous ?? [],
    now: () => nowMs,
  });
}

function swapChar(s: string, index: number): string {
  const c = s[index] === "A" ? "B" : "A";
  return s.slice(0, index) + c + s.slice(index + 1);
}

describe("DownloadLinkSigner", () => {
  it("signs a URL-safe token that verifies to its claims", () => {
    const token = signerAt(T0).sign({
      fileId: 9,
      key: "-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs",
      ttlSeconds: 300,
      disposition: "inline",
    });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(encodeURIComponent(token)).toBe(token);
    expect(signerAt(T0 + 1000).verify(token)).toEqual({
      fileId: 9,
      key: "-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs",
      expiresAt: T0 / 1000 + 300,
      disposition: "inline",
    });
    const plain = signerAt(T0).sign({
      fileId: 1,
      key: "b56944cb4722cc5cda9d1e23a3ea7fbc",
      expiresAt: T0 / 1000 + 60,
    });
    expect(signerAt(T0).verify(plain)).toMatchObject({
      fileId: 1,
      disposition: null,
      expiresAt: T0 / 1000 + 60,
    });
  });

  it("refuses an expired token, from its expiry second on", () => {
    const token = signerAt(T0).sign({ fileId: 9, key: "k", ttlSeconds: 60 });
    expect(signerAt(T0 + 59_999).verify(token).fileId).toBe(9);
    const error = (() => {
      try {
        signerAt(T0 + 60_000).verify(token);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ExpiredDownloadLinkError);
    expect(error).toMatchObject({ code: "link_expired", expiresAt: T0 / 1000 + 60 });
  });

  it("refuses tampered payloads and signatures as tampered, not expired", () => {
    const signer = signerAt(T0);
    const token = signer.sign({ fileId: 9, key: "key", ttlSeconds: 60, disposition: "attachment" });
    const [payload, mac] = token.split(".") as [string, string];
    // Another file id, a later expiry or another disposition, re-encoded properly.
    const decoded = Buffer.from(payload, "base64url").toString();
    for (const forged of [
      decoded.replace("\n9\n", "\n10\n"),
      decoded.replace(String(T0 / 1000 + 60), String(T0 / 1000 + 999_999)),
      decoded.replace("attachment", "inline"),
    ]) {
      expect(forged).not.toBe(decoded);
      const forgedToken = `${Buffer.from(forged).toString("base64url")}.${mac}`;
      expect(() => signer.verify(forgedToken)).toThrow(TamperedDownloadLinkError);
      // Even long after expiry a forgery is reported as such.
      expect(() => signerAt(T0 + 10_000_000).verify(forgedToken)).toThrow(TamperedDownloadLinkError);
    }
    expect(() => signer.verify(`${payload}.${swapChar(mac, 5)}`)).toThrow(TamperedDownloadLinkError);
    expect(() => signer.verify(`${swapChar(payload, 3)}.${mac}`)).toThrow(TamperedDownloadLinkError);
    // Signed with another secret.
    expect(() => signerAt(T0, { secret: "x".repeat(32) }).verify(token)).toThrow(TamperedDownloadLinkError);
  });

  it("refuses malformed tokens", () => {
    const signer = signerAt(T0);
    const token = signer.sign({ fileId: 9, key: "key", ttlSeconds: 60 });
    const [payload, mac] = token.split(".") as [string, string];
    for (const bad of [
      "",
      "abc",
      `${token}.x`,
      `${payload}.`,
      `.${mac}`,
      `${payload}.${mac.slice(0, 20)}`,
      `${payload}!.${mac}`,
    ]) {
      expect(() => signer.verify(bad), bad).toThrow(MalformedDownloadLinkError);
    }
  });

  it("verifies tokens signed with a previous secret after rotation, and stops when it is dropped", () => {
    const before = signerAt(T0, { secret: OLD_SECRET });
    const token = before.sign({ fileId: 3, key: "k3", ttlSeconds: 600 });
    const rotated = signerAt(T0, { secret: SECRET, previous: [OLD_SECRET] });
    expect(rotated.verify(token).fileId).toBe(3);
    // New tokens are signed with the new secret only.
    const fresh = rotated.sign({ fileId: 4, key: "k4", ttlSeconds: 600 });
    expect(() => before.verify(fresh)).toThrow(TamperedDownloadLinkError);
    expect(signerAt(T0).verify(fresh).fileId).toBe(4);
    expect(() => signerAt(T0).verify(token)).toThrow(TamperedDownloadLinkError);
  });

  it("refuses weak secrets and bad sign input", () => {
    expect(() => new DownloadLinkSigner({ secret: "short" })).toThrow(/at least 32 bytes/);
    expect(() => new DownloadLinkSigner({ secret: SECRET, previousSecrets: ["short"] })).toThrow(
      /previousSecrets\[0\]/,
    );
    const signer = signerAt(T0);
    expect(() => signer.sign({ fileId: 0, key: "k", ttlSeconds: 1 })).toThrow(RangeError);
    expect(() => signer.sign({ fileId: 1, key: "", ttlSeconds: 1 })).toThrow(RangeError);
    expect(() => signer.sign({ fileId: 1, key: "a\nb", ttlSeconds: 1 })).toThrow(RangeError);
    expect(() => signer.sign({ fileId: 1, key: "k" })).toThrow(/ttlSeconds/);
    expect(() => signer.sign({ fileId: 1, key: "k", ttlSeconds: 0 })).toThrow(/ttlSeconds/);
    expect(() => signer.sign({ fileId: 1, key: "k", ttlSeconds: 1, expiresAt: 5 })).toThrow(/not both/);
    expect(() => signer.sign({ fileId: 1, key: "k", expiresAt: 1.5 })).toThrow(/unix seconds/);
    // @ts-expect-error: an unknown disposition
    expect(() => signer.sign({ fileId: 1, key: "k", ttlSeconds: 1, disposition: "evil" })).toThrow(
      /disposition/,
    );
  });

  it("is configured from the environment", () => {
    expect(() => downloadLinkSignerFromEnv({})).toThrow(/ATTACHMENT_LINK_SECRET/);
    const old = downloadLinkSignerFromEnv({ ATTACHMENT_LINK_SECRET: OLD_SECRET });
    const token = old.sign({ fileId: 1, key: "k", ttlSeconds: 60 });
    const current = downloadLinkSignerFromEnv({
      ATTACHMENT_LINK_SECRET: SECRET,
      ATTACHMENT_LINK_PREVIOUS_SECRETS: ` ${"z".repeat(32)}, ${OLD_SECRET} ,`,
    });
    expect(current.verify(token).fileId).toBe(1);
  });

  it("signs and verifies links whose parts travel separately (key, expiry, disposition, signature)", () => {
    const key = "-Pi5ku6OHcuadwdVvM755vKJBRwX0iCs";
    const { expiresAt, signature } = signerAt(T0).signLink({ key, ttlSeconds: 300, disposition: "inline" });
    expect(expiresAt).toBe(T0 / 1000 + 300);
    expect(signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const link = { key, expiresAt, disposition: "inline" as const, signature };
    expect(() => signerAt(T0 + 299_999).verifyLink(link)).not.toThrow();
    // Expired from its expiry second on.
    expect(() => signerAt(T0 + 300_000).verifyLink(link)).toThrow(ExpiredDownloadLinkError);
    // Any part changed: tampered, even once expired.
    for (const forged of [
      { ...link, key: `${key.slice(0, -1)}t` },
      { ...link, expiresAt: expiresAt + 3600 },
      { ...link, disposition: "attachment" as const },
      { ...link, signature: swapChar(signature, 7) },
    ]) {
      expect(() => signerAt(T0).verifyLink(forged)).toThrow(TamperedDownloadLinkError);
      expect(() => signerAt(T0 + 10_000_000).verifyLink(forged)).toThrow(TamperedDownloadLinkError);
    }
    // Another secret, and rotation.
    expect(() => signerAt(T0, { secret: "x".repeat(32) }).verifyLink(link)).toThrow(
      TamperedDownloadLinkError,
    );
    expect(() => signerAt(T0, { secret: OLD_SECRET, previous: [SECRET] }).verifyLink(link)).not.toThrow();
    // A token's MAC over the same values never passes as a link signature, nor the other way round.
    const token = signerAt(T0).sign({ fileId: 1, key, expiresAt, disposition: "inline" });
    const tokenMac = token.split(".")[1] ?? "";
    expect(() => signerAt(T0).verifyLink({ ...link, signature: tokenMac })).toThrow(
      TamperedDownloadLinkError,
    );
  });

  it("refuses malformed link parts and bad sign input", () => {
    const signer = signerAt(T0);
    const { expiresAt, signature } = signer.signLink({ key: "k", ttlSeconds: 60, disposition: "attachment" });
    const link = { key: "k", expiresAt, disposition: "attachment" as const, signature };
    for (const bad of [
      { ...link, signature: "" },
      { ...link, signature: `${signature}!` },
      { ...link, signature: signature.slice(0, 20) },
      { ...link, expiresAt: 0 },
      { ...link, expiresAt: 1.5 },
      { ...link, key: "" },
      { ...link, key: "a\nb" },
      { ...link, key: "k".repeat(87) },
    ]) {
      expect(() => signer.verifyLink(bad), JSON.stringify(bad)).toThrow(MalformedDownloadLinkError);
    }
    // @ts-expect-error: an unknown disposition
    expect(() => signer.verifyLink({ ...link, disposition: "evil" })).toThrow(MalformedDownloadLinkError);
    expect(() => signer.signLink({ key: "", ttlSeconds: 1, disposition: "inline" })).toThrow(RangeError);
    expect(() => signer.signLink({ key: "k", ttlSeconds: 0, disposition: "inline" })).toThrow(/ttlSeconds/);
    // @ts-expect-error: an unknown disposition
    expect(() => signer.signLink({ key: "k", ttlSeconds: 1, disposition: "evil" })).toThrow(/disposition/);
  });
});
