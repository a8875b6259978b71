// The emulator's ABAC condition parser and evaluator, on the forms Microsoft documents for delegating
// role assignment management ("Examples to delegate Azure role assignment management with conditions").
import { describe, expect, it } from "vitest";
import { ConditionSyntaxError, actionPatternMatches, evaluateCondition, parseCondition } from "../../../src/local/emulator/abac-condition.js";

const WRITE = "Microsoft.Authorization/roleAssignments/write";
const DELETE = "Microsoft.Authorization/roleAssignments/delete";
const BACKUP_CONTRIBUTOR = "5e467623-bb1f-42f4-a55d-6e525e11384b";
const BACKUP_READER = "a795c7a0-d4a2-40c1-ae25-d81f01202912";
const GROUP_1 = "28c35fea-2099-4cf5-8ad9-473547bc9423";
const GROUP_2 = "86951b8b-723a-407b-a74a-1bca3f0c95d0";
const OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const OTHER = "ba4d0000-0000-4000-8000-000000000005";

// "Example: Constrain roles" (multi-line, as the docs print it).
const CONSTRAIN_ROLES = `(
 (
  !(ActionMatches{'${WRITE}'})
 )
 OR
 (
  @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${BACKUP_CONTRIBUTOR}, ${BACKUP_READER}}
 )
)
AND
(
 (
  !(ActionMatches{'${DELETE}'})
 )
 OR
 (
  @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${BACKUP_CONTRIBUTOR}, ${BACKUP_READER}}
 )
)`;

// "Example: Constrain roles and specific groups".
const ROLES_AND_GROUPS =
  `((!(ActionMatches{'${WRITE}'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${BACKUP_CONTRIBUTOR}, ${BACKUP_READER}} ` +
  `AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${GROUP_1}, ${GROUP_2}})) AND ` +
  `((!(ActionMatches{'${DELETE}'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${BACKUP_CONTRIBUTOR}, ${BACKUP_READER}} ` +
  `AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${GROUP_1}, ${GROUP_2}}))`;

// "Example: Constrain roles and principal types" and "Allow most roles, but don't allow others to assign roles".
const PRINCIPAL_TYPES = `((!(ActionMatches{'${WRITE}'})) OR (@Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'User', 'Group'}))`;
const EXCLUDE_OWNER = `((!(ActionMatches{'${WRITE}'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {${OWNER}}))`;

