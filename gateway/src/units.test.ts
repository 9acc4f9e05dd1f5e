/** Small pure pieces of the edge: client address rules, token buckets, key masking, PHP casts, data URLs. */
import { describe, expect, it } from "vitest";
import { ClientAddressResolver } from "./client-ip.ts";
import { parseDataUrl, phpBase64Decode } from "./legacy/data-url.ts";
import { floatString, phpBool, phpString } from "./legacy/php.ts";
import { maskApiKey } from "./legacy/syslog.ts";
import { RateLimiter } from "./rate-limit.ts";

describe("ClientAddressResolver (osTicket::get_client_ip)", () => {
  const resolver = new ClientAddressResolver(["10.0.0.0/8", "192.168.1.1"]);

  it("uses the socket's peer unless it is a trusted proxy", () => {
    expect(resolver.resolve("203.0.113.9", "1.2.3.4")).toBe("203.0.113.9");
    expect(resolver.resolve("::ffff:127.0.0.1", undefined)).toBe("127.0.0.1");
    expect(new ClientAddressResolver([]).resolve("10.1.1.1", "1.2.3.4")).toBe("10.1.1.1");
  });

  it("walks X-Forwarded-For from the right to the first untrusted hop, skipping invalid entries", () => {
    expect(resolver.resolve("10.1.1.1", "1.2.3.4, 198.51.100.7, 192.168.1.1")).toBe("198.51.100.7");
    expect(resolver.resolve("10.1.1.1", "1.2.3.4, garbage, 10.2.2.2")).toBe("1.2.3.4");
  });

  it("answers the left-most valid hop when every hop is trusted", () => {
    expect(resolver.resolve("10.1.1.1", "10.9.9.9, 192.168.1.1")).toBe("10.9.9.9");
  });
});

describe("RateLimiter", () => {
  it("lets a burst through, refills at the rate, and says when to retry", () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 2, burst: 2, now: () => now });
    expect(limiter.take("a")).toEqual({ allowed: true });
    expect(limiter.take("a")).toEqual({ allowed: true });
    expect(limiter.take("a")).toEqual({ allowed: false, retryAfterSec: 1 });
    expect(limiter.take("b")).toEqual({ allowed: true });
    now += 500;
    expect(limiter.take("a")).toEqual({ allowed: true });
    expect(limiter.take("a").allowed).toBe(false);
  });

  it("forgets the least recently used callers beyond its capacity", () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1, maxCallers: 2, now: () => 0 });
    limiter.take("a");
    limiter.take("b");
    limiter.take("c"); // evicts a
    expect(limiter.take("a")).toEqual({ allowed: true });
    expect(limiter.take("c").allowed).toBe(false);
  });

  it("is off at rate 0", () => {
    const limiter = new RateLimiter({ perSecond: 0, burst: 1 });
    for (let i = 0; i < 10; i++) expect(limiter.take("a").allowed).toBe(true);
  });
});

describe("maskApiKey", () => {
  it("keeps the first and last four characters of long keys, nothing of short ones", () => {
    expect(maskApiKey("A1B2C3D4E5F60718293A4B5C6D7E8F90")).toBe("A1B2********8F90");
    expect(maskApiKey("short-key")).toBe("********");
  });
});

describe("PHP casts", () => {
  it("(bool) and (string) as PHP does them", () => {
    expect(["false", "0.0", " ", "a"].map(phpBool)).toEqual([true, true, true, true]);
    expect(["", "0", null, false].map(phpBool)).toEqual([false, false, false, false]);
    expect(phpBool({ kind: "float", value: 0 })).toBe(false);
    expect(phpBool(new Map())).toBe(false);
    expect(phpString(true)).toBe("1");
    expect(phpString(false)).toBe("");
    expect(phpString({ kind: "float", value: 3 })).toBe("3");
    expect(phpString(new Map())).toBeUndefined();
    expect([0.1, 1e25, 1.5e-7, -2.5].map(floatString)).toEqual(["0.1", "1.0E+25", "1.5E-7", "-2.5"]);
  });
});

describe("data URLs and base64 as osTicket reads them", () => {
  const text = (s: string, latin1 = true) =>
    parseDataUrl(Buffer.from(s, "utf8"), latin1).data.toString("utf8");

  it("decodes base64 leniently, or strictly with PHP's failures", () => {
    expect(phpBase64Decode(Buffer.from("SGVs bG8=\n"))?.toString()).toBe("Hello");
    expect(phpBase64Decode(Buffer.from("SGV*sbG8"))?.toString()).toBe("Hello");
    expect(phpBase64Decode(Buffer.from("SGV*sbG8"), true)).toBeUndefined();
    expect(phpBase64Decode(Buffer.from("SGVsbG8=x"), true)).toBeUndefined();
    expect(phpBase64Decode(Buffer.from("SGVsbG8="), true)?.toString()).toBe("Hello");
  });

  it("reads every parameter from the whole parameter string", () => {
    expect(text("data:text/plain;base64,SGk=")).toBe("Hi");
    expect(text("data:text/plain;base64;charset=utf-8,SGk=")).toBe("SGk=");
    expect(text("data:text/plain;base64=x;y,U0drPQ==")).toBe("Hi"); // two parameters: decoded twice
    expect(text("data:,héllo")).toBe("hÃ©llo");
    expect(text("data:,héllo", false)).toBe("héllo");
    expect(parseDataUrl(Buffer.from("data:"), true).type).toBe("text/plain");
  });
});
