import { readFileSync } from "node:fs";
import { evaluateArmValue, type ArmValue } from "./armExpression.js";

/**
 * The enforcer's roles as the infra defines them (infra/app/enforcer-roles.bicep), taken from the
 * COMPILED template: `npm run gen:roles` writes infra/app/enforcer-roles.generated.json from it, and
 * test/infra fails when the committed file differs from what the compiler gives. The local stack grants
 * the enforcer's identity exactly this in the emulator, the allow-list substituted into the condition by
 * evaluating the template's own expression, so a permission missing from the infra fails locally too.
 */
export const ENFORCER_ROLES_FILE = new URL("../../infra/app/enforcer-roles.generated.json", import.meta.url);
export const ENFORCER_ROLES_SOURCE = "infra/app/enforcer-roles.bicep";

interface TemplateResource {
  readonly type: string;
  readonly name: string;
  readonly properties?: Record<string, ArmValue>;
}

export interface CompiledTemplate {
  readonly variables?: Record<string, ArmValue>;
  readonly resources: TemplateResource[] | Record<string, TemplateResource>;
}

export interface GeneratedRoleDefinition {
  /** The template's name expression (a deterministic GUID per subscription and environment). */
  readonly name: string;
  readonly roleName: string;
  readonly description: string;
  /** Literal action lists (the template's variables resolved). */
  readonly permissions: { actions: string[]; notActions: string[]; dataActions: string[]; notDataActions: string[] }[];
  readonly assignableScopes: string[];
}

export interface GeneratedRoleAssignment {
  /** `{custom: i}`: roleDefinitions[i]; `{builtIn: guid}`: a built-in role. */
  readonly roleDefinition: { readonly custom: number } | { readonly builtIn: string };
  readonly principalType: string;
  readonly description: string;
  readonly conditionVersion?: string;
  /** The template's condition, an expression over its parameters (allowedPrincipals) and variables. */
  readonly condition?: string;
}

