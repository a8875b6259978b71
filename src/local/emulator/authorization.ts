import { ConditionSyntaxError, actionPatternMatches, evaluateCondition, parseCondition, type ConditionContext, type ConditionNode, type RoleAssignmentAttribute } from "./abac-condition.js";
import { ArmError, badRequest } from "./errors.js";
import type { RoleDefinitionRecord } from "./role-definitions.js";
import { isAtOrAbove, normalizeScope } from "./scope.js";
import type { EmulatorState, RoleAssignmentRecord } from "./state.js";

/**
 * Azure RBAC as ARM applies it before a request reaches its provider: the caller's role assignments at
 * the request's scope or above (subscription → resource group → resource), each granting the action
 * when one of its role's permissions lists it in `actions` (wildcards, any case) and not in
 * `notActions`, and when its ABAC condition (if any) holds for this request. Group membership is not
 * emulated: an assignment to a group grants its members nothing here.
 */

export interface AuthorizationCheck {
  readonly principalId: string;
  /** The operation, e.g. Microsoft.Compute/virtualMachines/write. */
  readonly action: string;
  /** Other actions that grant the same request (tags: the tagged resource's own write/read). */
  readonly alternatives?: readonly string[];
  /** The scope checked: the request's resource path. */
  readonly scope: string;
  /** Role-assignment writes and deletes: the attributes their conditions read; undefined skips conditions (nothing to constrain). */
  readonly attributes?: { request?: Partial<Record<RoleAssignmentAttribute, string>>; resource?: Partial<Record<RoleAssignmentAttribute, string>> } | undefined;
}

export interface AuthorizationDecision {
  readonly allowed: boolean;
  /** The assignment that granted it. */
  readonly grantedBy?: RoleAssignmentRecord;
  /** True when an assignment would have granted the action but its condition did not hold. */
  readonly conditionFailed: boolean;
}

const parsed = new Map<string, ConditionNode>();

/** Parses once per distinct text (assignments are re-checked on every request). */
function conditionOf(text: string): ConditionNode {
  let node = parsed.get(text);
  if (!node) {
    node = parseCondition(text);
    parsed.set(text, node);
  }
  return node;
}

/** Validates a condition as role-assignment writes must (ARM refuses a bad one with 400). */
export function validateCondition(condition: unknown, conditionVersion: unknown): { condition: string; conditionVersion: string } | undefined {
  if (condition === undefined || condition === null || condition === "") {
    if (conditionVersion !== undefined && conditionVersion !== null && conditionVersion !== "") {
      throw badRequest("InvalidRoleAssignmentCondition", "conditionVersion is given without a condition.");
    }
    return undefined;
  }
  if (typeof condition !== "string") throw badRequest("InvalidRoleAssignmentCondition", "The condition must be a string.");
  // Microsoft's conditions FAQ: "A condition can be up to 8 KB long."
  if (Buffer.byteLength(condition, "utf8") > 8192) throw badRequest("InvalidRoleAssignmentCondition", `The condition is ${Buffer.byteLength(condition, "utf8")} bytes; a condition can be up to 8 KB (8192 bytes) long.`);
  const version = conditionVersion === undefined || conditionVersion === null ? "2.0" : conditionVersion;
  if (version !== "2.0") throw badRequest("InvalidRoleAssignmentCondition", `conditionVersion '${String(version)}' is not supported; use '2.0'.`);
  try {
    conditionOf(condition);
  } catch (error) {
    if (!(error instanceof ConditionSyntaxError)) throw error;
    const near = condition.slice(Math.max(0, error.position - 20), error.position + 20);
    throw badRequest(
      "InvalidRoleAssignmentCondition",
      `The condition could not be parsed at character ${error.position} (near '${near}'): ${error.message}. ` +
        "See https://learn.microsoft.com/azure/role-based-access-control/conditions-format for the syntax.",
    );
  }
  return { condition, conditionVersion: version };
}

export function roleGrants(role: RoleDefinitionRecord, action: string): boolean {
  return role.permissions.some(
    (p) => p.actions.some((a) => actionPatternMatches(a, action)) && !p.notActions.some((a) => actionPatternMatches(a, action)),
  );
}

export function authorize(state: EmulatorState, check: AuthorizationCheck): AuthorizationDecision {
  const actions = [check.action, ...(check.alternatives ?? [])];
  const principal = check.principalId.toLowerCase();
  let conditionFailed = false;
  for (const assignment of state.roleAssignments.values()) {
    if (assignment.principalId.toLowerCase() !== principal || !isAtOrAbove(assignment.scope, check.scope)) continue;
    const role = state.roleDefinition(assignment.roleDefinitionGuid);
    if (!role) continue;
    for (const action of actions) {
      if (!roleGrants(role, action)) continue;
      if (assignment.condition && check.attributes !== undefined) {
        const context: ConditionContext = { action, ...check.attributes };
        if (!evaluateCondition(conditionOf(assignment.condition), context)) {
          conditionFailed = true;
          continue;
        }
      }
      return { allowed: true, grantedBy: assignment, conditionFailed: false };
    }
  }
  return { allowed: false, conditionFailed };
}

/**
 * ARM's 403. Role-assignment writes and deletes say "or an ABAC condition not fulfilled", as Azure
 * words them whether or not a condition was involved.
 */
export function authorizationFailed(check: AuthorizationCheck): ArmError {
  const abac = /^Microsoft\.Authorization\/roleAssignments\/(write|delete)$/i.test(check.action);
  return new ArmError(
    403,
    "AuthorizationFailed",
    `The client '${check.principalId}' with object id '${check.principalId}' does not have authorization${abac ? " or an ABAC condition not fulfilled" : ""} ` +
      `to perform action '${check.action}' over scope '${normalizeScope(check.scope)}' or the scope is invalid. ` +
      "If access was recently granted, please refresh your credentials.",
  );
}

/** The action that writes (or reads) the resource a scope names: what ARM also accepts for tags on it. */
export function resourceActionOf(scope: string, verb: "read" | "write"): string | undefined {
  const seg = normalizeScope(scope).split("/").filter(Boolean);
  if (seg[0]?.toLowerCase() !== "subscriptions" || seg.length < 2) return undefined;
  if (seg.length === 2) return `Microsoft.Resources/subscriptions/${verb}`;
  if (seg[2]?.toLowerCase() !== "resourcegroups" || seg.length < 4) return undefined;
  if (seg.length === 4) return `Microsoft.Resources/subscriptions/resourceGroups/${verb}`;
  if (seg[4]?.toLowerCase() !== "providers" || seg.length < 8) return undefined;
  const types: string[] = [];
  for (let i = 6; i < seg.length; i += 2) types.push(seg[i] as string);
  return `${seg[5]}/${types.join("/")}/${verb}`;
}
