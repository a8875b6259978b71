// The infra, compiled and linted by the real Bicep compiler, then checked as ARM JSON: least
// privilege, no keys, the Event Grid filters, and app settings identical to what the code reads.
import { loadAppSettings } from "../../src/app/settings.js";
import { createEnforcerStore } from "../../src/store/tableStore.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { SETTINGS } from "../../src/config/settings.js";
import { LOGIN_ROLES } from "../../src/domain/roles.js";
import { ADDED_IN_AZURE, OMITTED_IN_AZURE, azureAppSettingNames, generatedSettingsJson } from "../../scripts/app-settings.mjs";
import { bicepPath } from "../../scripts/tools.mjs";
import { enforcerRolesJson, type CompiledTemplate } from "../../src/local/enforcerRoles.js";
import { evaluateCondition, parseCondition } from "../../src/local/emulator/abac-condition.js";
import {
  INFRA_DIR, allResources, bicepFiles, buildAll, guidsIn, lintAll, moduleDeployment, requireTool, resolveVariables,
  resourcesOfType, type ArmResource, type ArmTemplate, type BuildResult, type Json, type Located,
} from "./arm.js";
import { DeploymentFailure, evaluateArmValue, evaluateOutput, evaluateValue, evaluateVariable, type ArmValue } from "../../src/local/armExpression.js";

/** The ARM settings under test, with a storage connection so the one loader has everything it needs. */
const withStorage = (settings: Record<string, string | undefined>) => ({ AzureWebJobsStorage: "UseDevelopmentStorage=true", ...settings });
import { ENFORCER_MARKER } from "../../src/domain/assignmentName.js";

const ROLE = {
  storageBlobDataOwner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  storageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  storageQueueDataContributor: "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
  storageTableDataContributor: "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
  monitoringMetricsPublisher: "3913510d-42f4-4e42-8a64-420c390055eb",
};
const FORBIDDEN_ROLES = {
  // Its */read and Microsoft.Support/* are more than the app needs: the custom role replaces it.
  "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
  Owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  Contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
};
const LOGIN_GUIDS = Object.values(LOGIN_ROLES).map((r) => r.guid).sort();
const CUSTOM_ROLE_ACTIONS = [
  "Microsoft.Compute/virtualMachines/read",
  "Microsoft.Compute/virtualMachines/instanceView/read",
  "Microsoft.Compute/virtualMachines/write",
  "Microsoft.Compute/virtualMachines/extensions/read",
  "Microsoft.Compute/virtualMachines/extensions/write",
  "Microsoft.Compute/locations/operations/read",
  "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
  "Microsoft.Authorization/roleAssignments/read",
  "Microsoft.Authorization/roleAssignments/write",
  "Microsoft.Authorization/roleAssignments/delete",
  "Microsoft.ResourceGraph/resources/read",
  "Microsoft.Network/networkInterfaces/read",
  "Microsoft.Network/networkSecurityGroups/read",
  "Microsoft.Network/virtualNetworks/subnets/read",
];
const ALLOWED = ["a11ce000-0000-4000-8000-000000000001", "0b5e0000-0000-4000-8000-000000000003"];

function defaultOf(name: string): string {
  const spec = SETTINGS.find((s) => s.name === name);
  if (!spec) throw new Error(`no setting ${name}`);
  return spec.default;
}

/** Parameters whose default follows the cloud deployed to instead of the code's (public cloud) default. */
const CLOUD_AWARE_DEFAULTS: Record<string, string> = { armEndpoint: "[environment().resourceManager]", armAudience: "[environment().resourceManager]" };

