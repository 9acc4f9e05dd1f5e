import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hashPassword, hashScheme, phpassPortable, verifyPassword } from "./passwords.ts";

// The fresh install's admin (ost_staff.passwd of `ostadmin`), written by osTicket's own phpass/bcrypt.
const OSTICKET_ADMIN_HASH = "$2a$08$ifki.vZt9Wdt3ekasIio..bMIrHiR2AKZCgHJsrnJjrQWetSRORDS";

describe("osTicket password hashes", () => {
  it("verifies the hash osTicket wrote for the fresh install's admin", async () => {
    expect(await verifyPassword("Adm1nPass!", OSTICKET_ADMIN_HASH)).toEqual({
      ok: true,
      scheme: "bcrypt",
      upgrade: false,
    });
  });

  it("rejects wrong passwords, including near misses and the empty password", async () => {
    for (const wrong of ["adm1nPass!", "Adm1nPass", "Adm1nPass! ", ""]) {
      expect((await verifyPassword(wrong, OSTICKET_ADMIN_HASH)).ok).toBe(false);
    }
  });

  it("accepts $2y$ and $2b$ spellings of the same bcrypt hash", async () => {
    const body = OSTICKET_ADMIN_HASH.slice(4);
    expect((await verifyPassword("Adm1nPass!", `$2y$${body}`)).ok).toBe(true);
    expect((await verifyPassword("Adm1nPass!", `$2b$${body}`)).ok).toBe(true);
  });

  it("computes phpass portable hashes exactly (published test vectors)", () => {
    // openwall phpass test.php and passlib's documented example.
    expect(phpassPortable("test12345", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0")).toBe(
      "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0",
    );
    expect(phpassPortable("password", "$P$8ohUJ.1sdFw09/bMaAQPTGDNi2BIUt1")).toBe(
      "$P$8ohUJ.1sdFw09/bMaAQPTGDNi2BIUt1",
    );
  });

  it("verifies phpass hashes ($P$ and phpBB's $H$) and rejects wrong passwords", async () => {
    expect(await verifyPassword("test12345", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0")).toEqual({
      ok: true,
      scheme: "phpass",
      upgrade: false,
    });
    expect((await verifyPassword("test12345", "$H$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0")).ok).toBe(true);
    expect((await verifyPassword("test12346", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0")).ok).toBe(false);
  });

  it("refuses phpass settings with an out-of-range cost or short salt", () => {
    expect(phpassPortable("x", "$P$1IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0")).toBe("*");
    expect(phpassPortable("x", "$P$9IQR")).toBe("*");
    expect(phpassPortable("x", "$X$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0")).toBe("*");
  });

  it("accepts legacy MD5 once and asks for an upgrade", async () => {
    const md5 = createHash("md5").update("OldSecret1").digest("hex");
    expect(await verifyPassword("OldSecret1", md5)).toEqual({ ok: true, scheme: "md5", upgrade: true });
    expect(await verifyPassword("OldSecret1", md5.toUpperCase())).toMatchObject({ ok: true });
    expect((await verifyPassword("OldSecret2", md5)).ok).toBe(false);
    expect((await verifyPassword("", createHash("md5").update("").digest("hex"))).ok).toBe(false);
  });

  it("fails closed on empty, unknown or malformed stored values", async () => {
    for (const stored of [null, undefined, "", "*", "plaintext", "$2a$08$short", "$1$abc$def"]) {
      expect(await verifyPassword("anything", stored)).toMatchObject({ ok: false });
    }
    expect(hashScheme("$1$abc$def")).toBe("unknown");
  });

  it("writes $2y$ bcrypt hashes that verify", async () => {
    const hash = await hashPassword("N3w-Secret");
    expect(hash).toMatch(/^\$2y\$10\$[./A-Za-z0-9]{53}$/);
    expect((await verifyPassword("N3w-Secret", hash)).ok).toBe(true);
    expect((await verifyPassword("n3w-secret", hash)).ok).toBe(false);
  });
});
