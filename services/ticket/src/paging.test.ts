import { Code, ConnectError } from "@connectrpc/connect";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "@ostmesh/proto";
import { ValidationErrorsSchema } from "@ostmesh/proto/gen/osticket/common/v1/errors_pb.js";
import { describe, expect, it } from "vitest";
import { PageTokens, pageSize, queryHash, stableJson } from "./paging.ts";

function rejection(fn: () => unknown): { code: Code; field: string | undefined; message: string } {
  try {
    fn();
  } catch (error) {
    const e = ConnectError.from(error);
    return {
      code: e.code,
      field: e.findDetails(ValidationErrorsSchema)[0]?.violations[0]?.field,
      message: e.rawMessage,
    };
  }
  throw new Error("no error");
}

describe("page tokens", () => {
  const tokens = new PageTokens("a-secret-of-sixteen-chars");

  it("round-trip a keyset position for the same RPC and query", () => {
    const token = tokens.encode("ListTickets", "q1", { keys: ["2026-11-26 07:21:27", null, 3], id: 42 });
    expect(token).toMatch(/^[\w-]+\.[\w-]+$/);
    expect(tokens.decode("ListTickets", "q1", token, 3)).toEqual({
      keys: ["2026-11-26 07:21:27", null, 3],
      id: 42,
    });
    expect(tokens.decode("ListTickets", "q1", "", 3)).toBeUndefined();
  });

  it("refuse edited, foreign and misused tokens with INVALID_ARGUMENT on page_token", () => {
    const token = tokens.encode("ListTickets", "q1", { keys: [1], id: 7 });
    const [payload = "", signature = ""] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ v: 1, r: "ListTickets", q: "q1", k: [1], i: 8 })).toString(
      "base64url",
    );
    for (const bad of [
      `${forged}.${signature}`,
      `${payload}.`,
      payload,
      "x.y",
      new PageTokens("another-secret-of-16").encode("ListTickets", "q1", { keys: [1], id: 7 }),
    ]) {
      expect(rejection(() => tokens.decode("ListTickets", "q1", bad, 1))).toMatchObject({
        code: Code.InvalidArgument,
        field: "page_token",
      });
    }
    const other = rejection(() => tokens.decode("SearchTickets", "q1", token, 1));
    expect(other).toMatchObject({
      field: "page_token",
      message: "page_token: page_token was issued for a different filter or sort",
    });
    expect(rejection(() => tokens.decode("ListTickets", "q2", token, 1)).field).toBe("page_token");
    expect(rejection(() => tokens.decode("ListTickets", "q1", token, 2)).field).toBe("page_token");
  });
});

describe("paging helpers", () => {
  it("apply the contract's page sizes", () => {
    expect(pageSize(0)).toBe(DEFAULT_PAGE_SIZE);
    expect(pageSize(7)).toBe(7);
    expect(pageSize(MAX_PAGE_SIZE + 1)).toBe(MAX_PAGE_SIZE);
    expect(rejection(() => pageSize(-1))).toMatchObject({ code: Code.InvalidArgument, field: "page_size" });
  });

  it("hash requests independently of key order", () => {
    expect(stableJson({ b: 1, a: [2, { d: 3, c: 4n }], e: undefined })).toBe(
      '{"a":[2,{"c":"4","d":3}],"b":1}',
    );
    expect(queryHash({ x: 1, y: 2 })).toBe(queryHash({ y: 2, x: 1 }));
    expect(queryHash({ x: 1 })).not.toBe(queryHash({ x: 2 }));
  });
});
