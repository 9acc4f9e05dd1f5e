/**
 * The JWKS route's cache and failure behaviour. The happy path against the real identity service is in
 * real-identity.e2e.test.ts; here the key set comes from a loader whose answers the test controls, and
 * "identity down" is the real client of an identity address where nothing listens.
 */
import http from "node:http";
import net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { jwksFromIdentity } from "@ostmesh/kit/auth/jwks.ts";
import { IdentityService } from "@ostmesh/proto";
import type { JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JWKS_PATH, JwksDocument, jwksHandler } from "./jwks.ts";

const KEY_A: JSONWebKeySet = {
  keys: [{ kty: "EC", crv: "P-256", kid: "a", alg: "ES256", use: "sig", x: "xa", y: "ya" }],
};
const KEY_B: JSONWebKeySet = {
  keys: [{ kty: "EC", crv: "P-256", kid: "b", alg: "ES256", use: "sig", x: "xb", y: "yb" }],
};

/** A loader answering from `answers` in turn (a thrown Error when the entry is one). */
function scripted(answers: (JSONWebKeySet | Error)[]) {
  const calls = { count: 0 };
  const load = async () => {
    const answer = answers[Math.min(calls.count, answers.length - 1)];
    calls.count++;
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (!answer || answer instanceof Error) throw answer ?? new Error("no answer");
    return answer;
  };
  return { load, calls };
}

const servers: http.Server[] = [];

async function serve(document: JwksDocument): Promise<string> {
  const handler = jwksHandler(document);
  const server = http.createServer((req, res) => handler(req, res));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return `http://127.0.0.1:${port}${JWKS_PATH}`;
}

let closedPort = 0;
beforeAll(async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  closedPort = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

describe("JwksDocument", () => {
  it("asks identity once per cache period, however many requests arrive at once", async () => {
    let now = 1_000_000;
    const { load, calls } = scripted([KEY_A, KEY_B]);
    const document = new JwksDocument({ load, now: () => now, cacheMs: 15_000 });
    const bodies = await Promise.all(Array.from({ length: 20 }, () => document.current()));
    expect(calls.count).toBe(1);
    expect(new Set(bodies.map((b) => b?.toString())).size).toBe(1);
    expect(JSON.parse(bodies[0]?.toString() ?? "{}")).toEqual(KEY_A);
    now += 14_999;
    expect(JSON.parse((await document.current())?.toString() ?? "{}")).toEqual(KEY_A);
    expect(calls.count).toBe(1);
    now += 2;
    expect(JSON.parse((await document.current())?.toString() ?? "{}")).toEqual(KEY_B);
    expect(document.fetches).toBe(2);
  });

  it("serves the last set while identity fails, until it is staleMs old; then nothing", async () => {
    let now = 0;
    const { load, calls } = scripted([KEY_A, new Error("identity down")]);
    const document = new JwksDocument({ load, now: () => now, cacheMs: 1000, staleMs: 60_000 });
    expect(await document.current()).toBeDefined();
    now = 30_000;
    expect(JSON.parse((await document.current())?.toString() ?? "{}")).toEqual(KEY_A);
    now = 60_001;
    expect(await document.current()).toBeUndefined();
    expect(calls.count).toBe(3);
  });

  it("refuses an empty key set (never publishes a JWKS that verifies nothing)", async () => {
    const { load } = scripted([{ keys: [] }]);
    expect(await new JwksDocument({ load }).current()).toBeUndefined();
  });
});

describe("the JWKS route", () => {
  it("answers 503 with Retry-After and no-store when identity cannot be reached and nothing is held", async () => {
    const identity = createClient(
      IdentityService,
      createConnectTransport({ baseUrl: `http://127.0.0.1:${closedPort}`, httpVersion: "2" }),
    );
    const url = await serve(new JwksDocument({ load: jwksFromIdentity(identity), timeoutMs: 2000 }));
    const res = await fetch(url);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.text()).toBe("JWKS unavailable");
  });

  it("serves the held set with its headers, and refuses other methods", async () => {
    const { load } = scripted([KEY_A]);
    const url = await serve(new JwksDocument({ load }));
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/jwk-set+json");
    expect(res.headers.get("cache-control")).toBe("public, max-age=30");
    expect(await res.json()).toEqual(KEY_A);
    const del = await fetch(url, { method: "DELETE" });
    expect(del.status).toBe(405);
    expect(del.headers.get("allow")).toBe("GET, HEAD");
  });
});
