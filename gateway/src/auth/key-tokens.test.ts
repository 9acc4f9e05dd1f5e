import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ApiKeyPurpose } from "@ostmesh/proto/gen/osticket/identity/v1/identity_service_pb.js";
import { describe, expect, it } from "vitest";
import { BoundKeyTokens, reusableUntilMs } from "./key-tokens.ts";

const CREATE = ApiKeyPurpose.CREATE_TICKETS;
const CRON = ApiKeyPurpose.EXEC_CRON;

describe("bound key tokens kept by the gateway", () => {
  it("keeps a token per key as sent, client address and purpose until its time is up", () => {
    let now = 1_000;
    const tokens = new BoundKeyTokens({ now: () => now });
    tokens.remember("KEY", "10.0.0.1", CREATE, "t1", 2_000);
    expect(tokens.get("KEY", "10.0.0.1", CREATE)).toBe("t1");
    // Another address, another purpose, or the key in other letters: nothing kept for them.
    expect(tokens.get("KEY", "10.0.0.2", CREATE)).toBeUndefined();
    expect(tokens.get("KEY", "10.0.0.1", CRON)).toBeUndefined();
    expect(tokens.get("key", "10.0.0.1", CREATE)).toBeUndefined();
    now = 2_000;
    expect(tokens.get("KEY", "10.0.0.1", CREATE)).toBeUndefined();
    expect(tokens.size).toBe(0);
    // A token already out of time is not kept; a forgotten one is gone.
    tokens.remember("KEY", "10.0.0.1", CREATE, "t2", 2_000);
    expect(tokens.size).toBe(0);
    tokens.remember("KEY", "10.0.0.1", CREATE, "t3", 3_000);
    tokens.forget("KEY", "10.0.0.1", CREATE);
    expect(tokens.get("KEY", "10.0.0.1", CREATE)).toBeUndefined();
  });

  it("holds at most its limit, making room from the oldest", () => {
    const tokens = new BoundKeyTokens({ limit: 2, now: () => 0 });
    tokens.remember("A", "ip", CREATE, "a", 10);
    tokens.remember("B", "ip", CREATE, "b", 10);
    // Remembering A again makes it the newest.
    tokens.remember("A", "ip", CREATE, "a2", 10);
    tokens.remember("C", "ip", CREATE, "c", 10);
    expect([
      tokens.get("A", "ip", CREATE),
      tokens.get("B", "ip", CREATE),
      tokens.get("C", "ip", CREATE),
    ]).toEqual(["a2", undefined, "c"]);
  });

  it("reuses a bound token for half the lifetime it has left, and never one that is not bound", () => {
    const expires = { accessTokenExpiresAt: timestampFromMs(301_000) };
    expect(reusableUntilMs({ bound: true, tokens: expires }, 1_000)).toBe(151_000);
    expect(reusableUntilMs({ bound: false, tokens: expires }, 1_000)).toBeUndefined();
    expect(reusableUntilMs({ bound: true, tokens: {} }, 1_000)).toBeUndefined();
    expect(reusableUntilMs({ bound: true }, 1_000)).toBeUndefined();
  });
});