/** POLICY_ALLOW_ARM64 -> policyAllowArm64: the Bicep parameter of a setting. */
function camel(settingName: string): string {
  return settingName.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function only(found: Located[], what: string): Located {
  expect(found, what).toHaveLength(1);
  return found[0]!;
}

function props(l: Located): Record<string, Json> {
  return (l.resource.properties ?? {}) as Record<string, Json>;
}

/** Which role a role assignment grants: a built-in GUID, or "custom" for the enforcer's own definition. */
function grantedRole(l: Located): string {
  const id = String(resolveVariables(props(l)["roleDefinitionId"], l.template));
  const guids = guidsIn(id);
  if (guids.length === 1) return guids[0]!;
  if (/Microsoft\.Authorization\/roleDefinitions', guid\(subscription\(\)\.id, 'aadlogin-enforcer-vm-operator'/.test(id)) return "custom";
  throw new Error(`unrecognised roleDefinitionId ${id}`);
}

describe("infra (Bicep compiled by the real compiler)", () => {
  requireTool("Bicep compiler", bicepPath(), (bicep) => {
    let build: BuildResult;
    let main: ArmTemplate;
    beforeAll(() => {
      build = buildAll(bicep);
      const m = build.templates.get("main.json");
      if (!m) throw new Error(`main.bicep did not compile:\n${build.diagnostics.join("\n")}`);
      main = m;
    });

    it("compiles every .bicep file without errors or warnings", () => {
      expect(build.diagnostics).toEqual([]);
      expect(build.status).toBe(0);
      const expected = bicepFiles().map((f) => f.slice(INFRA_DIR.length + 1).replace(/\.bicep$/, ".json"));
      expect([...build.templates.keys()].sort()).toEqual(expected);
      expect(expected).toContain("main.json");
    });

    it("lints clean (infra/bicepconfig.json rules; suppressions are #disable-next-line with a reason)", () => {
      const { findings } = lintAll(bicep);
      expect(findings.map((f) => `${f.where} ${f.level} ${f.rule}: ${f.message}`)).toEqual([]);
    });

    it("grants exactly the expected roles and nothing else, each named guid(scope, principal, role)", () => {
      const assignments = resourcesOfType(main, "Microsoft.Authorization/roleAssignments");
      const granted = assignments.map(grantedRole).sort();
      expect(granted).toEqual(
        ["custom", ROLE.storageBlobDataOwner, ROLE.storageQueueDataContributor, ROLE.storageTableDataContributor, ROLE.storageBlobDataContributor, ROLE.monitoringMetricsPublisher].sort(),
      );
      for (const a of assignments) {
        const name = String(resolveVariables(a.resource.name, a.template));
        const roleDefinitionId = String(resolveVariables(props(a)["roleDefinitionId"], a.template)).replace(/^\[|\]$/g, "");
        const principalId = String(props(a)["principalId"]).replace(/^\[|\]$/g, "");
        expect(name.startsWith("[guid("), name).toBe(true);
        expect(name, "name includes the principal").toContain(principalId);
        expect(name, "name includes the role definition").toContain(roleDefinitionId);
        expect(props(a)["principalType"]).toBe("ServicePrincipal");
      }
    });

    it("has no Owner, Contributor or User Access Administrator anywhere", () => {
      for (const [file, text] of build.texts) {
        for (const [role, guid] of Object.entries(FORBIDDEN_ROLES)) {
          expect(text.toLowerCase().includes(guid), `${role} (${guid}) in ${file}`).toBe(false);
        }
      }
    });

    it("assigns the custom role only with the ABAC condition: writes of the two login roles for allowed principals, deletes of the two login roles", () => {
      const assignment = only(resourcesOfType(main, "Microsoft.Authorization/roleAssignments").filter((a) => grantedRole(a) === "custom"), "custom role assignments");
      expect(props(assignment)["conditionVersion"]).toBe("2.0");
      const roles = build.templates.get("app/enforcer-roles.json")!;
      const conditionFor = (allowedPrincipals: string[]) =>
        String(evaluateArmValue(props(assignment)["condition"] as string, { parameters: { allowedPrincipals }, variables: roles.variables as Record<string, ArmValue> }));
      expect(conditionFor(ALLOWED)).toBe(
        `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${LOGIN_ROLES.admin.guid}, ${LOGIN_ROLES.user.guid}} ` +
          `AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${ALLOWED.join(", ")}})) AND ` +
          `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${LOGIN_ROLES.admin.guid}, ${LOGIN_ROLES.user.guid}}))`,
      );
      // What Azure (and the emulator, which uses this same evaluator) decides with it:
      const allows = (allowedPrincipals: string[], action: string, request: Record<string, string>, resource: Record<string, string> = {}) =>
        evaluateCondition(parseCondition(conditionFor(allowedPrincipals)), { action, request, resource });
      const write = "Microsoft.Authorization/roleAssignments/write";
      const del = "Microsoft.Authorization/roleAssignments/delete";
      expect(allows(ALLOWED, write, { RoleDefinitionId: LOGIN_ROLES.admin.guid, PrincipalId: ALLOWED[0]! })).toBe(true);
      expect(allows(ALLOWED, write, { RoleDefinitionId: LOGIN_ROLES.admin.guid, PrincipalId: "ba4d0000-0000-4000-8000-000000000005" })).toBe(false);
      expect(allows(ALLOWED, write, { RoleDefinitionId: FORBIDDEN_ROLES.Owner, PrincipalId: ALLOWED[0]! })).toBe(false);
      // Revocation stays possible for a principal no longer on the allow-list; other roles cannot be removed.
      expect(allows(ALLOWED, del, {}, { RoleDefinitionId: LOGIN_ROLES.user.guid, PrincipalId: "ba4d0000-0000-4000-8000-000000000005" })).toBe(true);
      expect(allows(ALLOWED, del, {}, { RoleDefinitionId: FORBIDDEN_ROLES.Owner, PrincipalId: ALLOWED[0]! })).toBe(false);
      // An empty allow-list: no write at all (ABAC has no empty set).
      expect(allows([], write, { RoleDefinitionId: LOGIN_ROLES.admin.guid, PrincipalId: ALLOWED[0]! })).toBe(false);
      expect(allows([], "Microsoft.Compute/virtualMachines/write", {})).toBe(true);
      // The allow-list the condition gets is the app's ACCESS_ALLOWED_PRINCIPALS parameter.
      const rolesModule = moduleDeployment(main, "aadlogin-roles-");
      expect((rolesModule.properties?.["parameters"] as Record<string, { value: Json }>)["allowedPrincipals"]).toEqual({ value: "[parameters('allowedPrincipals')]" });
    });

    it("infra/app/enforcer-roles.generated.json is what the compiled enforcer-roles.bicep gives (npm run gen:roles)", () => {
      const committed = readFileSync(join(INFRA_DIR, "app", "enforcer-roles.generated.json"), "utf8");
      expect(committed).toBe(enforcerRolesJson(build.templates.get("app/enforcer-roles.json") as CompiledTemplate));
    });

    it("defines the custom role with exactly the compute actions the app uses, assignable in its subscription only", () => {
      const def = only(resourcesOfType(main, "Microsoft.Authorization/roleDefinitions"), "custom role definitions");
      const permissions = props(def)["permissions"] as { actions: Json; notActions: Json[]; dataActions: Json[]; notDataActions: Json[] }[];
      expect(permissions).toHaveLength(1);
      const actions = resolveVariables(permissions[0]!.actions, def.template);
      expect(actions).toEqual(CUSTOM_ROLE_ACTIONS);
      expect(permissions[0]!.notActions).toEqual([]);
      expect(permissions[0]!.dataActions).toEqual([]);
      expect(props(def)["assignableScopes"]).toEqual(["[subscription().id]"]);
      expect(props(def)["type"]).toBe("CustomRole");
    });

    it("scopes the app's storage roles to its own account and the dead-letter role to the dead-letter container", () => {
      const assignments = resourcesOfType(main, "Microsoft.Authorization/roleAssignments");
      for (const a of assignments) {
        const role = grantedRole(a);
        if (role === ROLE.storageBlobDataOwner || role === ROLE.storageQueueDataContributor || role === ROLE.storageTableDataContributor) {
          expect(a.resource.scope).toBe("[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]");
        } else if (role === ROLE.storageBlobDataContributor) {
          expect(a.resource.scope).toBe("[resourceId('Microsoft.Storage/storageAccounts/blobServices/containers', parameters('storageAccountName'), 'default', parameters('deadLetterContainerName'))]");
          expect(props(a)["principalId"]).toBe("[parameters('topicPrincipalId')]");
        } else if (role === ROLE.monitoringMetricsPublisher) {
          expect(a.resource.scope).toBe("[resourceId('Microsoft.Insights/components', parameters('applicationInsightsName'))]");
        } else {
          // The custom role applies to the watched subscription (module scope).
          expect(a.resource.scope).toBeUndefined();
        }
      }
      const roles = moduleDeployment(main, "aadlogin-roles-");
      expect(roles.subscriptionId).toBe("[variables('watched')[copyIndex()]]");
      expect(roles.copy?.count).toBe("[length(variables('watched'))]");
    });

    it("has a keyless, TLS 1.2, HTTPS-only storage account with the app's tables, queues and containers", () => {
      const account = only(resourcesOfType(main, "Microsoft.Storage/storageAccounts"), "storage accounts");
      expect(props(account)["allowSharedKeyAccess"]).toBe(false);
      expect(props(account)["minimumTlsVersion"]).toBe("TLS1_2");
      expect(props(account)["supportsHttpsTrafficOnly"]).toBe(true);
      expect(props(account)["allowBlobPublicAccess"]).toBe(false);

      const storageModule = moduleDeployment(main, "storage");
      const params = storageModule.properties?.["parameters"] as Record<string, { value: Json }>;
      // The names the code derives from its settings' defaults (TABLE_PREFIX, RECONCILE_QUEUE_NAME).
      expect(resolveVariables(params["tablePrefix"]!.value, main)).toBe(defaultOf("TABLE_PREFIX"));
      expect(resolveVariables(params["reconcileQueueName"]!.value, main)).toBe(defaultOf("RECONCILE_QUEUE_NAME"));

      const storageTemplate = storageModule.properties!.template!;
      // Exactly the tables the app uses, taken from the store itself so the two cannot drift.
      const appTables = Object.values(createEnforcerStore({ connectionString: "UseDevelopmentStorage=true", tablePrefix: "P" }).tableNames);
      expect(storageTemplate.variables?.["tableNames"]).toEqual(appTables.map((t) => `[format('{0}${t.slice(1)}', parameters('tablePrefix'))]`));
      expect(appTables).toContain("PLeases");
      const queues = resourcesOfType(main, "Microsoft.Storage/storageAccounts/queueServices/queues").map((q) => q.resource.name);
      expect(queues).toEqual([
        "[format('{0}/{1}/{2}', parameters('name'), 'default', parameters('reconcileQueueName'))]",
        "[format('{0}/{1}/{2}', parameters('name'), 'default', format('{0}-poison', parameters('reconcileQueueName')))]",
      ]);
      const containers = resourcesOfType(main, "Microsoft.Storage/storageAccounts/blobServices/containers").map((c) => c.resource.name);
      expect(containers).toHaveLength(2);
    });

    it("runs the app on Flex Consumption, Node 22, system identity, HTTPS only, TLS 1.2, identity-based deployment storage", () => {
      const plan = only(resourcesOfType(main, "Microsoft.Web/serverfarms"), "plans");
      expect(plan.resource["sku"]).toEqual({ name: "FC1", tier: "FlexConsumption" });
      const site = only(resourcesOfType(main, "Microsoft.Web/sites"), "sites");
      expect(site.resource["identity"]).toEqual({ type: "SystemAssigned" });
      expect(props(site)["httpsOnly"]).toBe(true);
      expect((props(site)["siteConfig"] as Record<string, Json>)["minTlsVersion"]).toBe("1.2");
      const config = props(site)["functionAppConfig"] as { runtime: Json; deployment: { storage: { type: string; authentication: Json } } };
      expect(config.runtime).toEqual({ name: "node", version: "22" });
      expect(config.deployment.storage.type).toBe("blobContainer");
      expect(config.deployment.storage.authentication).toEqual({ type: "SystemAssignedIdentity" });
    });

    it("sets exactly the app settings the code reads (src/config/settings.ts, mapped by scripts/app-settings.mjs)", () => {
      const config = only(resourcesOfType(main, "Microsoft.Web/sites/config"), "site config resources");
      expect(config.resource.name).toMatch(/'appsettings'\)\]$/);
      const settings = props(config);
      expect(Object.keys(settings)).toEqual(azureAppSettingNames(SETTINGS));
      for (const omitted of Object.keys(OMITTED_IN_AZURE)) expect(settings).not.toHaveProperty(omitted);
      for (const added of Object.keys(ADDED_IN_AZURE)) expect(settings).toHaveProperty(added);
      // Identity-based storage in every cloud: managed identity plus service URIs built from the
      // cloud's storage suffix; never an account name (public Azure only), never a key.
      expect(settings["AzureWebJobsStorage__credential"]).toBe("managedidentity");
      for (const service of ["blob", "queue", "table"]) {
        expect(settings[`AzureWebJobsStorage__${service}ServiceUri`], service).toBe(
          `[format('https://{0}.${service}.{1}', parameters('storageAccountName'), environment().suffixes.storage)]`,
        );
      }
      expect(settings).not.toHaveProperty("AzureWebJobsStorage__accountName");
      expect(JSON.stringify(settings)).not.toMatch(/listKeys|AccountKey/i);
      // The loop guard's principal id is the site's own identity, read after the site exists.
      expect(settings["ENFORCER_PRINCIPAL_ID"]).toBe("[reference(resourceId('Microsoft.Web/sites', parameters('name')), '2024-04-01', 'full').identity.principalId]");
    });

    it("defaults every setting parameter to the code's default and passes it to its app setting", () => {
      const fn = build.templates.get("app/function.json")!;
      const config = only(resourcesOfType(fn, "Microsoft.Web/sites/config"), "site config resources");
      let checked = 0;
      for (const [file, template] of [["main.json", main], ["app/function.json", fn]] as const) {
        for (const spec of SETTINGS) {
          const param = template.parameters?.[camel(spec.name)];
          if (!param || param.defaultValue === undefined) continue;
          const name = camel(spec.name);
          const value = resolveVariables(param.defaultValue, template);
          if (name in CLOUD_AWARE_DEFAULTS) {
            expect(value, `${file} ${name}`).toBe(CLOUD_AWARE_DEFAULTS[name]);
            continue;
          }
          if (Array.isArray(value)) {
            // List settings are arrays in Bicep, comma-joined into the app setting.
            expect(value.join(","), `${file} ${name}`).toBe(spec.default);
            if (template === fn) expect(props(config)[spec.name], spec.name).toBe(`[join(parameters('${name}'), ',')]`);
          } else {
            expect(value, `${file} ${name}`).toBe(spec.default);
            if (template === fn) expect(props(config)[spec.name], spec.name).toBe(`[parameters('${name}')]`);
          }
          checked++;
        }
      }
      // Not vacuous: the operator-facing settings are parameters in both files.
      expect(checked).toBeGreaterThanOrEqual(25);
    });

    it("keeps infra/app/settings.generated.json in step with src/config/settings.ts", () => {
      const committed = readFileSync(join(INFRA_DIR, "app", "settings.generated.json"), "utf8");
      expect(committed, "stale: run `npx tsx scripts/gen-settings.ts`").toBe(generatedSettingsJson(SETTINGS));
    });

    it("deploys in report mode unless told otherwise", () => {
      expect(main.parameters?.["enforcerMode"]?.defaultValue).toBe("report");
      expect(main.parameters?.["enforcerMode"]?.allowedValues).toEqual(["report", "enforce"]);
      expect(defaultOf("ENFORCER_MODE")).toBe("report");
      const fn = build.templates.get("app/function.json")!;
      expect(fn.parameters?.["enforcerMode"]?.defaultValue).toBe("report");
      const azdParams = JSON.parse(readFileSync(join(INFRA_DIR, "main.parameters.json"), "utf8")) as { parameters: Record<string, { value: Json }> };
      expect(azdParams.parameters["enforcerMode"]?.value).toBe("${ENFORCER_MODE=report}");
      const fnModule = moduleDeployment(main, "function");
      const passed = (fnModule.properties?.["parameters"] as Record<string, { value: Json }>)["enforcerMode"]?.value;
      expect(passed).toBe("[parameters('enforcerMode')]");
    });

    it("subscribes onResourceWrite to VM and tag writes/deletes only, with retries and dead-lettering", () => {
      const topic = only(resourcesOfType(main, "Microsoft.EventGrid/systemTopics"), "system topics");
      expect(props(topic)["topicType"]).toBe("Microsoft.Resources.Subscriptions");
      expect(props(topic)["source"]).toBe("[subscription().id]");
      expect(topic.resource["identity"]).toEqual({ type: "SystemAssigned" });

      const sub = only(resourcesOfType(main, "Microsoft.EventGrid/systemTopics/eventSubscriptions"), "event subscriptions");
      const p = props(sub) as Record<string, any>;
      expect(p["destination"].endpointType).toBe("AzureFunction");
      expect(p["destination"].properties.resourceId).toBe("[format('{0}/functions/onResourceWrite', parameters('functionAppId'))]");
      expect(p["filter"].includedEventTypes).toEqual(["Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceDeleteSuccess"]);
      expect(p["filter"].advancedFilters).toEqual([
        {
          operatorType: "StringIn",
          key: "data.operationName",
          values: ["Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/delete", "Microsoft.Resources/tags/write"],
        },
        { operatorType: "StringNotContains", key: "subject", values: ["/extensions/", "/providers/Microsoft.Authorization/"] },
      ]);
      expect(p["retryPolicy"]).toEqual({ maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 });
      expect(p["deadLetterWithResourceIdentity"].identity).toEqual({ type: "SystemAssigned" });
      expect(p["deadLetterWithResourceIdentity"].deadLetterDestination.endpointType).toBe("StorageBlob");
      expect(p["deadLetterWithResourceIdentity"].deadLetterDestination.properties.blobContainerName).toBe("[parameters('deadLetterContainerName')]");

      // One topic and one event subscription per watched subscription, in that subscription.
      for (const part of ["aadlogin-events-", "aadlogin-eventsub-"]) {
        const m = moduleDeployment(main, part);
        expect(m.subscriptionId).toBe("[variables('watched')[copyIndex()]]");
        expect(m.copy?.count).toBe("[length(variables('watched'))]");
      }
      // Event Grid refuses a function that is not deployed yet: created once the code is published.
      expect(moduleDeployment(main, "aadlogin-eventsub-").condition).toBe("[parameters('eventSubscriptionsEnabled')]");
      expect(main.variables?.["watched"]).toBe("[if(empty(parameters('watchedSubscriptionIds')), createArray(subscription().subscriptionId), parameters('watchedSubscriptionIds'))]");
    });

    it("uses a subscription's existing system topic when one is given (referenced, not modified), else creates one", () => {
      // Azure allows one system topic per source: a second one for a subscription fails the deployment.
      expect(main.parameters?.["existingSystemTopics"]).toEqual(expect.objectContaining({ type: "object", defaultValue: {} }));
      // Per watched subscription: listed -> its resource group and name; not listed -> ours.
      const topics = (main.variables?.["copy"] as { name: string; count: Json; input: Json }[]).find((c) => c.name === "topics");
      expect(topics?.count).toBe("[length(variables('watched'))]");
      const input = String(topics?.input);
      const entry = "parameters('existingSystemTopics')[variables('watched')[copyIndex('topics')]]";
      expect(input).toContain(
        `if(contains(parameters('existingSystemTopics'), variables('watched')[copyIndex('topics')]), ` +
          `createObject('useExisting', true(), 'resourceGroupName', coalesce(tryGet(${entry}, 'resourceGroupName'), fail(`,
      );
      expect(input).toContain(`'name', coalesce(tryGet(${entry}, 'name'), fail(`);
      expect(input).toContain("createObject('useExisting', false(), 'resourceGroupName', variables('eventsResourceGroupName'), 'name', variables('topicName'))");
      // A key that is not a watched subscription (a typo would mean creating a second topic) stops the deployment.
      expect(input.startsWith("[if(not(empty(variables('unwatchedTopicKeys'))), fail(format('existingSystemTopics names subscriptions that are not watched")).toBe(true);
      expect(main.variables?.["unwatchedTopicKeys"]).toBe(
        "[filter(objectKeys(parameters('existingSystemTopics')), lambda('key', not(contains(map(variables('watched'), lambda('s', toLower(lambdaVariables('s')))), toLower(lambdaVariables('key'))))))]",
      );
      const sources = moduleDeployment(main, "aadlogin-events-");
      const passed = sources.properties?.["parameters"] as Record<string, { value: Json }>;
      expect(passed["useExistingTopic"]?.value).toBe("[variables('topics')[copyIndex()].useExisting]");
      expect(passed["resourceGroupName"]?.value).toBe("[variables('topics')[copyIndex()].resourceGroupName]");
      expect(passed["topicName"]?.value).toBe("[variables('topics')[copyIndex()].name]");
      // The event subscription goes where the topic is, whichever it is.
      const eventSub = moduleDeployment(main, "aadlogin-eventsub-");
      expect(eventSub.resourceGroup).toBe("[variables('topics')[copyIndex()].resourceGroupName]");
      expect((eventSub.properties?.["parameters"] as Record<string, { value: Json }>)["topicName"]?.value).toBe("[variables('topics')[copyIndex()].name]");

      // Shape 1 (created): the resource group and the topic exist only when no topic is given.
      const source = build.templates.get("app/event-source.json")!;
      const notExisting = "[not(parameters('useExistingTopic'))]";
      const group = only(resourcesOfType(source, "Microsoft.Resources/resourceGroups"), "event resource groups");
      expect(group.resource.condition).toBe(notExisting);
      expect(moduleDeployment(source, "aadlogin-topic-").condition).toBe(notExisting);
      // Shape 2 (existing): nothing is written to it; its identity writes the dead letters.
      expect(resourcesOfType(source, "Microsoft.EventGrid/systemTopics")).toHaveLength(1); // the created one, inside the module
      const principal = String(source.outputs?.["topicPrincipalId"]?.value);
      expect(principal).toMatch(
        /^\[if\(parameters\('useExistingTopic'\), coalesce\(tryGet\(tryGet\(if\(parameters\('useExistingTopic'\), reference\(extensionResourceId\(format\('\/subscriptions\/\{0\}\/resourceGroups\/\{1\}', subscription\(\)\.subscriptionId, parameters\('resourceGroupName'\)\), 'Microsoft\.EventGrid\/systemTopics', parameters\('topicName'\)\), '[0-9-]+', 'full'\), null\(\)\), 'identity'\), 'principalId'\), fail\(/,
      );
      // No identity on the existing topic: stop, and say how to add one.
      expect(principal).toContain("--identity systemassigned");
      expect(principal).toMatch(/, reference\(.*'Microsoft\.Resources\/deployments', format\('aadlogin-topic-\{0\}'.*\.outputs\.principalId\.value\)\]$/);
      // The dead-letter role goes to whichever topic's identity the source module reports.
      const deadLetter = moduleDeployment(main, "aadlogin-deadletter-");
      expect(JSON.stringify(deadLetter.properties?.["parameters"])).toContain("outputs.topicPrincipalId.value");
    });

    it("evaluated: each watched subscription gets its existing topic or a new one; bad entries stop the deployment", () => {
      const HOME = "00000000-0000-0000-0000-0000000000aa";
      const OTHER = "00000000-0000-0000-0000-0000000000bb";
      const topicsFor = (parameters: Record<string, Json>) =>
        evaluateVariable({ template: main, subscriptionId: HOME, parameters: { environmentName: "prod", location: "westeurope", ...parameters } }, "topics");
      const ours = { useExisting: false, resourceGroupName: "rg-prod-aadlogin-events", name: "aadlogin-prod-subscription-events" };
      const defaultTopic = { resourceGroupName: "Default-EventGrid", name: "sub-events-1a2b" };

      // Shape 1: nothing given, every watched subscription (by default the home one) gets ours.
      expect(topicsFor({})).toEqual([ours]);
      expect(topicsFor({ watchedSubscriptionIds: [HOME, OTHER] })).toEqual([ours, ours]);
      // Shape 2: the listed subscription's topic is used where it is; the others still get ours.
      expect(topicsFor({ watchedSubscriptionIds: [HOME, OTHER], existingSystemTopics: { [OTHER]: defaultTopic } })).toEqual([
        ours,
        { useExisting: true, ...defaultTopic },
      ]);
      // The home subscription when none is listed; keys in any case.
      expect(topicsFor({ existingSystemTopics: { [HOME.toUpperCase()]: defaultTopic } })).toEqual([{ useExisting: true, ...defaultTopic }]);

      // A key that is not watched (typo, or removed from the list): refused, naming it.
      expect(() => topicsFor({ watchedSubscriptionIds: [HOME], existingSystemTopics: { [OTHER]: defaultTopic } })).toThrow(DeploymentFailure);
      expect(() => topicsFor({ watchedSubscriptionIds: [HOME], existingSystemTopics: { [OTHER]: defaultTopic } })).toThrow(
        `existingSystemTopics names subscriptions that are not watched: ${OTHER}.`,
      );
      expect(() => topicsFor({ existingSystemTopics: { [HOME]: { name: "t" } } })).toThrow(`existingSystemTopics["${HOME}"] needs "resourceGroupName"`);
      expect(() => topicsFor({ existingSystemTopics: { [HOME]: { resourceGroupName: "g" } } })).toThrow(`existingSystemTopics["${HOME}"] needs "name"`);

      // The topic's identity (dead-lettering): the existing topic's own, or the new topic's; an
      // existing topic without a system-assigned identity stops the deployment and says how to fix it.
      const source = build.templates.get("app/event-source.json")!;
      const principalOf = (useExistingTopic: boolean, existing: Json) =>
        evaluateOutput(
          {
            template: source,
            subscriptionId: OTHER,
            parameters: { location: "westeurope", tags: {}, resourceGroupName: "Default-EventGrid", topicName: "sub-events-1a2b", useExistingTopic },
            reference: (id) =>
              id === `/subscriptions/${OTHER}/resourceGroups/Default-EventGrid/providers/Microsoft.EventGrid/systemTopics/sub-events-1a2b`
                ? existing
                : { outputs: { principalId: { value: "new-topic-principal" } } },
          },
          "topicPrincipalId",
        );
      expect(principalOf(true, { identity: { type: "SystemAssigned", principalId: "existing-principal" } })).toBe("existing-principal");
      expect(principalOf(false, null)).toBe("new-topic-principal");
      expect(() => principalOf(true, { properties: {} })).toThrow(
        `has no system-assigned identity, which dead-lettering needs. Enable it: az eventgrid system-topic update --subscription ${OTHER} -g Default-EventGrid -n sub-events-1a2b --identity systemassigned`,
      );
    });

    it.each([
      ["public Azure", { resourceManager: "https://management.azure.com/", suffixes: { storage: "core.windows.net" } }],
      ["Azure Government", { resourceManager: "https://management.usgovcloudapi.net/", suffixes: { storage: "core.usgovcloudapi.net" } }],
      ["Azure China", { resourceManager: "https://management.chinacloudapi.cn/", suffixes: { storage: "core.chinacloudapi.cn" } }],
    ] as const)("evaluated in %s: the app settings the infra writes lead the code to that cloud's storage and ARM", (_cloud, environment) => {
      const fn = build.templates.get("app/function.json")!;
      const config = props(only(resourcesOfType(fn, "Microsoft.Web/sites/config"), "site config resources"));
      const ctx = { template: fn, subscriptionId: "s", environment, parameters: { storageAccountName: "stabc" } };
      const names = ["AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__tableServiceUri", "ARM_ENDPOINT", "ARM_AUDIENCE"];
      const settings = Object.fromEntries(names.map((n) => [n, String(evaluateValue(ctx, config[n]!))]));
      const suffix = environment.suffixes.storage;
      expect(settings["AzureWebJobsStorage__blobServiceUri"]).toBe(`https://stabc.blob.${suffix}`);
      const credential = { getToken: async () => null };
      expect(loadAppSettings(settings, credential).store).toMatchObject({ tableEndpoint: `https://stabc.table.${suffix}` });
      expect(loadAppSettings(settings, credential).queue).toMatchObject({ queueEndpoint: `https://stabc.queue.${suffix}` });
      const arm = loadAppSettings(withStorage(settings), credential).arm;
      const resourceManager = environment.resourceManager.replace(/\/$/, "");
      expect(arm.endpoint).toBe(resourceManager);
      expect(arm.scope).toBe(`${resourceManager}/.default`);
    });

    it("the README's cleanup for a subscription leaving the watched list removes what the infra left there, by the infra's names", () => {
      const readme = readFileSync(join(INFRA_DIR, "..", "README.md"), "utf8");
      const section = (title: string) => {
        const start = readme.indexOf(`\n### ${title}\n`);
        expect(start, `README section "${title}"`).toBeGreaterThan(0);
        // Up to the next heading (## or ###), not a "# comment" line of a shell block.
        const next = /\n#{2,3} /.exec(readme.slice(start + title.length + 6));
        return readme.slice(start, next ? start + title.length + 6 + next.index : undefined);
      };
      // Names as the deployment computes them, for environment "$ENV" (the shell variable the commands use).
      const ctx = { template: main, subscriptionId: "s", parameters: { environmentName: "$ENV", location: "westeurope" } };
      const eventsGroup = String(evaluateVariable(ctx, "eventsResourceGroupName"));
      const topic = String(evaluateVariable(ctx, "topicName"));
      const deadLetterContainer = String(evaluateVariable(ctx, "deadLetterContainerName"));
      const eventSubscription = String(build.templates.get("app/event-subscription.json")!.parameters?.["name"]?.defaultValue);
      expect([eventsGroup, topic, deadLetterContainer, eventSubscription]).toEqual([
        "rg-$ENV-aadlogin-events", "aadlogin-$ENV-subscription-events", "eventgrid-deadletter", "aadlogin-enforcer",
      ]);

      const cleanup = section("Remove a subscription from the watched list");
      // The app's roles at the subscription, and its custom role definition there.
      expect(cleanup).toContain('az role assignment delete --assignee "$APP" --scope "/subscriptions/$S"');
      expect(cleanup).toMatch(/az role definition delete --scope "\/subscriptions\/\$S"/);
      // The topic the enforcer created (with its event subscription), or only its event subscription on an existing topic.
      expect(cleanup).toContain(`az group delete --subscription "$S" --name "${eventsGroup}" --yes`);
      expect(cleanup).toContain(`-g "${eventsGroup}" \\\n  -n "${topic}" --query identity.principalId`);
      expect(cleanup).toMatch(new RegExp(`az eventgrid system-topic event-subscription delete [^\\n]*\\\\\\n\\s*--system-topic-name <topic> --name ${eventSubscription} --yes`));
      // The topic identity's role on the dead-letter container.
      expect(cleanup).toContain(`/blobServices/default/containers/${deadLetterContainer}"`);
      expect(cleanup).toContain('az role assignment delete --assignee "$TOPIC" --scope "$DEADLETTER"');
      // The users' login grants are listed by the marker the app writes, not deleted.
      expect(cleanup).toContain(`starts_with(description, '${ENFORCER_MARKER}')`);

      const propagation = section("First deployment: role propagation");
      expect(propagation).toMatch(/up to about 10 minutes/);
      expect(propagation).toMatch(/run \*\*`azd up` again\*\*/);
    });

    it("sends telemetry with Entra ID only: no key-based ingestion, the app's identity publishes", () => {
      const component = only(resourcesOfType(main, "Microsoft.Insights/components"), "Application Insights components");
      expect(props(component)["DisableLocalAuth"]).toBe(true);
      const settings = props(only(resourcesOfType(main, "Microsoft.Web/sites/config"), "site config resources"));
      // System-assigned identity: no ClientId (that form names a user-assigned identity).
      expect(settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]).toBe("Authorization=AAD");
      const publisher = only(
        resourcesOfType(main, "Microsoft.Authorization/roleAssignments").filter((a) => grantedRole(a) === ROLE.monitoringMetricsPublisher),
        "Monitoring Metrics Publisher assignments",
      );
      expect(props(publisher)["principalId"]).toBe("[parameters('principalId')]");
      const access = moduleDeployment(main, "monitoring-access");
      expect((access.properties?.["parameters"] as Record<string, { value: Json }>)["principalId"]?.value).toMatch(/outputs\.principalId\.value/);
    });

    it("sets only what Microsoft's Flex Consumption sample sets in siteConfig (no ftpsState)", () => {
      const site = only(resourcesOfType(main, "Microsoft.Web/sites"), "sites");
      expect(props(site)["siteConfig"]).toEqual({ minTlsVersion: "1.2" });
    });

    it("outputs the function app name and its identity's principal id", () => {
      expect(main.outputs?.["AZURE_FUNCTION_APP_NAME"]?.value).toMatch(/outputs\.name\.value/);
      expect(main.outputs?.["ENFORCER_PRINCIPAL_ID"]?.value).toMatch(/outputs\.principalId\.value/);
    });

    it("deploys nothing unexpected", () => {
      const types = [...new Set(allResources(main).map((l) => l.resource.type))].sort();
      expect(types).toEqual(
        [
          "Microsoft.Authorization/roleAssignments",
          "Microsoft.Authorization/roleDefinitions",
          "Microsoft.EventGrid/systemTopics",
          "Microsoft.EventGrid/systemTopics/eventSubscriptions",
          "Microsoft.Insights/components",
          "Microsoft.OperationalInsights/workspaces",
          "Microsoft.Resources/deployments",
          "Microsoft.Resources/resourceGroups",
          "Microsoft.Storage/storageAccounts",
          "Microsoft.Storage/storageAccounts/blobServices",
          "Microsoft.Storage/storageAccounts/blobServices/containers",
          "Microsoft.Storage/storageAccounts/queueServices",
          "Microsoft.Storage/storageAccounts/queueServices/queues",
          "Microsoft.Storage/storageAccounts/tableServices",
          "Microsoft.Storage/storageAccounts/tableServices/tables",
          "Microsoft.Web/serverfarms",
          "Microsoft.Web/sites",
          "Microsoft.Web/sites/config",
        ].sort(),
      );
    });
  });
});

// Keep the unused-type import honest for readers: ArmResource is the shape the helpers return.
export type { ArmResource };