export interface EnforcerRolesDocument {
  readonly $comment: string;
  readonly source: string;
  readonly variables: Record<string, ArmValue>;
  readonly roleDefinitions: GeneratedRoleDefinition[];
  readonly roleAssignments: GeneratedRoleAssignment[];
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

function resourcesOf(template: CompiledTemplate): TemplateResource[] {
  return Array.isArray(template.resources) ? template.resources : Object.values(template.resources);
}

function strings(value: ArmValue | undefined, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw new Error(`${what} must be a list of strings, got ${JSON.stringify(value)}`);
  return value as string[];
}

/** What the compiled enforcer-roles template defines and grants to its `principalId`. */
export function enforcerRolesFromTemplate(template: CompiledTemplate): EnforcerRolesDocument {
  const variables = template.variables ?? {};
  const resources = resourcesOf(template);
  const definitions = resources.filter((r) => r.type.toLowerCase() === "microsoft.authorization/roledefinitions");
  const roleDefinitions = definitions.map((r): GeneratedRoleDefinition => {
    const p = r.properties ?? {};
    const permissions = (evaluateArmValue(p["permissions"] ?? [], { parameters: {}, variables }) as Record<string, ArmValue>[]).map((perm, i) => ({
      actions: strings(perm["actions"], `permissions[${i}].actions`),
      notActions: strings(perm["notActions"], `permissions[${i}].notActions`),
      dataActions: strings(perm["dataActions"], `permissions[${i}].dataActions`),
      notDataActions: strings(perm["notDataActions"], `permissions[${i}].notDataActions`),
    }));
    return { name: r.name, roleName: String(p["roleName"]), description: String(p["description"] ?? ""), permissions, assignableScopes: strings(p["assignableScopes"], "assignableScopes") };
  });
  const roleAssignments = resources
    .filter((r) => r.type.toLowerCase() === "microsoft.authorization/roleassignments")
    .map((r): GeneratedRoleAssignment => {
      const p = r.properties ?? {};
      if (p["principalId"] !== "[parameters('principalId')]") throw new Error(`${ENFORCER_ROLES_SOURCE}: assignment ${r.name} is not to the enforcer's principalId parameter.`);
      const roleId = String(p["roleDefinitionId"]);
      const custom = definitions.findIndex((d) => roleId.includes(d.name.replace(/^\[|\]$/g, "")));
      let roleDefinition: GeneratedRoleAssignment["roleDefinition"];
      if (custom >= 0) roleDefinition = { custom };
      else {
        const resolved = roleId.replace(/variables\('([^']+)'\)/g, (m, name: string) => (typeof variables[name] === "string" ? `'${variables[name] as string}'` : m));
        const guid = GUID.exec(resolved)?.[0];
        if (!guid) throw new Error(`${ENFORCER_ROLES_SOURCE}: cannot tell which role assignment ${r.name} grants (${roleId}).`);
        roleDefinition = { builtIn: guid.toLowerCase() };
      }
      return {
        roleDefinition,
        principalType: String(p["principalType"] ?? ""),
        description: String(p["description"] ?? ""),
        ...(p["condition"] !== undefined ? { condition: String(p["condition"]), conditionVersion: String(p["conditionVersion"] ?? "2.0") } : {}),
      };
    });
  return {
    $comment: `Generated by \`npm run gen:roles\` from the compiled ${ENFORCER_ROLES_SOURCE}; test/infra checks it is current. Do not edit.`,
    source: ENFORCER_ROLES_SOURCE,
    variables,
    roleDefinitions,
    roleAssignments,
  };
}

export function enforcerRolesJson(template: CompiledTemplate): string {
  return `${JSON.stringify(enforcerRolesFromTemplate(template), null, 2)}\n`;
}

export function loadEnforcerRoles(): EnforcerRolesDocument {
  return JSON.parse(readFileSync(ENFORCER_ROLES_FILE, "utf8")) as EnforcerRolesDocument;
}

export interface EnforcerGrantInput {
  readonly subscriptionId: string;
  readonly environmentName: string;
  readonly principalId: string;
  readonly allowedPrincipals: readonly string[];
}

export interface EnforcerGrants {
  readonly roleDefinitions: { guid: string; roleName: string; description: string; permissions: GeneratedRoleDefinition["permissions"]; assignableScopes: string[] }[];
  readonly assignments: { roleDefinitionGuid: string; scope: string; description: string; condition?: string; conditionVersion?: string }[];
}

/** What one watched subscription's deployment of the roles module creates, its expressions evaluated as ARM would. */
export function enforcerGrants(doc: EnforcerRolesDocument, input: EnforcerGrantInput): EnforcerGrants {
  const ctx = {
    parameters: { environmentName: input.environmentName, principalId: input.principalId, allowedPrincipals: [...input.allowedPrincipals] },
    variables: doc.variables,
    subscriptionId: input.subscriptionId,
  };
  const text = (v: string): string => String(evaluateArmValue(v, ctx));
  const roleDefinitions = doc.roleDefinitions.map((d) => ({
    guid: text(d.name),
    roleName: text(d.roleName),
    description: d.description,
    permissions: d.permissions,
    assignableScopes: d.assignableScopes.map(text),
  }));
  const assignments = doc.roleAssignments.map((a) => {
    const role = "custom" in a.roleDefinition ? roleDefinitions[a.roleDefinition.custom]?.guid : a.roleDefinition.builtIn;
    if (!role) throw new Error(`${ENFORCER_ROLES_FILE.pathname}: an assignment names a role definition that is not there; run npm run gen:roles.`);
    return {
      roleDefinitionGuid: role,
      scope: `/subscriptions/${input.subscriptionId}`,
      description: a.description,
      ...(a.condition !== undefined ? { condition: text(a.condition), conditionVersion: a.conditionVersion ?? "2.0" } : {}),
    };
  });
  return { roleDefinitions, assignments };
}
