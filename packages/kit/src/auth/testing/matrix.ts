import { Code, ConnectError } from "@connectrpc/connect";
import { PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { API_KEY_HEADER } from "../interceptor.ts";
import type { TestIssuer } from "./issuer.ts";
import { BOLA_CALLERS, type BolaCaller, type BolaOutcome, type BolaWorld } from "./world.ts";

/**
 * The BOLA matrix runner: every case is called once per caller with that caller's real credentials
 * (ostmesh tokens for agents and end users, X-API-Key for API keys, nothing for anonymous), and the outcome
 * ("ok" or the Connect code) is compared with the expected one. Services plug their RPCs in as cases:
 *
 *   const failures = await runBolaMatrix(world, issuer, [
 *     { name: "GetTicket plain", call: (headers) => client.getTicket({ ticketId: world.tickets.plain }, { headers }),
 *       expect: { agentWithAccess: "ok", agentWithoutAccess: Code.NotFound, ..., anonymous: Code.Unauthenticated } },
 *   ]);
 *   expect(failures).toEqual([]);
 */
export interface BolaCase {
  name: string;
  call: (headers: Headers, caller: BolaCaller) => Promise<unknown>;
  expect: Readonly<Record<BolaCaller, BolaOutcome>>;
}

/** The request headers carrying a caller's credential. */
export async function bolaHeaders(
  world: BolaWorld,
  issuer: TestIssuer,
  caller: BolaCaller,
): Promise<Headers> {
  const headers = new Headers();
  if (caller === "anonymous") return headers;
  if (caller === "apiKeyWithScope") headers.set(API_KEY_HEADER, world.apiKeys.withScope.secret);
  else if (caller === "apiKeyWithoutScope") headers.set(API_KEY_HEADER, world.apiKeys.withoutScope.secret);
  else {
    const principal = world.principal(caller);
    if (principal.actor?.kind === PrincipalKind.API_KEY) throw new Error("unexpected key principal");
    headers.set("authorization", `Bearer ${await issuer.sign(principal)}`);
  }
  return headers;
}

export function outcomeOf(error: unknown): BolaOutcome {
  return ConnectError.from(error).code;
}

/** Runs every case for every caller; returns one line per mismatch (empty = the matrix holds). */
export async function runBolaMatrix(
  world: BolaWorld,
  issuer: TestIssuer,
  cases: readonly BolaCase[],
): Promise<string[]> {
  const failures: string[] = [];
  for (const c of cases) {
    for (const caller of BOLA_CALLERS) {
      const expected = c.expect[caller];
      let actual: BolaOutcome;
      try {
        await c.call(await bolaHeaders(world, issuer, caller), caller);
        actual = "ok";
      } catch (error) {
        actual = outcomeOf(error);
      }
      if (actual !== expected)
        failures.push(`${c.name} as ${caller}: expected ${name(expected)}, got ${name(actual)}`);
    }
  }
  return failures;
}

function name(outcome: BolaOutcome): string {
  return outcome === "ok" ? "ok" : Code[outcome];
}