describe("ABAC conditions (version 2.0): parsing", () => {
  it.each([
    ["constrain roles", CONSTRAIN_ROLES],
    ["constrain roles and specific groups", ROLES_AND_GROUPS],
    ["constrain principal types", PRINCIPAL_TYPES],
    ["exclude a role", EXCLUDE_OWNER],
    ["&& || and NOT, any keyword case", `NOT ActionMatches{'${WRITE}'} || (@request[microsoft.authorization/roleassignments:principalid] guidequals ${GROUP_1} && !(ActionMatches{'${DELETE}'}))`],
    ["a single action set with two actions", `!(ActionMatches{'${WRITE}', '${DELETE}'})`],
  ])("parses Microsoft's %s form", (_name, text) => {
    expect(() => parseCondition(text)).not.toThrow();
  });

  it.each([
    ["an empty condition", "", /empty/],
    ["a missing closing parenthesis", `((!(ActionMatches{'${WRITE}'}))`, /ends where '\)' was expected/],
    ["an extra closing parenthesis", `(!(ActionMatches{'${WRITE}'})))`, /after a complete expression/],
    ["a missing operator between clauses", `(!(ActionMatches{'${WRITE}'})) (!(ActionMatches{'${DELETE}'}))`, /after a complete expression/],
    ["an unknown operator", `@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidMatches {${OWNER}}`, /not a supported operator/],
    ["an unknown qualifier", `@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForSomeValues:GuidEquals {${OWNER}}`, /qualifier/],
    ["a non-GUID for GuidEquals", `@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {Owner}`, /needs GUIDs/],
    ["an unquoted string for StringEquals", `@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEquals User`, /quoted strings/],
    ["a set without a ForAnyOf/ForAllOf qualifier", `@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] GuidEquals {${OWNER}, ${GROUP_1}}`, /one value, not a set/],
    ["an attribute role assignments do not have", `@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'logs'`, /not supported/],
    ["an attribute source other than Request/Resource", `@Principal[Microsoft.Directory/CustomSecurityAttributes/Id:Engineering_Project] StringEquals 'Alpine'`, /not supported/],
    ["an unterminated string", `!(ActionMatches{'${WRITE}})`, /unterminated/],
    ["a single &", `!(ActionMatches{'${WRITE}'}) & !(ActionMatches{'${DELETE}'})`, /doubled/],
    ["ActionMatches with an unquoted action", `!(ActionMatches{${WRITE}})`, /quoted actions/],
    ["a dangling OR", `!(ActionMatches{'${WRITE}'}) OR`, /ends where/],
  ])("refuses %s, saying where and what was expected", (_name, text, message) => {
    let error: unknown;
    try {
      parseCondition(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConditionSyntaxError);
    expect((error as Error).message).toMatch(message);
    expect((error as ConditionSyntaxError).position).toBeGreaterThanOrEqual(0);
  });
});

describe("ABAC conditions: evaluation", () => {
  const decide = (text: string, action: string, request: Record<string, string> = {}, resource: Record<string, string> = {}) =>
    evaluateCondition(parseCondition(text), { action, request, resource });

  it("constrains writes by the requested role and deletes by the existing assignment's role; other actions pass", () => {
    expect(decide(CONSTRAIN_ROLES, WRITE, { RoleDefinitionId: BACKUP_READER })).toBe(true);
    expect(decide(CONSTRAIN_ROLES, WRITE, { RoleDefinitionId: BACKUP_READER.toUpperCase() })).toBe(true);
    expect(decide(CONSTRAIN_ROLES, WRITE, { RoleDefinitionId: OWNER })).toBe(false);
    expect(decide(CONSTRAIN_ROLES, WRITE, {}, { RoleDefinitionId: BACKUP_READER })).toBe(false);
    expect(decide(CONSTRAIN_ROLES, DELETE, {}, { RoleDefinitionId: BACKUP_CONTRIBUTOR })).toBe(true);
    expect(decide(CONSTRAIN_ROLES, DELETE, { RoleDefinitionId: BACKUP_CONTRIBUTOR }, { RoleDefinitionId: OWNER })).toBe(false);
    expect(decide(CONSTRAIN_ROLES, "Microsoft.Compute/virtualMachines/write")).toBe(true);
  });

  it("with a PrincipalId clause, both the role and the principal must match", () => {
    expect(decide(ROLES_AND_GROUPS, WRITE, { RoleDefinitionId: BACKUP_READER, PrincipalId: GROUP_2 })).toBe(true);
    expect(decide(ROLES_AND_GROUPS, WRITE, { RoleDefinitionId: BACKUP_READER, PrincipalId: OTHER })).toBe(false);
    expect(decide(ROLES_AND_GROUPS, WRITE, { RoleDefinitionId: OWNER, PrincipalId: GROUP_1 })).toBe(false);
    expect(decide(ROLES_AND_GROUPS, DELETE, {}, { RoleDefinitionId: BACKUP_CONTRIBUTOR, PrincipalId: OTHER })).toBe(false);
  });

  it("string and negated operators, AND binding tighter than OR", () => {
    expect(decide(PRINCIPAL_TYPES, WRITE, { PrincipalType: "group" })).toBe(true);
    expect(decide(PRINCIPAL_TYPES, WRITE, { PrincipalType: "ServicePrincipal" })).toBe(false);
    expect(decide(EXCLUDE_OWNER, WRITE, { RoleDefinitionId: BACKUP_READER })).toBe(true);
    expect(decide(EXCLUDE_OWNER, WRITE, { RoleDefinitionId: OWNER })).toBe(false);
    // a OR b AND c = a OR (b AND c)
    const precedence = `ActionMatches{'x/read'} OR ActionMatches{'x/write'} AND ActionMatches{'x/delete'}`;
    expect(decide(precedence, "x/read")).toBe(true);
    expect(decide(precedence, "x/write")).toBe(false);
  });

  it("matches actions as RBAC does: whole string, any case, * for any run", () => {
    expect(actionPatternMatches("Microsoft.Compute/virtualMachines/*", "microsoft.compute/VIRTUALMACHINES/extensions/write")).toBe(true);
    expect(actionPatternMatches("*/read", "Microsoft.Compute/locations/operations/read")).toBe(true);
    expect(actionPatternMatches("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write")).toBe(true);
    expect(actionPatternMatches("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/readX")).toBe(false);
    expect(actionPatternMatches("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/instanceView/read")).toBe(false);
  });
});
