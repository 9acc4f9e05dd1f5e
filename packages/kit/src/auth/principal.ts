import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { AccessRule } from "@ostmesh/proto/gen/osticket/common/v1/access_pb.js";
import {
  ApiKeyKind,
  type Principal,
  PrincipalKind,
  PrincipalSchema,
} from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";

/** The caller of a request that presented no credential. */
export const ANONYMOUS: Principal = create(PrincipalSchema, {
  actor: { kind: PrincipalKind.ANONYMOUS, displayName: "anonymous" },
});

/** The principal the auth interceptor resolved for the request being handled (ANONYMOUS by default). */
export const principalKey = createContextKey<Principal>(ANONYMOUS, { description: "caller principal" });

/** The access rule of the RPC being handled, as declared in the contract (undefined outside an RPC). */
export const accessRuleKey = createContextKey<AccessRule | undefined>(undefined, {
  description: "access rule of the rpc",
});

/** The caller of the RPC being handled. */
export function principalOf(ctx: Pick<HandlerContext, "values">): Principal {
  return ctx.values.get(principalKey);
}

/** The access rule of the RPC being handled. */
export function accessRuleOfCall(ctx: Pick<HandlerContext, "values">): AccessRule | undefined {
  return ctx.values.get(accessRuleKey);
}

/**
 * Fails closed when the auth interceptor did not run for this call (a process wired without it): handlers
 * of sensitive services call this first, so a missing interceptor is an error, never open access.
 */
export function assertAuthorized(ctx: Pick<HandlerContext, "values">): void {
  if (ctx.values.get(accessRuleKey) === undefined)
    throw new ConnectError("authorization is not configured on this server", Code.Internal);
}

/** ostmesh acting on its own (scheduled tasks, relays): osTicket's "SYSTEM". Never carried by a token. */
export function systemPrincipal(): Principal {
  return create(PrincipalSchema, {
    actor: { kind: PrincipalKind.SYSTEM, displayName: "SYSTEM", username: "SYSTEM" },
  });
}

export function kindOf(principal: Principal): PrincipalKind {
  return principal.actor?.kind ?? PrincipalKind.UNSPECIFIED;
}

export function idOf(principal: Principal): number {
  return principal.actor?.id ?? 0;
}

export function hasScope(principal: Principal, scope: string): boolean {
  return principal.scopes.includes(scope);
}

/**
 * A stable, human-readable subject for a principal: `agent:1`, `user:5`, `apikey:ostmesh:3`,
 * `apikey:osticket:2`, `service:gateway`, `system`, `anonymous`. Used as the JWT `sub` and in logs.
 */
export function subjectOf(principal: Principal): string {
  const actor = principal.actor;
  switch (actor?.kind) {
    case PrincipalKind.AGENT:
      return `agent:${actor.id}`;
    case PrincipalKind.END_USER:
      return `user:${actor.id}`;
    case PrincipalKind.API_KEY:
      return `apikey:${actor.apiKeyKind === ApiKeyKind.OSTICKET ? "osticket" : "ostmesh"}:${actor.id}`;
    case PrincipalKind.SERVICE:
      return `service:${actor.username}`;
    case PrincipalKind.SYSTEM:
      return "system";
    case PrincipalKind.ANONYMOUS:
      return "anonymous";
    default:
      return "unknown";
  }
}

const KIND_NAMES: Readonly<Record<number, string>> = {
  [PrincipalKind.AGENT]: "agent",
  [PrincipalKind.END_USER]: "end user",
  [PrincipalKind.API_KEY]: "API key",
  [PrincipalKind.SERVICE]: "service",
  [PrincipalKind.SYSTEM]: "system",
  [PrincipalKind.ANONYMOUS]: "anonymous caller",
};

/** "agent", "end user", ... for messages. */
export function kindName(kind: PrincipalKind): string {
  return KIND_NAMES[kind] ?? "unknown caller";
}
