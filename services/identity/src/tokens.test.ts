import { create } from "@bufbuild/protobuf";
import {
  ApiKeyKind,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { describe, expect, it } from "vitest";
import { type AccessToken, ReusableTokens } from "./tokens.ts";

const key = (id: number, scopes: string[]) =>
  create(PrincipalSchema, {
    actor: { kind: PrincipalKind.API_KEY, id, apiKeyKind: ApiKeyKind.OSTICKET },
    scopes,
  });

describe("reusable API-key tokens", () => {
  let clock = 1_000_000;
  let issued = 0;
  const issue = async (): Promise<AccessToken> => {
    issued++;
    return { token: `t${issued}`, jti: `j${issued}`, issuedAtMs: clock, expiresAtMs: clock + 300_000 };
  };

  it("reuses a token for the same principal while more than half its lifetime is left", async () => {
    const tokens = new ReusableTokens({ now: () => clock });
    const first = await tokens.get(key(1, ["tickets:create"]), issue);
    const again = await tokens.get(key(1, ["tickets:create"]), issue);
    expect(again.token).toBe(first.token);
    // The credential id is not part of what is carried: a principal that differs only there matches.
    const withCredential = key(1, ["tickets:create"]);
    withCredential.credentialId = "something";
    expect((await tokens.get(withCredential, issue)).token).toBe(first.token);
    clock += 150_001;
    const later = await tokens.get(key(1, ["tickets:create"]), issue);
    expect(later.token).not.toBe(first.token);
  });

  it("issues a new token when anything in the principal changed", async () => {
    const tokens = new ReusableTokens({ now: () => clock });
    const a = await tokens.get(key(2, ["tickets:create"]), issue);
    const b = await tokens.get(key(2, ["tickets:create", "tasks:cron"]), issue);
    const c = await tokens.get(key(3, ["tickets:create"]), issue);
    expect(new Set([a.token, b.token, c.token]).size).toBe(3);
  });

  it("does not keep a failed issue", async () => {
    const tokens = new ReusableTokens({ now: () => clock });
    await expect(tokens.get(key(4, []), () => Promise.reject(new Error("no signing key")))).rejects.toThrow(
      "no signing key",
    );
    const ok = await tokens.get(key(4, []), issue);
    expect(ok.token).toMatch(/^t\d+$/);
  });

  it("holds at most `limit` principals", async () => {
    const tokens = new ReusableTokens({ now: () => clock, limit: 2 });
    const first = await tokens.get(key(10, []), issue);
    await tokens.get(key(11, []), issue);
    await tokens.get(key(12, []), issue); // the map was full: started over
    expect((await tokens.get(key(10, []), issue)).token).not.toBe(first.token);
  });
});
