import { Code } from "@connectrpc/connect";
import type { AccessRule } from "@ostmesh/proto/gen/osticket/common/v1/access_pb.js";
import { type Principal, PrincipalKind } from "@ostmesh/proto/gen/osticket/common/v1/principal_pb.js";
import { kindName, kindOf } from "./principal.ts";

/** The outcome of an authorization question; `reason` is for logs and Authorize, never secret. */
export type AccessDecision =
  | { allowed: true }
  | {
      allowed: false;
      code: Code.Unauthenticated | Code.PermissionDenied | Code.NotFound;
      reason: string;
    };

export const ALLOW: AccessDecision = { allowed: true };

export function deny(
  code: Code.Unauthenticated | Code.PermissionDenied | Code.NotFound,
  reason: string,
): AccessDecision {
  return { allowed: false, code, reason };
}

/**
 * Permissions osTicket grants per department through roles (ost_role.permissions); every other permission
 * key is agent-level (ost_staff.permissions: user.*, org.*, faq.manage, visibility.*, emails.banlist).
 */
export function isRolePermission(permission: string): boolean {
  return /^(ticket|task|thread|canned)\./.test(permission);
}

/**
 * The part of an RPC's access rule that needs no target row: the caller's kind, the scope of API keys and
 * services, agent administrator status, agent-level permissions, and role permissions when no department is
 * in question (the agent must hold it in at least one department, as osTicket's hasPerm(perm, false)).
 * Department access, role permissions in the ticket's department and end-user ownership are decided by the
 * service once it has loaded the target (see tickets.ts).
 */
export function checkAccessRule(rule: AccessRule | undefined, principal: Principal): AccessDecision {
  const kind = kindOf(principal);
  const anonymous = kind === PrincipalKind.ANONYMOUS || kind === PrincipalKind.UNSPECIFIED;
  if (!rule) {
    return anonymous
      ? deny(Code.Unauthenticated, "authentication required")
      : deny(Code.PermissionDenied, "this procedure declares no access rule");
  }
  if (!rule.allowed.includes(kind)) {
    return anonymous
      ? deny(Code.Unauthenticated, "authentication required")
      : deny(Code.PermissionDenied, `not allowed for a caller of kind ${kindName(kind)}`);
  }
  switch (kind) {
    case PrincipalKind.API_KEY:
    case PrincipalKind.SERVICE:
      if (rule.scope && !principal.scopes.includes(rule.scope))
        return deny(Code.PermissionDenied, `missing scope ${rule.scope}`);
      return ALLOW;
    case PrincipalKind.AGENT: {
      const agent = principal.agent;
      if (!agent) return deny(Code.PermissionDenied, "agent authority missing");
      if (rule.agentAdminRequired && !agent.isAdmin)
        return deny(Code.PermissionDenied, "administrator required");
      const permission = rule.agentPermission;
      if (!permission) return ALLOW;
      if (!isRolePermission(permission)) {
        return agent.permissions.includes(permission)
          ? ALLOW
          : deny(Code.PermissionDenied, `missing permission ${permission}`);
      }
      // Checked against the ticket's department once the target is loaded.
      if (rule.agentDepartmentCheck) return ALLOW;
      // Staff::hasPerm(perm, false): the agent's own role, then each dept_access row's existing role (a
      // department on getRole's made-up fallback role, id 0, has none).
      return agent.rolePermissions.includes(permission) ||
        agent.departments.some((d) => d.roleId !== 0 && d.permissions.includes(permission))
        ? ALLOW
        : deny(Code.PermissionDenied, `missing permission ${permission}`);
    }
    default:
      return ALLOW;
  }
}
