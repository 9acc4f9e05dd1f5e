import { ConfigError } from "@ostmesh/kit";
import { describe, expect, it } from "vitest";
import { DEFAULT_UNARY_MAX_BYTES, loadAttachmentConfig } from "./config.ts";

const SECRET = "s".repeat(32);

describe("loadAttachmentConfig", () => {
  it("reads the link secrets and the unary upload cap", () => {
    const config = loadAttachmentConfig({
      ATTACHMENT_LINK_SECRET: SECRET,
      ATTACHMENT_LINK_PREVIOUS_SECRETS: ` ${"a".repeat(40)}, ${"b".repeat(32)} ,`,
      ATTACHMENT_UNARY_MAX_BYTES: "2MiB",
      ATTACHMENT_DB_POOL_MAX: "4",
    });
    expect(config).toEqual({
      linkSecret: SECRET,
      previousLinkSecrets: ["a".repeat(40), "b".repeat(32)],
      linkSecretGenerated: false,
      unaryMaxBytes: 2 * 1024 * 1024,
      dbPoolMax: 4,
    });
  });

  it("makes a random secret when none is set (development) and defaults the cap under the message limit", () => {
    const a = loadAttachmentConfig({});
    const b = loadAttachmentConfig({}, { maxMessageBytes: 1024 * 1024 });
    expect(a.linkSecretGenerated).toBe(true);
    expect(Buffer.byteLength(a.linkSecret)).toBeGreaterThanOrEqual(32);
    expect(a.linkSecret).not.toBe(b.linkSecret);
    expect(a.unaryMaxBytes).toBe(DEFAULT_UNARY_MAX_BYTES);
    expect(b.unaryMaxBytes).toBe(1024 * 1024 - 64 * 1024);
    expect(a.dbPoolMax).toBe(10);
  });

  it("names every bad variable at once without echoing a secret", () => {
    const error = (() => {
      try {
        loadAttachmentConfig(
          {
            ATTACHMENT_LINK_SECRET: "short-secret-value",
            ATTACHMENT_LINK_PREVIOUS_SECRETS: `${"a".repeat(32)},tiny-old-secret`,
            ATTACHMENT_UNARY_MAX_BYTES: "1GiB",
            ATTACHMENT_DB_POOL_MAX: "0",
          },
          { maxMessageBytes: 16 * 1024 * 1024 },
        );
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const message = error instanceof Error ? error.message : "";
    expect(message).toContain("ATTACHMENT_LINK_SECRET must be at least 32 bytes");
    expect(message).toContain("ATTACHMENT_LINK_PREVIOUS_SECRETS secret 2 must be at least 32 bytes");
    expect(message).toContain("ATTACHMENT_UNARY_MAX_BYTES must be at most");
    expect(message).toContain("ATTACHMENT_DB_POOL_MAX must be an integer 1..1000");
    expect(message).not.toContain("short-secret-value");
    expect(message).not.toContain("tiny-old-secret");
  });
});
